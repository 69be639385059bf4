// The comparator itself (test/compare.ts), on the host: it must catch one wrong small element that a
// whole-array norm lets through, hold sums to the rounding their terms allow, and say where and what.
import { describe, expect, it } from 'vitest';
import { assertClose, compare, EXACT, F32, U32 } from './compare.js';
import { hostRng, SEED } from './helpers.js';
import * as A from './ref-autograd.js';
import * as R from './reference.js';

const rng = hostRng(SEED ^ 0xc0);
const f32 = (v: ArrayLike<number>) => Float64Array.from(v, Math.fround);
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
/** the measure the suite used before: ‖out − ref‖ / ‖ref‖ */
const normError = (out: ArrayLike<number>, ref: ArrayLike<number>) =>
  Math.sqrt(Array.from(ref).reduce((s, r, i) => s + (out[i]! - r) ** 2, 0) / Array.from(ref).reduce((s, r) => s + r * r, 0));

describe('the comparator', () => {
  // the inputs of the sigmoid test: uniform on [-30, 30], here with -20 among them
  const x = f32([-20, ...Array.from({ length: 1030 }, () => -30 + 60 * rng())]);
  const ref = x.map(sigmoid);
  const scale = A.unary(A.leaf(R.ref([x.length], x)), sigmoid, (v) => sigmoid(v) * (1 - sigmoid(v))).mag;

  it('passes a correctly rounded result, element by element', () => {
    assertClose(f32(ref), ref, F32.pointwise, 'sigmoid rounded to f32', { scale });
    expect(compare(f32(ref), ref, EXACT).failures).toBeGreaterThan(0); // rounding is not exactness
  });

  it('catches a sigmoid that gives 0 at x = -20, which the norm measure let through', () => {
    const broken = f32(ref);
    broken[0] = 0; // sigmoid(-20) = 2.06e-9
    expect(normError(broken, ref)).toBeLessThan(1e-6); // what the old check accepted
    expect(() => assertClose(broken, ref, F32.pointwise, 'broken sigmoid', { scale })).toThrow(
      /broken sigmoid: 1 of 1031 elements outside .* worst at index 0: out 0, ref 2\.06115362e-9, .* seed \d+ \(replay with LOSSCAPE_TEST_SEED=\d+\)/,
    );
  });

  it('catches an exp that returns 0 below -4, on the exp test range', () => {
    const xs = f32(Array.from({ length: 1031 }, () => -10 + 20 * rng()));
    const want = xs.map(Math.exp);
    const broken = xs.map((v) => (v < -4 ? 0 : Math.fround(Math.exp(v))));
    expect(normError(broken, want)).toBeLessThan(1e-6);
    expect(compare(broken, want, F32.pointwise).failures).toBeGreaterThan(0);
  });

  it('holds a sum that cancels to its terms Σ|x|, not to its tiny result', () => {
    const terms = [1, -1 + 2 ** -20, 3e-7];
    const exact = R.sumOf(terms);
    const sumAbs = R.sumOf(terms.map(Math.abs));
    const rounded = exact + 3 * U32 * sumAbs; // an f32 summation's error: a few u·Σ|x|
    assertClose([rounded], [exact], F32.accumulate, 'cancelling sum', { scale: [sumAbs] });
    expect(compare([rounded], [exact], F32.accumulate).failures).toBe(1); // against |ref| alone it would fail
    expect(compare([exact + 1e-3 * sumAbs], [exact], F32.accumulate, [sumAbs]).failures).toBe(1); // a wrong sum still fails
  });

  it('gives a dot product the scale Σ|aₖbₖ| and a sum Σ|xₖ| through the reference magnitudes', () => {
    const a = R.ref([2, 3], [1, -2, 3, -4, 5, -6]);
    const b = R.ref([3, 1], [0.5, 0.25, -1]);
    const prod = A.matmul(A.leaf(a), A.leaf(b));
    // own rounding and the inputs' (leaves count |x| as their rounding): 2·Σ|aₖbₖ|
    expect([...prod.mag]).toEqual([2 * (0.5 + 0.5 + 3), 2 * (2 + 1.25 + 6)]);
    expect([...A.sum(A.leaf(a), [1]).mag]).toEqual([6, 15]);
  });

  it('fails NaN (an unwritten output) and infinities the reference lacks; matches NaN and ±∞ where it has them', () => {
    expect(() => assertClose([1, NaN], [1, 2], F32.pointwise, 'poisoned')).toThrow(/NaN: an unwritten output\?/);
    expect(compare([Infinity], [3e38], F32.pointwise).failures).toBe(1);
    expect(compare([NaN, Infinity, -Infinity], [NaN, Infinity, -Infinity], EXACT).failures).toBe(0);
    expect(compare([Infinity], [-Infinity], EXACT).failures).toBe(1);
  });

  it('names the worst element by its coordinates', () => {
    const want = Array.from({ length: 24 }, (_, i) => i + 1);
    const got = [...want];
    got[17] = 18.5;
    got[3] = 4.01;
    expect(() => assertClose(got, want, F32.pointwise, 'grid', { shape: [2, 3, 4] })).toThrow(/2 of 24 elements .* worst at index 17 \[1, 1, 1\]: out 18\.5, ref 18/);
  });
});
