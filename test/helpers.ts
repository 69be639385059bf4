// Shared test plumbing: a fresh random seed per run (printed in every failure, settable through
// LOSSCAPE_TEST_SEED to replay one), random inputs, and the checks against the float64 reference.
import { expect } from 'vitest';
import type { Tensor } from '../src/index.js';
import type { Ref } from './reference.js';
import { SEED, seedNote } from './seed.js';

export { SEED, seedNote };
export { expectClose, hostRng, randomInt, randomPair } from './check.js';

/** Exact equality of values (integer results, data movement). */
export async function expectEqual(t: Tensor, expected: Ref, what: string): Promise<void> {
  const out = await t.toArray();
  expect([...t.shape], `${what}: shape; ${seedNote}`).toEqual(expected.shape);
  expect([...out], `${what}; ${seedNote}`).toEqual([...expected.data]);
}
