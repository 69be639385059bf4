// What is under a figure pixel: the panel, and the grid point nearest to where the pointer meets
// the drawn surface (the front-most triangle under it in 3-D), with the file's own values there
// (loss null at a non-finite point).
import { project, toPixels, type View } from './camera.js';
import { panelCamera, type Figure, type Panel } from './figure.js';

export interface Picked {
  /** index of the panel in the figure */
  panel: number;
  name: string;
  ix: number;
  iy: number;
  x: number;
  /** null on a line */
  y: number | null;
  loss: number | null;
  accuracy: number | null;
}

const nearest = (axis: readonly number[], v: number) => axis.reduce((best, a, i) => (Math.abs(a - v) < Math.abs(axis[best]! - v) ? i : best), 0);

/** The front-most kept triangle under (px, py) and its vertex nearest the pointer, or null. */
function pickMesh(fig: Figure, p: Panel, view: View, px: number, py: number): [number, number] | null {
  const mesh = p.mesh!;
  const cam = panelCamera(fig, p, view);
  const n = mesh.valid.length;
  const screen = new Float64Array(3 * n);
  for (let i = 0; i < n; i++) {
    const ndc = mesh.valid[i] ? project(cam, mesh.positions.subarray(3 * i, 3 * i + 3)) : null;
    const [sx, sy] = ndc ? toPixels(ndc, p.plot) : [NaN, NaN];
    screen.set([sx, sy, ndc ? ndc[2] : NaN], 3 * i);
  }
  let best = -1;
  let bestDepth = Infinity;
  const tris = mesh.triangles;
  for (let t = 0; t < tris.length; t += 3) {
    const [a, b, c] = [tris[t]!, tris[t + 1]!, tris[t + 2]!];
    const [ax, ay, bx, by, cx, cy] = [screen[3 * a]!, screen[3 * a + 1]!, screen[3 * b]!, screen[3 * b + 1]!, screen[3 * c]!, screen[3 * c + 1]!];
    const det = (by - cy) * (ax - cx) + (cx - bx) * (ay - cy);
    if (!(Math.abs(det) > 1e-12)) continue;
    const wa = ((by - cy) * (px - cx) + (cx - bx) * (py - cy)) / det;
    const wb = ((cy - ay) * (px - cx) + (ax - cx) * (py - cy)) / det;
    const wc = 1 - wa - wb;
    if (wa < 0 || wb < 0 || wc < 0) continue;
    const depth = wa * screen[3 * a + 2]! + wb * screen[3 * b + 2]! + wc * screen[3 * c + 2]!;
    if (depth < bestDepth) {
      bestDepth = depth;
      best = wa >= wb && wa >= wc ? a : wb >= wc ? b : c;
    }
  }
  return best < 0 ? null : [best % mesh.nx, Math.floor(best / mesh.nx)];
}

/** The grid point under figure pixel (px, py) seen from `view`, or null when none is. */
export function pickPoint(fig: Figure, view: View, px: number, py: number): Picked | null {
  const i = fig.panels.findIndex((p) => px >= p.plot.x && px <= p.plot.x + p.plot.w && py >= p.plot.y && py <= p.plot.y + p.plot.h);
  const p = fig.panels[i];
  if (!p) return null;
  const s = p.surface;
  let at: [number, number] | null;
  if (p.kind === 'line' || fig.view === 'contour') {
    const u = (px - p.plot.x) / p.plot.w;
    const v = 1 - (py - p.plot.y) / p.plot.h;
    const ix = nearest(s.x, s.x[0]! + u * (s.x.at(-1)! - s.x[0]!));
    at = s.y ? [ix, nearest(s.y, s.y[0]! + v * (s.y.at(-1)! - s.y[0]!))] : [ix, 0];
  } else at = pickMesh(fig, p, view, px, py);
  if (!at) return null;
  const [ix, iy] = at;
  return { panel: i, name: p.name, ix, iy, x: s.x[ix]!, y: s.y ? s.y[iy]! : null, loss: s.loss[iy]![ix]!, accuracy: s.accuracy[iy]![ix]! };
}
