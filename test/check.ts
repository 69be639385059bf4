// Random inputs and the check against the float64 reference, without vitest, so that bench/ can
// check what it times with them too (test/helpers.ts re-exports them for the tests).
import { fromArray, hostRandom, type Tensor } from '../src/index.js';
import { assertClose, type Tolerance } from './compare.js';
import { ref, type Ref } from './reference.js';
import { SEED, seedNote } from './seed.js';

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
  if (t.shape.join() !== expected.shape.join()) throw new Error(`${what}: shape [${t.shape}], expected [${expected.shape}]; ${seedNote}`);
  assertClose(out, expected.data, tol, what, { scale: scale && 'data' in scale ? scale.data : scale, shape: expected.shape });
}
