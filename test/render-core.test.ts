// The renderer's plain functions: checks, colormaps, scales, ticks, meshes and normals, contour
// lines, paths, cameras, picking and the figure's plan and overlay. No WebGL here.
import fc from 'fast-check';
import { interpolateMagma, interpolateViridis } from 'd3-scale-chromatic';
import { describe, expect, it } from 'vitest';
import {
  checkSurface, colormap, colormapTable, computeScale, contourLevels, contourLines, figureSvg, gridIndex, heightAt, normalize, orbitCamera, parseRgb,
  parseSurface, pathDisplay, pickPoint, planFigure, planPath, pointPixel, project, scaleTicks, surfaceMesh, topCamera, vertexNormals, type Scale,
} from '../src/render/index.js';
import { axis, gridSurface, paraboloid, saddle } from './render-helpers.js';

const named = (name: string, surface: ReturnType<typeof paraboloid>) => ({ name, surface });

describe('surface checks', () => {
  const good = paraboloid(5);
  it('accepts a surface file and names the file and the fault otherwise', () => {
    expect(checkSurface(JSON.parse(JSON.stringify(good)), 'a.json').loss).toEqual(good.loss);
    const bad = (patch: Record<string, unknown>) => () => checkSurface({ ...good, ...patch }, 'b.json');
    expect(bad({ format: 'other/2' })).toThrow('b.json: not a losscape surface: format is "other/2", expected "losscape-surface/1"');
    expect(bad({ x: [0, 2, 1, 3, 4] })).toThrow('b.json: not a losscape surface: x must increase: x[1] = 2, x[2] = 1');
    expect(bad({ loss: good.loss.slice(1) })).toThrow('b.json: not a losscape surface: loss has 4 row(s), the grid has 5');
    expect(bad({ accuracy: [[1], ...good.accuracy.slice(1)] })).toThrow('b.json: not a losscape surface: accuracy[0] has 1 values, x has 5');
    expect(bad({ loss: [['a', 1, 1, 1, 1], ...good.loss.slice(1)] })).toThrow('loss[0][0] is "a", expected a finite number or null');
    expect(bad({ provenance: { plan: { kind: 'trajectory', coords: [[1]] } } })).toThrow('provenance.plan.coords must be a list of [x, y] pairs');
    expect(() => checkSurface([1, 2], 'c.json')).toThrow('c.json: not a losscape surface: expected a JSON object, got an array');
    expect(() => parseSurface('{"format":', 'd.json')).toThrow(/^d\.json: not a losscape surface: not JSON/);
  });
});

describe('colormaps', () => {
  it('come from d3-scale-chromatic by name, as bytes and as a 256-entry table', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), (t) => {
        expect(colormap('viridis')(t)).toEqual(parseRgb(interpolateViridis(t)));
        expect(colormap('Magma')(t)).toEqual(parseRgb(interpolateMagma(t)));
      }),
    );
    const table = colormapTable('viridis');
    expect([...table.slice(0, 4)]).toEqual([...parseRgb(interpolateViridis(0)), 255]);
    expect([...table.slice(4 * 255)]).toEqual([...parseRgb(interpolateViridis(1)), 255]);
    expect(parseRgb('rgb(1, 22, 255)')).toEqual([1, 22, 255]);
    expect(() => colormap('jet')).toThrow('colormap: unknown "jet"; choose viridis (default)');
  });
});

describe('scales', () => {
  const a = named('a.json', gridSurface(axis(3), axis(3), (x, y) => 2 + x + y)); // 0 … 4
  const b = named('b.json', gridSurface(axis(3), axis(3), (x) => (x > 0 ? null : 1 - x))); // 1 … 2, gaps
  it('span the finite values of every surface they serve; zmax caps the top', () => {
    expect(computeScale([a, b])).toMatchObject({ min: 0, max: 4, log: false, zmax: null, empty: false });
    expect(computeScale([b])).toMatchObject({ min: 1, max: 2 });
    expect(computeScale([a], { zmax: 3 })).toMatchObject({ min: 0, max: 3, zmax: 3 });
    expect(computeScale([named('n', gridSurface(axis(2), axis(2), () => null))]).empty).toBe(true);
  });
  it('normalize: linear or log, clipped to [0, 1], null stays null, monotonic', () => {
    const lin: Scale = { min: 1, max: 5, log: false, zmax: null, empty: false };
    const log: Scale = { min: 0.1, max: 10, log: true, zmax: null, empty: false };
    expect(normalize(lin, 2)).toBeCloseTo(0.25, 12);
    expect(normalize(log, 1)).toBeCloseTo(0.5, 12);
    expect(normalize(lin, 9)).toBe(1);
    expect(normalize(lin, null)).toBeNull();
    fc.assert(
      fc.property(fc.double({ min: 0.1, max: 10, noNaN: true }), fc.double({ min: 0.1, max: 10, noNaN: true }), (u, v) => {
        for (const s of [lin, log]) if (u <= v) expect(normalize(s, u)!).toBeLessThanOrEqual(normalize(s, v)!);
      }),
    );
  });
  it('refuse a log scale over non-positive losses and a zmax not above the lowest loss, naming the surface', () => {
    expect(() => computeScale([a, b], { log: true })).toThrow('--log needs positive losses: a.json has 0');
    expect(() => computeScale([b, a], { zmax: -1 })).toThrow('--zmax -1 is not above the lowest loss, 0 in a.json');
    expect(() => computeScale([a], { zmax: Infinity })).toThrow('--zmax: expected a finite number');
  });
  it('ticks and contour levels are round values inside the scale, placed where normalize puts them', () => {
    const s: Scale = { min: 0.37, max: 2.91, log: false, zmax: null, empty: false };
    const ticks = scaleTicks(s);
    expect(ticks.map((t) => t.value)).toEqual([0.5, 1, 1.5, 2, 2.5]);
    for (const t of ticks) expect(t.t).toBeCloseTo(normalize(s, t.value)!, 12);
    const levels = contourLevels(s);
    expect(levels[0]).toBeGreaterThan(s.min);
    expect(levels.at(-1)).toBeLessThan(s.max);
    expect(levels).toEqual([0.4, 0.6, 0.8, 1, 1.2, 1.4, 1.6, 1.8, 2, 2.2, 2.4, 2.6, 2.8]);
    const log = scaleTicks({ min: 0.3, max: 40, log: true, zmax: null, empty: false });
    expect(log.map((t) => t.label)).toContain('10');
    expect(log.every((t) => !/m$/.test(t.label))).toBe(true); // plain numbers, no SI prefixes
  });
});

describe('meshes', () => {
  it('place vertices on the display box with heights on the scale, and drop triangles touching a null', () => {
    const s = gridSurface(axis(3), axis(3, 0, 2), (x, y) => (x === 1 && y === 2 ? null : x + y));
    const scale = computeScale([named('s', s)]);
    const m = surfaceMesh(s, scale);
    expect([...m.positions.slice(0, 3)]).toEqual([-1, -1, 0]); // (x −1, y 0): loss −1, the minimum
    expect([...m.positions.slice(3 * 4, 3 * 5)].map((v) => +v.toFixed(6))).toEqual([0, 0, +((1 - -1) / (2 - -1)).toFixed(6)]);
    expect(m.valid[8]).toBe(0);
    expect(m.triangles.length / 3).toBe(8 - 2); // 4 cells × 2, less both triangles of the cell whose diagonal ends at the null
    for (const i of m.triangles) expect(m.valid[i]).toBe(1);
    expect(surfaceMesh(s, scale, true).positions.filter((_, i) => i % 3 === 2).every((z) => z === 0)).toBe(true);
  });
  it('normals: exact for planes (any slope, grid, winding up), straight up at a symmetric minimum', () => {
    fc.assert(
      fc.property(fc.double({ min: -3, max: 3, noNaN: true }), fc.double({ min: -3, max: 3, noNaN: true }), fc.integer({ min: 2, max: 7 }), fc.integer({ min: 2, max: 7 }), (p, q, nx, ny) => {
        const s = gridSurface(axis(nx), axis(ny), (x, y) => 10 + p * x + q * y);
        const scale: Scale = { min: 0, max: 20, log: false, zmax: null, empty: false };
        const m = surfaceMesh(s, scale);
        // display z = (10 + p·x + q·y)/20: slope p/20 along display x, q/20 along display y
        const n = [-p / 20, -q / 20, 1];
        const len = Math.hypot(...n);
        for (let i = 0; i < nx * ny; i++) for (let k = 0; k < 3; k++) expect(m.normals[3 * i + k]).toBeCloseTo(n[k]! / len, 5);
      }),
    );
    const para = paraboloid(9);
    const m = surfaceMesh(para, computeScale([named('p', para)]));
    const centre = 4 * 9 + 4;
    expect([...m.normals.slice(3 * centre, 3 * centre + 3)].map((v) => +v.toFixed(6))).toEqual([0, 0, 1]);
    expect([...vertexNormals(new Float32Array(9), new Uint32Array(0))]).toEqual([0, 0, 1, 0, 0, 1, 0, 0, 1]);
  });
  it('heights between grid points are bilinear over the finite corners', () => {
    const s = gridSurface(axis(3), axis(3), (x, y) => 1 + x + 2 * y);
    const m = surfaceMesh(s, computeScale([named('s', s)]));
    expect(gridIndex(s.x, 0.5)).toBe(1.5);
    expect(gridIndex(s.x, -7)).toBe(0);
    expect(heightAt(m, 1.5, 0.5)).toBeCloseTo((1 + 0.5 + 2 * -0.5 - -2) / 6, 6);
  });
});

describe('contour lines', () => {
  it('follow the level sets (circles on a paraboloid), end at the border and at gaps', () => {
    const para = paraboloid(61);
    const scale = computeScale([named('p', para)]);
    const [c] = contourLines(para, scale, [1]);
    const toXY = ([gx, gy]: [number, number]) => [-1 + gx / 30, -1 + gy / 30];
    const pts = c!.lines.flat().map(toXY);
    expect(pts.length).toBeGreaterThan(40);
    for (const [x, y] of pts) expect(Math.abs(Math.hypot(x!, y!) - Math.sqrt(0.5))).toBeLessThan(0.01);
    // a level crossing the border: no piece runs along it, every point inside the grid
    for (const [gx, gy] of contourLines(para, scale, [2]).flatMap((l) => l.lines.flat())) {
      expect(gx).toBeGreaterThanOrEqual(0);
      expect(gx).toBeLessThanOrEqual(60);
      expect(gy).toBeGreaterThanOrEqual(0);
    }
    // a hole of nulls in the saddle: no piece ends or runs beside it
    const holed = gridSurface(axis(41), axis(41), (x, y) => (Math.abs(x) < 0.2 && Math.abs(y) < 0.2 ? null : 1.5 + x * x - y * y));
    const hs = computeScale([named('h', holed)]);
    for (const level of contourLevels(hs)) {
      for (const [gx, gy] of contourLines(holed, hs, [level])[0]!.lines.flat()) {
        const [x, y] = [-1 + gx / 20, -1 + gy / 20];
        expect(Math.max(Math.abs(x), Math.abs(y)), `level ${level} at (${x}, ${y})`).toBeGreaterThanOrEqual(0.2);
      }
    }
  });
});

describe('plan paths', () => {
  it('come from provenance.plan.coords: a path for trajectory, marks for plane3, lifted onto the surface', () => {
    const coords = [[-0.5, 0.5], [0, 0.25], [0, 0]];
    const t = gridSurface(axis(5), axis(5), (x, y) => 1 + x * x + y * y, { plan: { kind: 'trajectory', coords, explained: [0.9, 0.1] } });
    const path = planPath(t)!;
    expect(path.kind).toBe('path');
    expect(path.points.map((p) => p.label)).toEqual(['start', null, 'end']);
    expect(planPath(gridSurface(axis(5), axis(5), () => 1, { plan: { kind: 'plane3', coords } }))!.points.map((p) => p.label)).toEqual(['p₀', 'p₁', 'p₂']);
    expect(planPath(paraboloid(5))).toBeNull();
    const m = surfaceMesh(t, computeScale([named('t', t)]));
    const d = pathDisplay(path, t, m, false);
    expect(d[2]).toEqual([0, 0, 0]); // the end, at the minimum
    expect(d[0]![0]).toBe(-0.5);
    expect(d[0]![2]).toBeCloseTo(0.25, 6); // loss 1.5 on [1, 3]: bilinear between grid points is exact here
    expect(pathDisplay(path, t, m, true).every((p) => p[2] === 0)).toBe(true);
  });
});

describe('cameras and picking', () => {
  it('the display box fits the view at zoom 1 from every side; the top view maps the grid onto the viewport', () => {
    for (const azimuth of [-180, -120, -60, 0, 45, 90, 170]) {
      for (const elevation of [-30, 0, 30, 60, 89]) {
        const m = orbitCamera({ azimuth, elevation, zoom: 1 });
        for (const c of [[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0], [-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]]) {
          const p = project(m, c)!;
          expect(Math.max(Math.abs(p[0]), Math.abs(p[1])), `corner ${c} at azimuth ${azimuth}, elevation ${elevation}`).toBeLessThan(1);
        }
      }
    }
    expect(project(topCamera(), [1, -1, 0])!.slice(0, 2)).toEqual([1, -1]);
  });
  it('pick the grid point under a pixel, in the contour view and in 3-D, front-most first', () => {
    const s = saddle(21);
    for (const view of ['contour', '3d'] as const) {
      const fig = planFigure([named('s.json', s)], { view, elevation: 45 });
      for (const [ix, iy] of [[10, 10], [3, 17], [15, 4]]) {
        const at = pointPixel(fig, 0, fig.initialView, ix, iy)!;
        const p = pickPoint(fig, fig.initialView, at[0] + 0.3, at[1] - 0.2);
        expect(p, `${view} (${ix}, ${iy})`).toMatchObject({ panel: 0, name: 's.json', ix, iy, x: s.x[ix], y: s.y![iy], loss: s.loss[iy]![ix] });
      }
      expect(pickPoint(fig, fig.initialView, 2, 2)).toBeNull();
    }
  });
});

describe('figures', () => {
  const a = named('a.json', paraboloid(11));
  it('refuse surfaces on different grids on a shared scale, naming both grids; own scales take them', () => {
    const b = named('b.json', gridSurface(axis(7), axis(7, 0, 2), () => 1));
    expect(() => planFigure([a, b])).toThrow('a shared scale needs surfaces on one grid: a.json is 11×11 on x [-1, 1], y [-1, 1], b.json is 7×7 on x [-1, 1], y [0, 2]');
    const fig = planFigure([a, b], { scale: 'own' });
    expect(fig.panels.map((p) => p.scale.max)).toEqual([2.5, 1]);
    expect(fig.panels.every((p) => p.colorbar)).toBe(true);
  });
  it('share one scale by default; check options before anything else', () => {
    const b = named('b.json', gridSurface(axis(11), axis(11), (x, y) => 3 + x * y));
    const fig = planFigure([a, b]);
    expect(fig.shared).toBe(true);
    expect(fig.panels[0]!.scale).toBe(fig.panels[1]!.scale);
    expect(fig.panels[0]!.scale).toMatchObject({ min: 0.5, max: 4 });
    expect(() => planFigure([a], { view: 'top' as '3d' })).toThrow('--view: expected 3d or contour, got "top"');
    expect(() => planFigure([a], { colormap: 'jet' })).toThrow('colormap: unknown "jet"');
    expect(() => planFigure([a], { width: 10.5 })).toThrow('--width: expected a whole number of pixels');
    expect(() => planFigure([a], { zmax: 0.2 })).toThrow('--zmax 0.2 is not above the lowest loss, 0.5 in a.json');
    expect(() => planFigure([])).toThrow('render: no surfaces given');
  });
  it('an all-NaN surface is drawn empty, with a warning and the legend saying so; the slice is stated or its absence flagged', () => {
    const empty = named('nan.json', gridSurface(axis(11), axis(11), () => null, {}));
    const fig = planFigure([a, empty]);
    expect(fig.warnings).toEqual(['nan.json: all 121 points are non-finite: drawn empty', 'nan.json: slice not stated: the file has no provenance.plan']);
    expect(fig.panels[1]!.mesh!.triangles.length).toBe(0);
    const svg = figureSvg(fig, fig.initialView);
    expect(svg).toContain('all 121 points non-finite: nothing to draw');
    expect(svg).toContain('plane: random directions (seeds 0, 1), filter-normalized, 1-D params fixed');
    expect(svg).toContain('loss (linear scale, shared by 2 panels)');
    const holed = named('h.json', gridSurface(axis(11), axis(11), (x) => (x > 0.5 ? null : 1)));
    expect(figureSvg(planFigure([holed], { zmax: 3 }), { azimuth: 0, elevation: 30, zoom: 1 })).toContain('121 points · 33 non-finite (gaps)');
    const clipped = planFigure([a], { zmax: 1 });
    expect(figureSvg(clipped, clipped.initialView)).toMatch(/\d+ above zmax \(clipped\)/);
  });
});
