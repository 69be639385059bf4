// Contour lines of a surface at given loss levels (d3-contour's marching squares), as polylines in
// fractional grid indices (ix, iy). Levels are placed on the scale's transform (log10 for a log
// scale), the same one the colours interpolate in. The lines d3-contour closes around the grid's
// border, and any piece ending beside a null point, are left out: contours end at the
// grid's edge and at gaps.
import { contours } from 'd3-contour';
import type { SurfaceFile } from '../landscape/surface.js';
import type { Scale } from './scale.js';

export interface ContourLine {
  level: number;
  /** polylines, each a list of [ix, iy] in fractional grid indices */
  lines: Array<Array<[number, number]>>;
}

export function contourLines(s: SurfaceFile, scale: Scale, levels: number[]): ContourLine[] {
  if (!s.y) return [];
  const [nx, ny] = [s.x.length, s.y.length];
  const f = scale.log ? Math.log10 : (a: number) => a;
  const values = s.loss.flatMap((row) => row.map((v) => (v === null ? NaN : f(v))));
  const valid = (ix: number, iy: number) => s.loss[iy]![ix] !== null;
  // beside a gap d3-contour does not interpolate (a null counts as -∞): a segment is kept when the
  // grid points next to its ends, and the corners of every cell its middle touches, are all finite
  const around = (g: number, n: number, cells: boolean) =>
    (Number.isInteger(g) ? (cells ? [g - 1, g, g + 1] : [g]) : [Math.floor(g), Math.floor(g) + 1]).filter((i) => i >= 0 && i < n);
  const finiteAround = ([gx, gy]: [number, number], cells: boolean) =>
    around(gx, nx, cells).every((ix) => around(gy, ny, cells).every((iy) => valid(ix, iy)));
  const onBorder = (p: number[]) => p[0] === 0 || p[0] === nx || p[1] === 0 || p[1] === ny;
  const gen = contours().size([nx, ny]);
  return levels.map((level) => {
    const lines: Array<Array<[number, number]>> = [];
    for (const polygon of gen.contour(values, f(level)).coordinates) {
      for (const ring of polygon) {
        let current: Array<[number, number]> = [];
        for (let i = 0; i + 1 < ring.length; i++) {
          const [a, b] = [ring[i]!, ring[i + 1]!];
          // d3-contour puts value i at the centre of pixel [i, i + 1]: grid index = coordinate − ½
          const [ga, gb]: Array<[number, number]> = [[a[0]! - 0.5, a[1]! - 0.5], [b[0]! - 0.5, b[1]! - 0.5]];
          const mid: [number, number] = [(ga[0] + gb[0]) / 2, (ga[1] + gb[1]) / 2];
          const keep = !onBorder(a) && !onBorder(b) && finiteAround(ga, false) && finiteAround(gb, false) && finiteAround(mid, true);
          if (keep) {
            if (current.length === 0) current.push(ga);
            current.push(gb);
          } else if (current.length) {
            lines.push(current);
            current = [];
          }
        }
        if (current.length) lines.push(current);
      }
    }
    return { level, lines };
  });
}
