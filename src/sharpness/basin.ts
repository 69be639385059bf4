// Basin width along each direction of a loss surface (losscape-surface/1, src/landscape/surface.ts):
// the distance from the centre (coordinate 0, the checkpoint) at which the loss first rises by Δ
// above the centre's loss (Δ absolute, or relative: Δ·|L(0)|), on both sides, by linear
// interpolation between grid points. A line has one axis; a plane is read along the x axis
// through y = 0 and along the y axis through x = 0 (rows or columns interpolated where 0 falls
// between grid lines). A side where the loss never rises that far is 'beyond range'; a
// non-finite (overflowed, null) value counts as a rise, at its grid point.
import type { SurfaceFile } from '../landscape/surface.js';

export interface BasinOptions {
  /** the rise Δ > 0 */
  delta: number;
  /** Δ relative to the centre's loss instead of absolute */
  relative?: boolean;
}

export type Side = number | 'beyond range';

export interface BasinAxis {
  axis: 'x' | 'y';
  /** the line read: "y = 0" (a plane's x axis), "x = 0", or "line" */
  through: string;
  left: Side;
  right: Side;
  /** left + right, or 'beyond range' when a side is */
  width: Side;
}

export interface BasinResult {
  centreLoss: number;
  threshold: number;
  axes: BasinAxis[];
  definition: string;
}

type Profile = Array<number | null>;

/** The profile at coordinate c of a family of profiles indexed by `coords`, interpolating linearly. */
function at(coords: number[], c: number, profile: (i: number) => Profile): Profile {
  const i = coords.findIndex((v, k) => k + 1 < coords.length && v <= c && c <= coords[k + 1]!);
  if (i < 0) throw new Error(`basin width: the grid [${coords[0]}, ${coords.at(-1)}] does not contain the centre 0`);
  const t = (c - coords[i]!) / (coords[i + 1]! - coords[i]!);
  const [a, b] = [profile(i), profile(i + 1)];
  return a.map((va, k) => (t === 0 ? va : t === 1 ? b[k]! : va === null || b[k] === null ? null : va + t * (b[k]! - va)));
}

/** Where the loss first reaches `threshold` walking from the centre over `steps` ([coordinate, loss] outwards). */
function crossing(centre: number, threshold: number, steps: Array<[number, number | null]>): Side {
  let prev: [number, number] = [0, centre];
  for (const [c, l] of steps) {
    if (l === null) return Math.abs(c);
    if (l >= threshold) return Math.abs(prev[0] + ((threshold - prev[1]) / (l - prev[1])) * (c - prev[0]));
    prev = [c, l];
  }
  return 'beyond range';
}

function sides(coords: number[], values: Profile, threshold: number, centre: number): { left: Side; right: Side } {
  const points = coords.map((c, i): [number, number | null] => [c, values[i]!]);
  return {
    right: crossing(centre, threshold, points.filter(([c]) => c > 0)),
    left: crossing(centre, threshold, points.filter(([c]) => c < 0).reverse()),
  };
}

export function basinWidths(surface: SurfaceFile, opts: BasinOptions): BasinResult {
  if (surface.format !== 'losscape-surface/1') throw new Error(`basin width: not a losscape-surface/1 file (format ${JSON.stringify(surface.format)})`);
  if (!(Number.isFinite(opts.delta) && opts.delta > 0)) throw new Error(`basin width: Δ must be a positive number, got ${opts.delta}`);
  const { x, y, loss } = surface;
  const row = (i: number) => loss[i]!;
  const column = (j: number) => loss.map((r) => r[j]!);
  const xProfile = y ? at(y, 0, row) : row(0);
  const centre = at(x, 0, (j) => [xProfile[j]!])[0];
  if (centre === null || centre === undefined || !Number.isFinite(centre)) throw new Error('basin width: the loss at the centre is not finite');
  const threshold = centre + (opts.relative ? opts.delta * Math.abs(centre) : opts.delta);
  if (!(threshold > centre)) throw new Error('basin width: a relative Δ of a zero loss at the centre is no rise; give Δ absolute');
  const axis = (name: 'x' | 'y', through: string, coords: number[], values: Profile): BasinAxis => {
    const { left, right } = sides(coords, values, threshold, centre);
    return { axis: name, through, left, right, width: typeof left === 'number' && typeof right === 'number' ? left + right : 'beyond range' };
  };
  const axes = [axis('x', y ? 'y = 0' : 'line', x, xProfile)];
  if (y) axes.push(axis('y', 'x = 0', y, at(x, 0, column)));
  return {
    centreLoss: centre, threshold, axes,
    definition: `basin width: along each axis through the centre (0), the distance on each side at which the loss first rises to L(0) + ${opts.relative ? `${opts.delta}·|L(0)|` : opts.delta} = ${threshold}, interpolated linearly between grid points ('beyond range' if it never does; a non-finite value counts as a rise at its grid point); width = left + right, in the surface's coordinates`,
  };
}
