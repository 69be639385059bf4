// The web viewer from Node: its bundle (esbuild, through scripts/bundle.mjs), a self-contained
// HTML file with surfaces embedded (for reports), and a small local HTTP server for `losscape view`.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle } from '../../scripts/bundle.mjs';
import type { SurfaceFile } from '../landscape/surface.js';
import type { FigureOptions } from '../render/figure.js';
import type { NamedSurface } from '../render/surface-check.js';
import { viewerPage } from '../viewer/page.js';
import { namedSurfaces, readSurfaceFile } from './render.js';

const VIEWER_ENTRY = fileURLToPath(new URL('../viewer/main.ts', import.meta.url));

let cached: Promise<{ text: string; inputs: string[] }> | null = null;

/** The viewer page's script (an ES module) and the source files it was built from; built once per process. */
export function buildViewerBundleWithInputs(): Promise<{ text: string; inputs: string[] }> {
  cached ??= bundle(VIEWER_ENTRY, null, 'browser').catch((e: unknown) => {
    cached = null; // a failed build is not kept: the next call tries again
    throw e;
  });
  return cached;
}

/** The viewer page's script (an ES module), built once per process. */
export async function buildViewerBundle(): Promise<string> {
  return (await buildViewerBundleWithInputs()).text;
}

/**
 * A self-contained viewer page (script and surfaces inline, nothing fetched): open it from disk
 * or embed it in a report (e.g. an <iframe srcdoc> or a file beside the report).
 */
export async function viewerHtml(surfaces: Array<NamedSurface | SurfaceFile>, options: FigureOptions = {}, title?: string): Promise<string> {
  const data = { surfaces: namedSurfaces(surfaces), options };
  return viewerPage({ script: { inline: await buildViewerBundle() }, data, title });
}

export interface ViewerServer {
  /** the page's address with the files in ?files= */
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Serves the viewer on host:port (port 0: a free one) with the given surface files, which are
 * checked first and served (read afresh on each request) under /surfaces/; nothing else on disk is.
 */
export async function serveViewer(files: string[], opts: { port?: number; host?: string } = {}): Promise<ViewerServer> {
  const port = opts.port ?? 0;
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new Error(`--port: expected 0 to 65535, got ${port}`);
  const host = opts.host ?? '127.0.0.1';
  const named = files.map((f) => readSurfaceFile(f).name);
  // served names: base names, numbered where two files share one
  const served = new Map(files.map((f, i) => [encodeURIComponent(named.indexOf(named[i]!) === i ? named[i]! : `${i}-${named[i]}`), path.resolve(f)]));
  const script = await buildViewerBundle();
  const page = viewerPage({ script: { src: 'viewer.js' } });
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const send = (status: number, type: string, body: string | Buffer) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (url.pathname === '/') return send(200, 'text/html; charset=utf-8', page);
    if (url.pathname === '/viewer.js') return send(200, 'text/javascript; charset=utf-8', script);
    if (url.pathname === '/favicon.ico') return send(204, 'text/plain', '');
    const file = url.pathname.startsWith('/surfaces/') ? served.get(url.pathname.slice('/surfaces/'.length)) : undefined;
    if (!file) return send(404, 'text/plain', 'not found');
    try {
      send(200, 'application/json', readFileSync(file));
    } catch (e) {
      send(500, 'text/plain', `${file}: ${(e as Error).message}`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new Error(e.code === 'EADDRINUSE' ? `--port ${port}: address in use` : `viewer server: ${e.message}`)));
    server.listen(port, host, resolve);
  });
  const actual = (server.address() as { port: number }).port;
  const query = served.size ? `?files=${[...served.keys()].map((k) => `surfaces/${k}`).join(',')}` : '';
  return {
    url: `http://${host}:${actual}/${query}`,
    port: actual,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // a browser's keep-alive connections would hold close() open
      }),
  };
}
