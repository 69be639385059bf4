// Shared test plumbing: a fresh random seed per run (printed in every failure, settable through
// LOSSCAPE_TEST_SEED to replay one), random inputs, and the checks against the float64 reference.
import { expect } from 'vitest';
import { fromArray, hostRandom, type Tensor } from '../src/index.js';
import { assertClose, type Tolerance } from './compare.js';
import { ref, type Ref } from './reference.js';
import { SEED, seedNote } from './seed.js';

export { SEED, seedNote };

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

/**
 * Reads t back and checks its shape, then every element against the reference within the
 * tolerance (test/compare.ts): |out − ref| ≤ atol + rtol·scale, scale |ref| unless given (the
 * condition-aware magnitude of each element: Σ|x| for a sum, Σ|aₖbₖ| for a dot product, a
 * reference autograd's magnitudes for a composed op).
 */
export async function expectClose(t: Tensor, expected: Ref, tol: Tolerance, what: string, scale?: Ref | ArrayLike<number>): Promise<void> {
  const out = await t.toArray();
  expect([...t.shape], `${what}: shape; ${seedNote}`).toEqual(expected.shape);
  assertClose(out, expected.data, tol, what, { scale: scale && 'data' in scale ? scale.data : scale, shape: expected.shape });
}

/** Exact equality of values (integer results, data movement). */
export async function expectEqual(t: Tensor, expected: Ref, what: string): Promise<void> {
  const out = await t.toArray();
  expect([...t.shape], `${what}: shape; ${seedNote}`).toEqual(expected.shape);
  expect([...out], `${what}; ${seedNote}`).toEqual([...expected.data]);
}
