import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import { assertClose, F32 } from './compare.js';
import { SEED } from './helpers.js';
import { erf, philoxWords } from './reference.js';

const note = `seed ${SEED} (replay with LOSSCAPE_TEST_SEED=${SEED})`;

function moments(v: ArrayLike<number>): { mean: number; variance: number } {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]!;
  const mean = s / v.length;
  let q = 0;
  for (let i = 0; i < v.length; i++) q += (v[i]! - mean) ** 2;
  return { mean, variance: q / v.length };
}

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ma = moments(a);
  const mb = moments(b);
  let c = 0;
  for (let i = 0; i < a.length; i++) c += (a[i]! - ma.mean) * (b[i]! - mb.mean);
  return c / a.length / Math.sqrt(ma.variance * mb.variance);
}

describe('Philox generator', () => {
  it('matches the Philox4x32-10 reference bit for bit, across the 32-bit seed boundary and offsets', async () => {
    const seed = SEED + 2 ** 33; // the key's high word is used
    const g = new L.Generator(seed);
    const first = await g.uniform([1031]).data();
    expect(g.offset).toBe(258);
    const second = await g.uniform([5, 3]).data();
    const words = philoxWords(seed, 0, 1031 + 1); // a draw starts on a fresh block: 1031 -> 258 blocks
    expect([...first], note).toEqual(words.slice(0, 1031).map((w) => (w >>> 8) / 2 ** 24));
    expect([...second], note).toEqual(philoxWords(seed, 258, 15).map((w) => (w >>> 8) / 2 ** 24));
  });

  it('draws normals by Box–Muller on the same bits, within f32 transcendental precision', async () => {
    const g = new L.Generator(SEED);
    const n = 4099;
    const out = await g.normal([n], 0.5, 2).data();
    const w = philoxWords(SEED, 0, n + 1);
    const expected = new Float64Array(n);
    // each value's scale: the mean; 2r times the cosine (sine) and its sensitivity to the rounded
    // angle; and r's to ln u₁, which WGSL computes within 2⁻²¹ absolute only (on [0.5, 1]; llvmpipe
    // uses that latitude just below 1, where r is small): δr = δ(ln u₁)/r, written in units of the bound
    const logSlack = 2 ** -21 / F32.pointwise.rtol;
    const scale = new Float64Array(n);
    for (let i = 0; i < n; i += 2) {
      const u1 = ((w[i]! >>> 8) + 1) / 2 ** 24;
      const u2 = (w[i + 1]! >>> 8) / 2 ** 24;
      const r = Math.sqrt(-2 * Math.log(u1));
      const angle = 2 * Math.PI * u2;
      const [c, s] = [Math.cos(angle), Math.sin(angle)];
      const dr = u1 >= 0.5 ? logSlack / Math.max(r, 1e-30) : 0;
      expected[i] = 0.5 + 2 * r * c;
      scale[i] = 0.5 + 2 * r * (Math.abs(c) + angle * Math.abs(s)) + 2 * dr * Math.abs(c);
      if (i + 1 < n) {
        expected[i + 1] = 0.5 + 2 * r * s;
        scale[i + 1] = 0.5 + 2 * r * (Math.abs(s) + angle * Math.abs(c)) + 2 * dr * Math.abs(s);
      }
    }
    assertClose(out, expected, F32.pointwise, 'normal', { scale });
  });

  it('reproduces a stream from its seed and offset', async () => {
    const a = new L.Generator(SEED);
    const b = new L.Generator(SEED);
    const x = await a.normal([333]).data();
    expect([...(await b.normal([333]).data())]).toEqual([...x]);
    b.offset = 0;
    expect([...(await b.normal([333]).data())]).toEqual([...x]);
    expect([...(await a.normal([333]).data())]).not.toEqual([...x]);
  });

  it('has the moments of U[lo, hi) and N(μ, σ²) (5σ bounds on 2^20 draws)', async () => {
    const n = 1 << 20;
    const g = new L.Generator(SEED);
    const u = moments(await g.uniform([n], -1, 3).data());
    // U[-1, 3): mean 1, variance w²/12 with w = 4; standard errors sqrt(w²/12/n) and w² sqrt(1/180/n)
    expect(Math.abs(u.mean - 1), note).toBeLessThan(5 * Math.sqrt(16 / 12 / n));
    expect(Math.abs(u.variance - 16 / 12), note).toBeLessThan(5 * 16 * Math.sqrt(1 / 180 / n));
    const z = moments(await g.normal([n], 2, 3).data());
    expect(Math.abs(z.mean - 2), note).toBeLessThan(5 * 3 / Math.sqrt(n));
    expect(Math.abs(z.variance - 9), note).toBeLessThan(5 * 9 * Math.sqrt(2 / n));
  });

  it('passes a Kolmogorov–Smirnov test for uniformity and normality', async () => {
    const n = 1 << 16;
    const g = new L.Generator(SEED);
    // critical value of D at α = 1e-6: sqrt(-ln(α/2)/2)/sqrt(n)
    const critical = Math.sqrt(-Math.log(0.5e-6) / 2) / Math.sqrt(n);
    const u = Float64Array.from(await g.uniform([n]).data()).sort();
    let d = 0;
    u.forEach((v, i) => (d = Math.max(d, Math.abs(v - i / n), Math.abs(v - (i + 1) / n))));
    expect(d, note).toBeLessThan(critical);
    const z = Float64Array.from(await g.normal([n]).data()).sort();
    const phi = (x: number) => 0.5 * (1 + erf(x / Math.SQRT2));
    d = 0;
    z.forEach((v, i) => (d = Math.max(d, Math.abs(phi(v) - i / n), Math.abs(phi(v) - (i + 1) / n))));
    expect(d, note).toBeLessThan(critical);
  });

  it('gives uncorrelated streams for neighbouring seeds, successive draws and neighbouring elements', async () => {
    const n = 1 << 18;
    const bound = 5 / Math.sqrt(n);
    const a = new L.Generator(SEED);
    const b = new L.Generator(SEED + 1);
    const x = await a.normal([n]).data();
    const y = await b.normal([n]).data();
    const x2 = await a.normal([n]).data();
    expect(Math.abs(correlation(x, y)), note).toBeLessThan(bound);
    expect(Math.abs(correlation(x, x2)), note).toBeLessThan(bound);
    expect(Math.abs(correlation(x.subarray(1), x.subarray(0, n - 1))), note).toBeLessThan(bound);
    // Box–Muller pairs share a radius: their values are uncorrelated, though not independent
    const even = x.filter((_, i) => i % 2 === 0);
    const odd = x.filter((_, i) => i % 2 === 1);
    expect(Math.abs(correlation(even, odd)), note).toBeLessThan(bound * Math.SQRT2);
  });

  it('rejects seeds it cannot represent', () => {
    expect(() => new L.Generator(-1)).toThrow(/seed must be a non-negative safe integer/);
    expect(() => new L.Generator(0.5)).toThrow(/seed must be a non-negative safe integer/);
  });
});
