// Shared test plumbing: a fresh random seed per run (printed in every failure, settable through
// LOSSCAPE_TEST_SEED to replay one), random inputs, and the relative-error check.
import { expect } from 'vitest';
import { fromArray, hostRandom, type Tensor } from '../src/index.js';
import { relativeError } from '../src/tensor/shape.js';
import { ref, type Ref } from './reference.js';

export const SEED = Number(process.env.LOSSCAPE_TEST_SEED ?? ((Date.now() ^ (process.pid << 10)) >>> 0));
const seedNote = `seed ${SEED} (replay with LOSSCAPE_TEST_SEED=${SEED})`;

/** A seeded host-side PRNG for test inputs (the data loader's mulberry32). */
export function hostRng(seed = SEED): () => number {
  return hostRandom(seed);
}

const rng = hostRng();

/** Random f32-representable values uniform in [lo, hi), as a GPU tensor and its float64 reference. */
export function randomPair(shape: readonly number[], lo = -1, hi = 1): [Tensor, Ref] {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = Float32Array.from({ length: n }, () => lo + (hi - lo) * rng());
  return [fromArray(data, shape), ref(shape, data)];
}

export function randomInt(lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

export { relativeError };

/**
 * Reads t back and checks shape and values against the reference within `tol` relative error.
 * `scale`, when given, replaces the reference as the error's denominator: a sum of mixed-sign
 * values can cancel to near zero, where f32 rounding (about eps·Σ|x|) is large against the result
 * however good the kernel; its condition-aware measure is ‖out − ref‖ / ‖Σ|x|‖.
 */
export async function expectClose(t: Tensor, expected: Ref, tol: number, what: string, scale?: Ref): Promise<void> {
  const out = await t.toArray();
  expect([...t.shape], `${what}: shape; ${seedNote}`).toEqual(expected.shape);
  expect(out.length, `${what}: length; ${seedNote}`).toBe(expected.data.length);
  const nan = out.findIndex((v) => Number.isNaN(v));
  expect(nan, `${what}: NaN (unwritten output?) at index ${nan}; ${seedNote}`).toBe(-1);
  const err = scale ? absoluteError(out, expected.data) / norm(scale.data) : relativeError(out, expected.data);
  expect(err, `${what}: relative error ${err.toExponential(2)} > ${tol}; ${seedNote}`).toBeLessThanOrEqual(tol);
}

/** Exact equality of values (integer results, data movement). */
export async function expectEqual(t: Tensor, expected: Ref, what: string): Promise<void> {
  const out = await t.toArray();
  expect([...t.shape], `${what}: shape; ${seedNote}`).toEqual(expected.shape);
  expect([...out], `${what}; ${seedNote}`).toEqual([...expected.data]);
}

function absoluteError(out: ArrayLike<number>, ref: ArrayLike<number>): number {
  let sq = 0;
  for (let i = 0; i < ref.length; i++) sq += (out[i]! - ref[i]!) ** 2;
  return Math.sqrt(sq);
}

function norm(v: ArrayLike<number>): number {
  return absoluteError(v, new Float64Array(v.length));
}
