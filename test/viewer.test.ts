// The web viewer in headless Chromium (Debian's /usr/bin/chromium, WebGL through SwiftShader),
// served by serveViewer on a free port: pixels where the colormap puts them, the readout of the
// point under the pointer, orbit and zoom, the toggles, the file picker, the self-contained page.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPageScript, serveViewer, viewerHtml, type ViewerServer } from '../src/node/viewer.js';
import { colormap, normalize, panelPixels, pickPoint, planFigure, pointPixel, type FigureOptions, type NamedSurface } from '../src/render/index.js';
import { axis, clearPoint, expectColor, gridSurface, launchChromium, readPng, saddle } from './render-helpers.js';

const x = axis(31);
const para: NamedSurface = {
  name: 'para.json',
  surface: gridSurface(x, x, (a, b) => 0.5 + a * a + b * b, { plan: { kind: 'trajectory', coords: [[-0.8, 0.6], [-0.4, 0.2], [0, 0]], explained: [0.7, 0.2] } }),
};
const sad: NamedSurface = { name: 'saddle.json', surface: saddle(31) };

let ctx: BrowserContext;
let server: ViewerServer;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'losscape-viewer-'));
  for (const s of [para, sad]) writeFileSync(path.join(dir, s.name), JSON.stringify(s.surface));
  writeFileSync(path.join(dir, 'bad.json'), JSON.stringify({ format: 'losscape-surface/1', x: [0, 1], y: null, loss: [[1]] }));
  server = await serveViewer([path.join(dir, 'para.json'), path.join(dir, 'saddle.json')]);
  ctx = await launchChromium({ width: 1000, height: 680 });
}, 60_000);

afterAll(async () => {
  await ctx?.close();
  await server?.close();
});

/** Opens a page, waits for the viewer, and returns the figure's plan at the size it was drawn. */
async function open(page: Page, load: () => Promise<unknown>, surfaces: NamedSurface[], opts: FigureOptions) {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await load();
  await page.waitForSelector('#losscape-viewer[data-state="ready"]', { timeout: 20_000 });
  expect(errors).toEqual([]);
  return plan(page, surfaces, opts);
}

async function plan(page: Page, surfaces: NamedSurface[], opts: FigureOptions) {
  const box = (await page.locator('.lc-figure').boundingBox())!;
  const fig = planFigure(surfaces, { ...opts, width: Math.round(box.width), height: Math.round(box.height) });
  const shot = async () => readPng(await page.locator('.lc-figure').screenshot());
  const hover = async (px: number, py: number) => {
    await page.mouse.move(box.x + px, box.y + py);
    return page.textContent('.lc-readout');
  };
  return { fig, box, shot, hover };
}

describe('web viewer', () => {
  it('draws the files named in the address on one scale, with the path, and reads out the point under the pointer', async () => {
    const page = await ctx.newPage();
    const opts = { view: 'contour' as const };
    const { fig, shot, hover } = await open(page, () => page.goto(`${server.url}&view=contour`), [para, sad], opts);
    const img = await shot();
    const scale = fig.panels[0]!.scale;
    expect(fig.panels[1]!.scale).toBe(scale);
    // the saddle's grid point farthest from its contour lines: its colour on the shared scale
    const [ix, iy] = clearPoint(fig, 1, [5, 25], [5, 25]);
    const at = pointPixel(fig, 1, fig.initialView, ix, iy)!;
    const loss = sad.surface.loss[iy]![ix]!;
    expectColor(img.at(...at), colormap('viridis')(normalize(scale, loss)!), 4, `saddle (${ix}, ${iy}), loss ${loss}`);
    expect(await hover(...at)).toBe(`saddle.json · x = ${Number(x[ix]!.toPrecision(6))}, y = ${Number(x[iy]!.toPrecision(6))} · loss = ${Number(loss.toPrecision(6))} · accuracy = ${Number((1 - loss / 10).toPrecision(6))}`);
    expect(await hover(...pointPixel(fig, 0, fig.initialView, 15, 15)!)).toBe('para.json · x = 0, y = 0 · loss = 0.5 · accuracy = 0.95');
    // the training path's start mark, in the path's colour
    const start = panelPixels(fig, fig.panels[0]!, fig.initialView)([-0.8, 0.6, 0])!;
    const [r, g, b] = img.at(...start);
    expect(r, `path start rgb(${r},${g},${b})`).toBeGreaterThan(180);
    expect(g).toBeLessThan(90);
    expect(await page.locator('.lc-overlay').textContent()).toContain('trajectory: PCA plane of 3 checkpoints');
    await page.close();
  }, 40_000);

  it('orbits and zooms the 3-D surfaces, and the readout follows the drawn surface', async () => {
    const page = await ctx.newPage();
    const { fig, box, shot, hover } = await open(page, () => page.goto(server.url), [para, sad], {});
    // a saddle vertex that is front-most at its pixel in the figure's initial view
    const [ix, iy] = [8, 22];
    const at = pointPixel(fig, 1, fig.initialView, ix, iy)!;
    expect(pickPoint(fig, fig.initialView, ...at)).toMatchObject({ panel: 1, ix, iy });
    expect(await hover(...at)).toContain(`saddle.json · x = ${Number(x[ix]!.toPrecision(6))}, y = ${Number(x[iy]!.toPrecision(6))}`);
    const changed = (a: ReturnType<typeof readPng>, b: ReturnType<typeof readPng>) => {
      let n = 0;
      for (let y = 0; y < a.height; y += 3) for (let x = 0; x < a.width; x += 3) if (a.at(x, y).join() !== b.at(x, y).join()) n++;
      return n / ((a.width / 3) * (a.height / 3));
    };
    const before = await shot();
    await page.mouse.move(box.x + at[0], box.y + at[1]);
    await page.mouse.down();
    await page.mouse.move(box.x + at[0] + 120, box.y + at[1] + 30, { steps: 6 });
    await page.mouse.up();
    await page.waitForTimeout(100);
    const orbited = await shot();
    expect(changed(before, orbited)).toBeGreaterThan(0.05);
    await page.mouse.wheel(0, -400);
    await page.waitForTimeout(100);
    expect(changed(orbited, await shot())).toBeGreaterThan(0.05);
    await page.click('button[name="reset"]');
    await page.waitForTimeout(100);
    expect(changed(before, await shot())).toBeLessThan(0.01);
    await page.close();
  }, 40_000);

  it('toggles log scale, own scales and the view, and opens picked files (refusing bad ones by name)', async () => {
    const page = await ctx.newPage();
    await open(page, () => page.goto(server.url), [para, sad], {});
    const overlay = () => page.locator('.lc-overlay').innerHTML();
    await page.check('[name="log"]');
    expect(await overlay()).toContain('loss (log scale, shared by 2 panels)');
    await page.selectOption('[name="scale"]', 'own');
    expect((await overlay()).match(/<linearGradient/g)).toHaveLength(2);
    await page.selectOption('[name="view"]', 'contour');
    await page.selectOption('[name="colormap"]', 'magma');
    // the view the user sees now: magma, own log scales, contour
    const { fig, shot } = await plan(page, [para, sad], { view: 'contour', scale: 'own', log: true, colormap: 'magma' });
    // a paraboloid point clear of contour lines and of the path (x < 0, y > 0), on its own log scale
    const [ix, iy] = clearPoint(fig, 0, [17, 28], [2, 13]);
    const loss = para.surface.loss[iy]![ix]!;
    expectColor((await shot()).at(...pointPixel(fig, 0, fig.initialView, ix, iy)!), colormap('magma')(normalize(fig.panels[0]!.scale, loss)!), 4, `loss ${loss} on magma, log`);
    await page.setInputFiles('[name="files"]', path.join(dir, 'saddle.json'));
    await page.waitForFunction(() => document.querySelector('.lc-overlay')?.textContent?.includes('saddle.json') && !document.querySelector('.lc-overlay')?.textContent?.includes('para.json'));
    await page.setInputFiles('[name="files"]', path.join(dir, 'bad.json'));
    await page.waitForSelector('#losscape-viewer[data-state="error"]');
    expect(await page.textContent('.lc-messages')).toBe('bad.json: not a losscape surface: loss[0] has 1 values, x has 2');
    await page.close();
  }, 40_000);

  it('a self-contained page (viewerHtml) needs no server; the bundle leaves the GPU engine out', async () => {
    const page = await ctx.newPage();
    const html = await viewerHtml([para], { view: 'contour' });
    const { fig, shot } = await open(page, () => page.setContent(html), [para], { view: 'contour' });
    const [ix, iy] = clearPoint(fig, 0, [17, 28], [2, 13]);
    const loss = para.surface.loss[iy]![ix]!;
    expectColor((await shot()).at(...pointPixel(fig, 0, fig.initialView, ix, iy)!), colormap('viridis')(normalize(fig.panels[0]!.scale, loss)!), 4, `loss ${loss}`);
    const { inputs } = await loadPageScript('viewer.js');
    expect(inputs.some((f) => f.includes('src/render/draw.ts'))).toBe(true);
    expect(inputs.filter((f) => /src\/(gpu|tensor|nn|landscape)\/|node_modules\/webgpu|kernels\//.test(f))).toEqual([]);
    await page.close();
  }, 40_000);
});
