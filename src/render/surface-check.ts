// Checking what claims to be a surface file before anything is drawn: every error names the file
// and says what is wrong with it. Runs in a page too (no node:* imports).
import type { SurfaceFile } from '../landscape/surface.js';

/** A surface with the name it is shown under (a file's base name, usually). */
export interface NamedSurface {
  name: string;
  surface: SurfaceFile;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkAxis(v: unknown, what: string, fail: (msg: string) => never): number[] {
  if (!Array.isArray(v)) fail(`${what} is ${JSON.stringify(v) ?? 'missing'}, expected an array of coordinates`);
  if (v.length < 2) fail(`${what} has ${v.length} value(s), need at least 2`);
  const bad = v.findIndex((a) => typeof a !== 'number' || !Number.isFinite(a));
  if (bad >= 0) fail(`${what}[${bad}] is ${JSON.stringify(v[bad])}, expected a finite number`);
  const down = v.findIndex((a, i) => i > 0 && !(a > v[i - 1]));
  if (down >= 0) fail(`${what} must increase: ${what}[${down - 1}] = ${v[down - 1]}, ${what}[${down}] = ${v[down]}`);
  return v as number[];
}

function checkValues(v: unknown, what: string, ny: number, nx: number, fail: (msg: string) => never): void {
  if (!Array.isArray(v)) fail(`${what} is ${v === undefined ? 'missing' : typeof v}, expected ${ny} row(s) of ${nx} values`);
  if (v.length !== ny) fail(`${what} has ${v.length} row(s), the grid has ${ny} (${ny === 1 ? 'a line' : 'y values'})`);
  v.forEach((row: unknown, iy) => {
    if (!Array.isArray(row) || row.length !== nx) fail(`${what}[${iy}] has ${Array.isArray(row) ? row.length : 'no'} values, x has ${nx}`);
    const bad = row.findIndex((a) => a !== null && (typeof a !== 'number' || !Number.isFinite(a)));
    if (bad >= 0) fail(`${what}[${iy}][${bad}] is ${JSON.stringify(row[bad])}, expected a finite number or null`);
  });
}

/**
 * Checks that `value` (parsed JSON) is a `losscape-surface/1` file and returns it typed: the
 * format tag, increasing finite axes, loss and accuracy shaped [ny][nx] with numbers or null, and
 * the plan's path coordinates when present. `name` is used in every error.
 */
export function checkSurface(value: unknown, name: string): SurfaceFile {
  const fail = (msg: string): never => {
    throw new Error(`${name}: not a losscape surface: ${msg}`);
  };
  if (!isRecord(value)) fail(`expected a JSON object, got ${Array.isArray(value) ? 'an array' : typeof value}`);
  const v = value as Record<string, unknown>;
  if (v.format !== 'losscape-surface/1') fail(`format is ${JSON.stringify(v.format) ?? 'missing'}, expected "losscape-surface/1"`);
  const x = checkAxis(v.x, 'x', fail);
  const y = v.y === null ? null : checkAxis(v.y, 'y', fail);
  const ny = y?.length ?? 1;
  checkValues(v.loss, 'loss', ny, x.length, fail);
  checkValues(v.accuracy, 'accuracy', ny, x.length, fail);
  if (v.provenance !== undefined && !isRecord(v.provenance)) fail('provenance is not an object');
  const plan = isRecord(v.provenance) ? v.provenance.plan : undefined;
  if (isRecord(plan) && plan.coords !== undefined) {
    const coords = plan.coords;
    const ok = Array.isArray(coords) && coords.every((c) => Array.isArray(c) && c.length === 2 && c.every((a) => typeof a === 'number' && Number.isFinite(a)));
    if (!ok) fail('provenance.plan.coords must be a list of [x, y] pairs of finite numbers');
  }
  return {
    format: 'losscape-surface/1',
    x,
    y,
    loss: v.loss as SurfaceFile['loss'],
    accuracy: v.accuracy as SurfaceFile['accuracy'],
    nonFinite: Array.isArray(v.nonFinite) ? (v.nonFinite as SurfaceFile['nonFinite']) : [],
    provenance: isRecord(v.provenance) ? v.provenance : {},
  };
}

/** Parses JSON text and checks it (`checkSurface`), naming the file on a syntax error too. */
export function parseSurface(text: string, name: string): SurfaceFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${name}: not a losscape surface: not JSON (${(e as Error).message})`);
  }
  return checkSurface(value, name);
}

/** "21×21 on x [-1, 1], y [-1, 1]" (or "41 points on x [0, 1]" for a line). */
export function gridText(s: SurfaceFile): string {
  const r = (a: number[]) => `[${a[0]}, ${a.at(-1)}]`;
  return s.y ? `${s.x.length}×${s.y.length} on x ${r(s.x)}, y ${r(s.y)}` : `${s.x.length} points on x ${r(s.x)}`;
}

const sameAxis = (a: number[] | null, b: number[] | null) => a === b || (a !== null && b !== null && a.length === b.length && a.every((v, i) => v === b[i]));

/** Refuses surfaces on different grids (a shared scale compares like with like): names both. */
export function checkSameGrid(surfaces: NamedSurface[]): void {
  const [first, ...rest] = surfaces;
  for (const s of rest) {
    if (!sameAxis(first!.surface.x, s.surface.x) || !sameAxis(first!.surface.y, s.surface.y)) {
      throw new Error(
        `a shared scale needs surfaces on one grid: ${first!.name} is ${gridText(first!.surface)}, ${s.name} is ${gridText(s.surface)} (use --scale own to draw each on its own scale)`,
      );
    }
  }
}
