// Figures drawn headless (the `gl` package; the library starts Xvfb itself when DISPLAY is unset)
// and read back pixel by pixel: colours where the colormap says, lit as the light says, contour
// lines where the levels are, gaps where the nulls are, one scale shared or not.
import { describe, expect, it } from 'vitest';
import { createHeadlessGL } from '../src/node/display.js';
import { renderFigure } from '../src/node/render.js';
import { BACKGROUND, colormap, LIGHT, normalize, panelPixels, planFigure, pickPoint, pointPixel, type FigureOptions, type NamedSurface } from '../src/render/index.js';
import { axis, expectColor, gridSurface, luminance, paraboloid, readPng, saddle, scaled } from './render-helpers.js';

const viridis = colormap('viridis');
const quiet = { warn: () => {} };

/** Renders and returns the image with the figure's plan (the same layout renderFigure drew). */
async function draw(surfaces: NamedSurface[], opts: FigureOptions) {
  const img = readPng(await renderFigure(surfaces, { ...opts, ...quiet }));
  const fig = planFigure(surfaces, opts);
  expect([img.width, img.height]).toEqual([fig.width, fig.height]);
  return { img, fig, at: (panel: number, ix: number, iy: number) => pointPixel(fig, panel, fig.initialView, ix, iy)! };
}

describe('headless figures', () => {
  const para = { name: 'para.json', surface: paraboloid(41) }; // 0.5 + x² + y² on [-1, 1]²: scale [0.5, 2.5]

  it('contour view: the colormap at the minimum (0) and near a corner (its normalized loss there)', async () => {
    const { img, fig, at } = await draw([para], { view: 'contour', contours: false });
    const [mx, my] = at(0, 20, 20);
    expectColor(img.at(mx, my), viridis(0), 3, 'minimum');
    const { plot } = fig.panels[0]!;
    // the pixel 2 in from the top-right corner (x = 1, y = 1): the loss at its centre
    const [px, py] = [plot.x + plot.w - 2, plot.y + 1];
    const x = -1 + (2 * (px + 0.5 - plot.x)) / plot.w;
    const y = 1 - (2 * (py + 0.5 - plot.y)) / plot.h;
    const t = normalize(fig.panels[0]!.scale, 0.5 + x * x + y * y)!;
    expect(t).toBeGreaterThan(0.95);
    expectColor(img.at(px, py), viridis(t), 3, `corner (t = ${t.toFixed(3)})`);
  });

  it('3-D view: Lambert plus ambient lighting of the colormap, at the minimum and near a corner', async () => {
    const opts = { view: '3d' as const, elevation: 45, ambient: 0.5, diffuse: 0.5 };
    const { img, fig, at } = await draw([para], opts);
    const mesh = fig.panels[0]!.mesh!;
    for (const [ix, iy] of [[20, 20], [1, 39]]) {
      const [px, py] = at(0, ix, iy);
      // the vertex is the front-most surface there (so its colour is the one on screen)
      expect(pickPoint(fig, fig.initialView, px, py)).toMatchObject({ ix, iy });
      const i = iy * 41 + ix;
      const n = mesh.normals.subarray(3 * i, 3 * i + 3);
      const k = 0.5 + 0.5 * Math.max(0, n[0]! * LIGHT[0] + n[1]! * LIGHT[1] + n[2]! * LIGHT[2]);
      expectColor(img.at(px, py), scaled(viridis(mesh.values[i]!), k), 5, `vertex (${ix}, ${iy}), t = ${mesh.values[i]!.toFixed(3)}, light ${k.toFixed(3)}`);
    }
    expect(mesh.normals[3 * (20 * 41 + 20) + 2]).toBeCloseTo(1, 6);
  });

  it('contour lines darken the picture where the levels are, and only there', async () => {
    const [lined, plain] = await Promise.all([draw([para], { view: 'contour' }), draw([para], { view: 'contour', contours: false })]);
    const p = lined.fig.panels[0]!;
    const levels = p.contours.map((c) => c.level);
    expect(levels.length).toBeGreaterThan(5);
    const [cx, cy] = lined.at(0, 20, 20);
    for (const level of levels.filter((l) => l < 1.4)) {
      const x = cx + Math.sqrt(level - 0.5) * (p.plot.w / 2);
      const darkest = Math.min(...[-1, 0, 1].map((d) => luminance(lined.img.at(x + d, cy))));
      const bare = luminance(plain.img.at(x, cy));
      expect(darkest, `level ${level} at x = ${x.toFixed(1)}`).toBeLessThan(0.8 * bare);
    }
    // halfway between the first two levels' circles nothing is drawn over the heatmap
    const r = (Math.sqrt(levels[0]! - 0.5) + Math.sqrt(levels[1]! - 0.5)) / 2;
    expectColor(lined.img.at(cx + r * (p.plot.w / 2), cy), plain.img.at(cx + r * (p.plot.w / 2), cy), 1, 'between levels');
  });

  it('non-finite points are gaps: the background shows through', async () => {
    const holed = { name: 'holed.json', surface: gridSurface(axis(41), axis(41), (x, y) => (Math.abs(x) < 0.3 && Math.abs(y) < 0.3 ? null : 1.5 + x * x - y * y)) };
    for (const view of ['contour', '3d'] as const) {
      const { img, fig, at } = await draw([holed], { view, elevation: 60 });
      const p = fig.panels[0]!;
      // the middle of the hole, at the height its loss (1.5) would have: no triangle there
      const centre = panelPixels(fig, p, fig.initialView)([0, 0, view === '3d' ? normalize(p.scale, 1.5)! : 0])!;
      // nothing to pick in 3-D; the contour view's readout says non-finite
      expect(pickPoint(fig, fig.initialView, ...centre)?.loss ?? null).toBeNull();
      expectColor(img.at(...centre), [...BACKGROUND], 0, `${view}: inside the gap`);
      expect(Math.min(...img.at(...at(0, 5, 20)))).toBeLessThan(200);
    }
  }, 30_000);

  it('a shared scale gives equal losses equal colours; own scales do not', async () => {
    const x = axis(21);
    const a = { name: 'a.json', surface: gridSurface(x, x, (u) => u + 1) }; // [0, 2]: loss 1 at x = 0 is t = 0.5
    const b = { name: 'b.json', surface: gridSurface(x, x, (u) => (u + 1) ** 2) }; // [0, 4]: loss 1 at x = 0 is t = 0.25
    const shared = await draw([a, b], { view: 'contour', contours: false });
    const own = await draw([a, b], { view: 'contour', contours: false, scale: 'own' });
    for (const { img, at } of [shared, own]) for (const p of [0, 1]) expect(img.at(...at(p, 10, 10)).join()).toBe(img.at(...at(p, 10, 3)).join()); // loss is constant in y
    expectColor(shared.img.at(...shared.at(0, 10, 10)), viridis(0.25), 3, 'shared, a');
    expectColor(shared.img.at(...shared.at(1, 10, 10)), viridis(0.25), 3, 'shared, b');
    expectColor(own.img.at(...own.at(0, 10, 10)), viridis(0.5), 3, 'own, a');
    expectColor(own.img.at(...own.at(1, 10, 10)), viridis(0.25), 3, 'own, b');
  }, 30_000);

  it('line plans are line plots (no WebGL needed); log scales and other colormaps draw too', async () => {
    const line = { name: 'line.json', surface: gridSurface(axis(21), null, (u) => 1 + u * u, { plan: { kind: 'interp' } }) };
    const { img, at } = await draw([line], {});
    expect(luminance(img.at(...at(0, 10, 0)))).toBeLessThan(100);
    const sad = await draw([{ name: 's.json', surface: saddle(21) }], { view: 'contour', log: true, colormap: 'magma', contours: false });
    const s = sad.fig.panels[0]!;
    expectColor(sad.img.at(...sad.at(0, 10, 5)), colormap('magma')(normalize(s.scale, 1.5 - 0.25)!), 3, 'log scale, magma');
  });

  it('say how to get a WebGL context when the gl package is missing', async () => {
    await expect(createHeadlessGL(4, 4, () => Promise.reject(new Error("Cannot find package 'gl'")))).rejects.toThrow(
      `headless WebGL needs the optional "gl" package, which is not installed or not built (Cannot find package 'gl'): install it`,
    );
  });
});
