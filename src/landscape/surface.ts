// Surface files: the evaluated grid with everything needed to reproduce it, as JSON (the primary
// format), CSV (one row per point) and legacy VTK structured grid (ParaView). Orientation, for
// every format: values[iy][ix] is the metric at (x[ix], y[iy]), x along d₁.
import type { PointResult } from './evaluate.js';

export interface SurfaceFile {
  format: 'losscape-surface/1';
  x: number[];
  /** null for a line */
  y: number[] | null;
  /** [ny][nx] (a line: one row); a non-finite loss is stored as null and flagged */
  loss: Array<Array<number | null>>;
  accuracy: Array<Array<number | null>>;
  /** indices [iy, ix] of points whose loss overflowed (stored as null) */
  nonFinite: Array<[number, number]>;
  /** what produced it: model and checkpoint hashes, seed, normalization, plan, data, adapter, timings */
  provenance: Record<string, unknown>;
}

export function buildSurface(x: number[], y: number[] | null, results: PointResult[], provenance: Record<string, unknown>): SurfaceFile {
  const ny = y?.length ?? 1;
  const nx = x.length;
  if (results.length !== nx * ny) throw new Error(`surface: ${results.length} results for a ${ny}x${nx} grid`);
  const nonFinite: Array<[number, number]> = [];
  const loss: Array<Array<number | null>> = [];
  const accuracy: Array<Array<number | null>> = [];
  for (let iy = 0; iy < ny; iy++) {
    loss.push([]);
    accuracy.push([]);
    for (let ix = 0; ix < nx; ix++) {
      const r = results[iy * nx + ix]!;
      const ok = Number.isFinite(r.loss);
      if (!ok) nonFinite.push([iy, ix]);
      loss[iy]!.push(ok ? r.loss : null);
      accuracy[iy]!.push(Number.isFinite(r.accuracy) ? r.accuracy : null);
    }
  }
  return { format: 'losscape-surface/1', x, y, loss, accuracy, nonFinite, provenance };
}

export interface SurfaceSummary {
  /** loss at the grid point nearest (0, 0): the origin of the plan (the checkpoint for line/plane) */
  centre: { x: number; y: number | null; loss: number | null };
  /** the lowest loss on the grid and where */
  minimum: { x: number; y: number | null; loss: number } | null;
  /** the highest loss on the grid's border (a line: its two ends) */
  edgeMax: number | null;
  /** points whose loss is not finite */
  nonFinite: number;
  points: number;
}

const nearest = (v: number[], t: number) => v.reduce((best, c, i) => (Math.abs(c - t) < Math.abs(v[best]! - t) ? i : best), 0);

/** The numbers a run ends with: centre value, minimum and where, edge maximum, non-finite count. */
export function summarizeSurface(s: SurfaceFile): SurfaceSummary {
  const ys = s.y ?? [0];
  const [cx, cy] = [nearest(s.x, 0), nearest(ys, 0)];
  let minimum: SurfaceSummary['minimum'] = null;
  let edgeMax: number | null = null;
  ys.forEach((yv, iy) =>
    s.x.forEach((xv, ix) => {
      const v = s.loss[iy]![ix];
      if (v === null || v === undefined) return;
      if (!minimum || v < minimum.loss) minimum = { x: xv, y: s.y ? yv : null, loss: v };
      const edge = ix === 0 || ix === s.x.length - 1 || (s.y !== null && (iy === 0 || iy === ys.length - 1));
      if (edge && (edgeMax === null || v > edgeMax)) edgeMax = v;
    }),
  );
  return {
    centre: { x: s.x[cx]!, y: s.y ? ys[cy]! : null, loss: s.loss[cy]![cx] ?? null },
    minimum, edgeMax, nonFinite: s.nonFinite.length, points: s.x.length * ys.length,
  };
}

export function surfaceCsv(s: SurfaceFile): string {
  const rows = ['x,y,loss,accuracy'];
  (s.y ?? [0]).forEach((yv, iy) =>
    s.x.forEach((xv, ix) => rows.push(`${xv},${yv},${s.loss[iy]![ix] ?? 'nan'},${s.accuracy[iy]![ix] ?? 'nan'}`)),
  );
  return `${rows.join('\n')}\n`;
}

/**
 * Legacy VTK structured grid: points (x, y, loss) and point data loss and accuracy (x fastest).
 * VTK's ASCII reader cannot parse "nan", so a point whose loss is not finite is written at the
 * grid's highest finite loss and hidden with VTK's own blanking: a `vtkGhostType` array (written only
 * when there are such points) with HIDDENPOINT (2) there, which ParaView leaves out. An accuracy that
 * is not finite is written as -1 (it is never finite where the loss is not; MSE runs have none: the
 * accuracy array is left out).
 */
export function surfaceVtk(s: SurfaceFile): string {
  const ys = s.y ?? [0];
  const nx = s.x.length;
  const ny = ys.length;
  const finite = s.loss.flat().filter((v): v is number => v !== null);
  const fill = finite.length ? Math.max(...finite) : 0;
  const each = (f: (iy: number, ix: number) => string) => ys.flatMap((_, iy) => s.x.map((__, ix) => f(iy, ix)));
  const loss = (iy: number, ix: number) => String(s.loss[iy]![ix] ?? fill);
  const lines = ['# vtk DataFile Version 3.0', 'losscape loss surface', 'ASCII', 'DATASET STRUCTURED_GRID', `DIMENSIONS ${nx} ${ny} 1`, `POINTS ${nx * ny} double`];
  lines.push(...each((iy, ix) => `${s.x[ix]} ${ys[iy]} ${loss(iy, ix)}`));
  lines.push(`POINT_DATA ${nx * ny}`, 'SCALARS loss double 1', 'LOOKUP_TABLE default', ...each(loss));
  if (s.accuracy.flat().some((v) => v !== null)) lines.push('SCALARS accuracy double 1', 'LOOKUP_TABLE default', ...each((iy, ix) => String(s.accuracy[iy]![ix] ?? -1)));
  if (s.nonFinite.length) lines.push('SCALARS vtkGhostType unsigned_char 1', 'LOOKUP_TABLE default', ...each((iy, ix) => (s.loss[iy]![ix] === null ? '2' : '0')));
  return `${lines.join('\n')}\n`;
}

/** Parses a legacy VTK structured grid as written above (for tests and for checking files). */
export function parseVtk(text: string): { dims: [number, number, number]; points: number[][]; data: Record<string, number[]> } {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.length);
  if (!lines[0]?.startsWith('# vtk DataFile')) throw new Error('vtk: missing "# vtk DataFile" header');
  if (lines[2] !== 'ASCII' || lines[3] !== 'DATASET STRUCTURED_GRID') throw new Error('vtk: not an ASCII structured grid');
  const dims = lines[4]!.split(/\s+/).slice(1).map(Number) as [number, number, number];
  const n = dims[0] * dims[1] * dims[2];
  const header = lines[5]!.split(/\s+/);
  if (header[0] !== 'POINTS' || Number(header[1]) !== n) throw new Error(`vtk: POINTS ${header[1]} for dimensions ${dims}`);
  const points = lines.slice(6, 6 + n).map((l) => l.split(/\s+/).map(Number));
  const data: Record<string, number[]> = {};
  let i = 6 + n;
  if (lines[i] !== `POINT_DATA ${n}`) throw new Error('vtk: missing POINT_DATA');
  i++;
  while (i < lines.length) {
    const [kw, name] = lines[i]!.split(/\s+/);
    if (kw !== 'SCALARS' || lines[i + 1] !== 'LOOKUP_TABLE default') throw new Error(`vtk: unexpected line "${lines[i]}"`);
    data[name!] = lines.slice(i + 2, i + 2 + n).map(Number);
    i += 2 + n;
  }
  return { dims, points, data };
}
