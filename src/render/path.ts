// The checkpoints a plan stores in the surface file: the projected training path of a
// `trajectory` plan, the three points of a `plane3` plan (`provenance.plan.coords`, in the grid's
// own coordinates), placed on the drawn surface.
import type { SurfaceFile } from '../landscape/surface.js';
import { gridIndex, heightAt, toDisplay, type SurfaceMesh } from './mesh.js';

export interface PlanPath {
  /** a path is drawn as a line through its points; `points` as separate marks */
  kind: 'path' | 'points';
  points: Array<{ x: number; y: number; label: string | null }>;
}

const subscript = (i: number) => String(i).replace(/\d/g, (d) => '₀₁₂₃₄₅₆₇₈₉'[Number(d)]!);

/** The plan's checkpoints, or null when the file has none (or is a line). */
export function planPath(s: SurfaceFile): PlanPath | null {
  const plan = s.provenance.plan as { kind?: unknown; coords?: Array<[number, number]> } | undefined;
  if (!s.y || !plan?.coords?.length) return null;
  const c = plan.coords;
  if (plan.kind === 'trajectory') {
    return { kind: 'path', points: c.map(([x, y], i) => ({ x, y, label: i === 0 ? 'start' : i === c.length - 1 ? 'end' : null })) };
  }
  return { kind: 'points', points: c.map(([x, y], i) => ({ x, y, label: `p${subscript(i)}` })) };
}

/** The points in display coordinates, lifted onto the surface's height (0 over a gap). */
export function pathDisplay(path: PlanPath, s: SurfaceFile, mesh: SurfaceMesh, flat: boolean): Array<[number, number, number]> {
  const ys = s.y!;
  return path.points.map((p) => [toDisplay(s.x, p.x), toDisplay(ys, p.y), flat ? 0 : (heightAt(mesh, gridIndex(s.x, p.x), gridIndex(ys, p.y)) ?? 0)]);
}
