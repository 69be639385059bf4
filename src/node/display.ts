// A headless WebGL context for Node (the `gl` package), and the X display it needs. When DISPLAY
// is unset, an Xvfb server is started on a free display number for the life of the process
// (killed on exit; started with -terminate, so it also ends when this process's connection drops).
// Without Xvfb or without the `gl` package the error says how to get them.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

let xvfb: ChildProcess | null = null;

const HOW = 'install Xvfb (apt-get install xvfb) or run under `xvfb-run -a`';

/** Starts Xvfb :n and resolves when its socket is up; rejects if it exits first or takes over 10 s. */
function startXvfb(n: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn('Xvfb', [`:${n}`, '-screen', '0', '1280x1024x24', '-nolisten', 'tcp', '-terminate'], { stdio: 'ignore' });
    const started = Date.now();
    const poll = setInterval(() => {
      if (existsSync(`/tmp/.X11-unix/X${n}`)) done(null);
      else if (Date.now() - started > 10_000) done(new Error(`Xvfb :${n} did not open its socket within 10 s`));
    }, 20);
    const done = (err: Error | null) => {
      clearInterval(poll);
      child.removeAllListeners();
      if (err) {
        child.kill();
        reject(err);
      } else resolve(child);
    };
    child.once('error', (e: NodeJS.ErrnoException) => done(new Error(e.code === 'ENOENT' ? `DISPLAY is unset and Xvfb is not installed: ${HOW}` : `Xvfb: ${e.message}`)));
    child.once('exit', (code) => done(new Error(`Xvfb :${n} exited (${code}) before it was ready`)));
  });
}

/** Makes sure process.env.DISPLAY names a running X server, starting Xvfb when it is unset. */
export async function ensureDisplay(): Promise<void> {
  if (process.env.DISPLAY) return;
  let last: Error | null = null;
  // start at a number that depends on the process, so that parallel processes rarely collide
  for (let k = 0, n = 100 + (process.pid % 400); k < 20; k++, n++) {
    if (existsSync(`/tmp/.X${n}-lock`) || existsSync(`/tmp/.X11-unix/X${n}`)) continue;
    try {
      xvfb = await startXvfb(n);
    } catch (e) {
      last = e as Error;
      if (/not installed/.test(last.message)) throw last;
      continue;
    }
    xvfb.unref();
    process.once('exit', () => xvfb?.kill());
    process.env.DISPLAY = `:${n}`;
    return;
  }
  throw new Error(`could not start Xvfb on a free display (${last?.message ?? 'all taken'}): ${HOW}`);
}

/**
 * A headless WebGL 1 context of the given size (preserved drawing buffer, for reading back).
 * `loadGL` imports the `gl` package (a parameter so that its absence can be tested).
 */
export async function createHeadlessGL(width: number, height: number, loadGL: () => Promise<typeof import('gl')> = () => import('gl')): Promise<WebGLRenderingContext> {
  let createGL: typeof import('gl').default;
  try {
    createGL = (await loadGL()).default;
  } catch (e) {
    throw new Error(`headless WebGL needs the optional "gl" package, which is not installed or not built (${(e as Error).message.split('\n')[0]}): install it with its build tools (npm install gl; it needs python3, make, a C++ compiler, libx11-dev, libxi-dev, libgl-dev)`);
  }
  await ensureDisplay();
  const gl = createGL(width, height, { preserveDrawingBuffer: true, antialias: false });
  if (!gl) throw new Error(`headless WebGL: no context on DISPLAY=${process.env.DISPLAY} (is that X server running?): unset DISPLAY to let losscape start Xvfb, or ${HOW}`);
  return gl;
}

/** Frees a context from createHeadlessGL. */
export function destroyHeadlessGL(gl: WebGLRenderingContext): void {
  (gl.getExtension('STACKGL_destroy_context') as { destroy(): void } | null)?.destroy();
}
