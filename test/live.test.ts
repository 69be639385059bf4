// The core and the live page in headless Chromium (Debian's /usr/bin/chromium, WebGPU on
// SwiftShader), served by serveViewer({ live: true }): the adapter; the op suite's key cases run in
// the page against the float64 reference run here on the same inputs; a training run whose loss
// falls and a landscape equal to Node's within 1e-4, drawn where the colormap puts it; Stop within a
// second; a tab in the background; no WebGPU; a lost device; weights from an address; and the
// embedding example.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import { saveCheckpoint } from '../src/node/checkpoint.js';
import { mnistSlice } from '../src/node/data.js';
import { loadPageScript, serveViewer, type ViewerServer } from '../src/node/viewer.js';
import { assertClose, rmsScale } from './compare.js';
import { hostRng, SEED } from './helpers.js';
import * as A from './ref-autograd.js';
import { ref } from './reference.js';
import { clearPoint, expectColor, launchChromium, readPng } from './render-helpers.js';

let ctx: BrowserContext;
let server: ViewerServer;
const seedNote = `seed ${SEED} (replay with LOSSCAPE_TEST_SEED=${SEED})`;

beforeAll(async () => {
  server = await serveViewer([], { live: true });
  ctx = await launchChromium({ width: 1000, height: 900 });
}, 60_000);

afterAll(async () => {
  await ctx?.close();
  await server?.close();
});

const state = (page: Page) => page.getAttribute('#losscape-live', 'data-state');
const status = (page: Page) => page.textContent('.lc-live .lc-status');

async function until(page: Page, states: string[], timeout = 60_000): Promise<string> {
  await page.waitForFunction((s) => s.includes(document.getElementById('losscape-live')?.dataset.state ?? ''), states, { timeout });
  return (await state(page))!;
}

/** The live page with these settings, once it has its adapter (and weights); page errors collected. */
async function live(query: string, prepare?: (page: Page) => Promise<void>): Promise<{ page: Page; errors: string[] }> {
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await prepare?.(page);
  await page.goto(`${server.url}?${query}`);
  await until(page, ['ready', 'no-webgpu', 'error']);
  return { page, errors };
}

/**
 * Clicks Stop and returns the time from the click to the page's leaving its running state, as the
 * page measures it (without the automation's own delays).
 */
async function stop(page: Page): Promise<number> {
  await page.evaluate(() => {
    const root = document.getElementById('losscape-live')!;
    (window as unknown as { stopped: Promise<number> }).stopped = new Promise((resolve) => {
      let t0 = 0;
      document.querySelector('button[name="stop"]')!.addEventListener('click', () => (t0 = performance.now()), { once: true, capture: true });
      new MutationObserver((_, observer) => {
        if (!t0 || root.dataset.state === 'training' || root.dataset.state === 'mapping') return;
        observer.disconnect();
        resolve(performance.now() - t0);
      }).observe(root, { attributes: true, attributeFilter: ['data-state'] });
    });
  });
  await page.click('button[name="stop"]');
  return page.evaluate(() => (window as unknown as { stopped: Promise<number> }).stopped);
}

/** The page's own core module (one engine with the live page's) as window.losscape, for evaluate(). */
type WithCore = { losscape: typeof L };
async function exposeCore(page: Page): Promise<void> {
  await page.addScriptTag({ type: 'module', content: "import * as L from '/losscape.js'; window.losscape = L;" });
  await page.waitForFunction(() => 'losscape' in window);
}

/** The bytes behind one of the page's download links. */
const download = (page: Page, name: string) =>
  page.evaluate(async (n) => [...new Uint8Array(await (await fetch(document.querySelector<HTMLAnchorElement>(`a[download="${n}"]`)!.href)).arrayBuffer())], name).then((b) => new Uint8Array(b));

describe('the core in Chromium (WebGPU on SwiftShader)', () => {
  it('finds a SwiftShader adapter, and matmul, conv2d and attention forward and backward match the float64 reference', async () => {
    const { page, errors } = await live('');
    expect(await page.evaluate(async () => (await navigator.gpu.requestAdapter())?.info.architecture)).toBe('swiftshader');
    expect(await page.textContent('.lc-adapter')).toBe('WebGPU adapter: google swiftshader (software: slow)');
    await exposeCore(page);
    const rng = hostRng();
    const random = (shape: number[], lo = -1, hi = 1) => Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => lo + (hi - lo) * rng());
    const conv = { stride: [2, 1] as [number, number], padding: [1, 2] as [number, number], dilation: [1, 2] as [number, number], groups: 1 };
    const cases = [
      { what: 'matmul [2,37,53]·[2,29,53]ᵀ', op: 'matmul', shapes: [[2, 37, 53], [2, 29, 53]], args: { transB: true }, ref: (a: A.V, b: A.V) => A.matmul(a, b, false, true) },
      { what: 'conv2d [2,3,9,7] * [5,3,3,2], stride 2x1, padding 1x2, dilation 1x2', op: 'conv2d', shapes: [[2, 3, 9, 7], [5, 3, 3, 2], [5]], args: conv, ref: (x: A.V, w: A.V, b: A.V) => A.conv2d(x, w, b, conv) },
      { what: 'attention [1,2,37,8] × 70 keys', op: 'attention', shapes: [[1, 2, 37, 8], [1, 2, 70, 8], [1, 2, 70, 8]], args: {}, ref: (q: A.V, k: A.V, v: A.V) => A.attention(q, k, v, 1 / Math.sqrt(8)) },
    ];
    for (const c of cases) {
      const inputs = c.shapes.map((s) => random(s, -2, 2));
      const vs = inputs.map((d, i) => A.leaf(ref(c.shapes[i]!, d)));
      const expected = (c.ref as (...v: A.V[]) => A.V)(...vs);
      const weights = random(expected.shape);
      A.backward(A.sum(A.mul(expected, A.leaf(ref(expected.shape, weights))), expected.shape.map((_, i) => i)));
      const got = await page.evaluate(async ({ op, shapes, inputs, weights, args }) => {
        const L = (window as unknown as WithCore).losscape;
        L.getEngine().poison = true; // an unwritten output reads NaN
        const xs = inputs.map((d, i) => L.fromArray(Float32Array.from(d), shapes[i]!).requireGrad());
        const out = op === 'matmul' ? L.matmul(xs[0]!, xs[1]!, args as never) : op === 'conv2d' ? L.conv2d(xs[0]!, xs[1]!, xs[2]!, args as never) : L.attention(xs[0]!, xs[1]!, xs[2]!, args as never);
        L.backward(L.sum(L.mul(out, L.fromArray(Float32Array.from(weights), out.shape))));
        const result = { shape: [...out.shape], out: [...(await out.toArray())], grads: await Promise.all(xs.map(async (x) => [...(await x.grad!.toArray())])) };
        for (const t of [...xs, out]) t.dispose();
        return result;
      }, { op: c.op, shapes: c.shapes, inputs: inputs.map((d) => [...d]), weights: [...weights], args: c.args });
      expect(got.shape, c.what).toEqual(expected.shape);
      expect(got.out.some(Number.isNaN), `${c.what}: NaN in the output; ${seedNote}`).toBe(false);
      // element by element, each within its own size plus its tensor's RMS (test/compare.ts)
      assertClose(got.out, expected.value.data, { rtol: 1e-5, atol: 0, name: 'page forward' }, `${c.what}: forward`, { scale: rmsScale(expected.value.data) });
      got.grads.forEach((g, i) => assertClose(g, vs[i]!.grad, { rtol: 1e-4, atol: 0, name: 'page gradient' }, `${c.what}: gradient of input ${i}`, { scale: rmsScale(vs[i]!.grad) }));
    }
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);
});

describe('the live page', () => {
  it('trains (the loss falls) and maps the landscape as Node does within 1e-4, in a tab sent to the background, and draws it', async () => {
    const { page, errors } = await live('model=mlp&epochs=2&train=512&steps=9&samples=200');
    await page.click('button[name="train"]');
    await page.waitForFunction(() => /step [2-9]/.test(document.querySelector('.lc-status')!.textContent!), null, { timeout: 60_000 });
    // headless Chromium never hides a tab, so the page is told what a tab in the background gets:
    // hidden, no animation frames, timers held back to a second; the work must go on regardless
    await page.evaluate(() => {
      Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
      Object.defineProperty(document, 'hidden', { value: true, configurable: true });
      window.requestAnimationFrame = () => 0;
      const setTimeout = window.setTimeout;
      window.setTimeout = ((f: TimerHandler, ms?: number, ...rest: unknown[]) => setTimeout(f, Math.max(ms ?? 0, 1000), ...rest)) as typeof window.setTimeout;
      document.dispatchEvent(new Event('visibilitychange'));
    });
    expect(await until(page, ['done', 'error', 'lost', 'stopped'], 90_000), (await status(page))!).toBe('done');

    const sidecar = L.parseSidecar(new TextDecoder().decode(await download(page, 'mlp-adamw.safetensors.json')), 'sidecar');
    const history = sidecar.meta.history as L.EpochMetrics[];
    expect(history).toHaveLength(2);
    expect(history[1]!.trainLoss).toBeLessThan(history[0]!.trainLoss);
    expect(history[1]!.testLoss).toBeLessThan(2.2); // below chance (ln 10 = 2.30)
    expect(await page.locator('.lc-curve polyline').count()).toBe(1);

    // the same landscape in Node: the page's weights, the same slice, directions and grid
    const surface = L.checkSurface(JSON.parse(new TextDecoder().decode(await download(page, 'landscape.json'))), 'landscape.json');
    const bytes = await download(page, 'mlp-adamw.safetensors');
    const test = L.decodeImageSlice(mnistSlice(), 'mnist-slice.bin', 'mnist-slice', ...L.NORMALIZATION.mnist).test;
    const node = await L.computeLandscape({
      config: sidecar.config, checkpoints: [{ name: 'mlp-adamw.safetensors', bytes }], plan: 'plane', steps: 9, range: [-1, 1],
      directions: { kind: 'random', seed: 0 }, data: L.take(test, 200), dataInfo: { dataset: 'mnist-slice', split: 'test' }, batchSize: 200,
    });
    expect(surface.x).toEqual(node.x);
    expect(surface.y).toEqual(node.y);
    for (const key of ['loss', 'accuracy'] as const) {
      const diff = Math.max(...surface[key].flat().map((v, i) => Math.abs(v! - node[key].flat()[i]!) / Math.max(1, Math.abs(node[key].flat()[i]!))));
      expect(diff, `${key}: largest difference from Node`).toBeLessThanOrEqual(1e-4);
    }

    // the drawn surface: the colour at a grid point clear of contour lines is the colormap's at its loss
    await page.selectOption('.lc-landscape [name="view"]', 'contour');
    const figureBox = page.locator('.lc-landscape .lc-figure');
    const box = (await figureBox.boundingBox())!;
    const named = [{ name: 'mlp-adamw.safetensors', surface }];
    const fig = L.planFigure(named, { view: 'contour', width: Math.round(box.width), height: Math.round(box.height) });
    const [ix, iy] = clearPoint(fig, 0, [1, 7], [1, 7]);
    const img = readPng(await figureBox.screenshot());
    const loss = surface.loss[iy]![ix]!;
    expectColor(img.at(...L.pointPixel(fig, 0, fig.initialView, ix, iy)!), L.colormap('viridis')(L.normalize(fig.panels[0]!.scale, loss)!), 4, `grid point (${ix}, ${iy}), loss ${loss}`);
    expect(errors).toEqual([]);
    await page.close();
  }, 150_000);

  it('stops within a second, keeps what it drew, and starts again on a new device after the device is lost', async () => {
    const { page, errors } = await live('model=mlp&epochs=3&train=256&batchSize=16&steps=5&samples=100');
    await exposeCore(page);
    // Stop while training
    await page.click('button[name="train"]');
    await page.waitForFunction(() => /step [2-9]/.test(document.querySelector('.lc-status')!.textContent!), null, { timeout: 60_000 });
    expect(await stop(page), 'Stop took effect within a second').toBeLessThan(1000);
    expect(await state(page)).toBe('stopped');
    // a line once there are two points, a dot for one
    expect(await page.locator('.lc-curve polyline, .lc-curve circle').count(), 'the loss curve is kept').toBeGreaterThanOrEqual(1);
    // the device lost while training: said so, then a new device on the next start
    await page.click('button[name="train"]');
    await page.waitForFunction(() => /step [2-9]/.test(document.querySelector('.lc-status')!.textContent!), null, { timeout: 60_000 });
    await page.evaluate(() => (window as unknown as WithCore).losscape.getEngine().device.destroy());
    expect(await until(page, ['lost', 'error', 'done', 'stopped'])).toBe('lost');
    expect(await status(page)).toMatch(/^The GPU device was lost \(destroyed: .*\)\. What was computed is kept; press a button to start again on a new device\.$/);
    await page.fill('[name="epochs"]', '1');
    await page.click('button[name="train"]');
    expect(await until(page, ['done', 'error', 'lost'], 90_000), (await status(page))!).toBe('done');
    // Stop while mapping a finer grid: the points so far stay drawn, at the finest complete level
    await page.fill('[name="steps"]', '33');
    await page.click('button[name="map"]');
    await page.waitForFunction(() => /: (\d{2,}) of 1089 points/.test(document.querySelector('.lc-status')!.textContent!), null, { timeout: 60_000 });
    expect(await stop(page), 'Stop took effect within a second').toBeLessThan(1000);
    expect(await state(page)).toBe('stopped');
    expect(await status(page)).toMatch(/^Stopped\. \d+ of 1089 points are kept/);
    expect(await page.getAttribute('.lc-landscape', 'data-state')).toBe('ready');
    const grid = /(\d+)×(\d+) points/.exec((await page.textContent('.lc-landscape .lc-overlay'))!);
    expect(Number(grid![1])).toBeLessThan(33);
    expect(errors).toEqual([]);
    await page.close();
  }, 150_000);

  it('says so without WebGPU (no navigator.gpu, or no adapter), with nothing to start and no page error', async () => {
    const none = await live('', async (page) => {
      await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));
    });
    expect(await state(none.page)).toBe('no-webgpu');
    expect(await none.page.textContent('.lc-adapter')).toContain('This browser has no WebGPU (navigator.gpu is missing)');
    expect(await none.page.isDisabled('button[name="train"]')).toBe(true);
    expect(none.errors).toEqual([]);
    const noAdapter = await live('', async (page) => {
      await page.addInitScript(() => (GPU.prototype.requestAdapter = async () => null));
    });
    expect(await state(noAdapter.page)).toBe('no-webgpu');
    expect(await noAdapter.page.textContent('.lc-adapter')).toContain('losscape found no WebGPU adapter');
    expect(noAdapter.errors).toEqual([]);
    await none.page.close();
    await noAdapter.page.close();
  }, 60_000);

  it('maps a checkpoint served with it (?weights=), and names a file that is not safetensors', async () => {
    await L.init();
    const model = L.createModel({ kind: 'mlp', sizes: [784, 16, 10] }, 5);
    const checkpoint = path.join(mkdtempSync(path.join(tmpdir(), 'losscape-live-')), 'good.safetensors');
    await saveCheckpoint(checkpoint, model);
    model.dispose();
    // losscape view --live --checkpoint FILE: the page opens on it
    const withCheckpoint = await serveViewer([], { live: true, checkpoint });
    expect(withCheckpoint.url).toMatch(/\/live\?weights=weights\/good\.safetensors$/);
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${withCheckpoint.url}&steps=3&samples=50`);
    expect(await until(page, ['ready', 'error', 'no-webgpu'])).toBe('ready');
    expect(await status(page)).toBe('weights good.safetensors (mlp) loaded: Map landscape draws the landscape around them.');
    await page.click('button[name="map"]');
    expect(await until(page, ['done', 'error', 'lost'], 60_000), (await status(page))!).toBe('done');
    expect(await page.textContent('.lc-landscape .lc-overlay')).toContain('3×3 points');
    await page.close();
    await withCheckpoint.close();
    // weights that are not safetensors, with a good sidecar: named before any work
    const bad = await live('weights=fake/bad.safetensors', async (p) => {
      await p.route('**/fake/bad.safetensors', (r) => r.fulfill({ body: 'these are not tensors' }));
      await p.route('**/fake/bad.safetensors.json', (r) => r.fulfill({ body: readFileSync(`${checkpoint}.json`, 'utf8'), contentType: 'application/json' }));
    });
    expect(await state(bad.page)).toBe('error');
    expect(await status(bad.page)).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/fake\/bad\.safetensors: not a valid safetensors file: /);
    expect(await bad.page.isDisabled('button[name="map"]')).toBe(true);
    expect([...errors, ...bad.errors]).toEqual([]);
    await bad.page.close();
  }, 90_000);

  it('examples/embed.html trains, maps and draws a landscape with the core module', async () => {
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // the example as a project serves it, the package's page module where npm puts it
    await page.route('**/examples/embed.html', (r) => r.fulfill({ body: readFileSync('examples/embed.html', 'utf8'), contentType: 'text/html' }));
    const core = (await loadPageScript('losscape.js')).text;
    await page.route('**/examples/node_modules/losscape/dist/page/losscape.js', (r) => r.fulfill({ body: core, contentType: 'text/javascript' }));
    await page.goto(new URL('/examples/embed.html', server.url).href);
    await page.waitForSelector('#landscape[data-state="ready"]', { timeout: 60_000 });
    expect(await page.textContent('#landscape .lc-overlay')).toContain('21×21 points');
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
