import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import { gradCheck } from './gradcheck.js';
import * as A from './ref-autograd.js';

// (leading axes, Sq, Sk, head dim): ViT's 197 = 14²+1 tokens, a single token, lengths that do not
// divide the 64-row blocks, cross-attention (Sq ≠ Sk), head dims 32, 64 and odd ones; 197 and 140
// keys take several backward key chunks (64 keys each at these lengths), with vec4 rows and without
const CASES: Array<[number[], number, number, number]> = [
  [[1, 2], 197, 197, 64],
  [[2, 1], 1, 1, 32],
  [[3], 33, 33, 7],
  [[1, 2], 5, 70, 32],
  [[2], 64, 31, 16],
  [[1], 66, 140, 5],
];

describe('attention against the float64 reference', () => {
  for (const fused of [true, false]) {
    it(`${fused ? 'fused (flash-style)' : 'unfused'}: forward and q, k, v gradients`, async () => {
      for (const [lead, sq, sk, d] of CASES) {
        await gradCheck({
          what: `attention ${fused ? 'fused' : 'unfused'} ${lead} ${sq}x${sk}x${d}`,
          shapes: [[...lead, sq, d], [...lead, sk, d], [...lead, sk, d]], range: [-2, 2],
          gpu: (q, k, v) => L.attention(q, k, v, { fused }),
          ref: (q, k, v) => A.attention(q, k, v, 1 / Math.sqrt(d)),
        });
      }
    });
  }

  // 37: one backward key chunk; 150 keys: three 64-key chunks (the last partial), the causal
  // workgroups past a query block skipped; 70 queries against 150 keys: keys past every query
  it('causal masking, fused and unfused', async () => {
    for (const fused of [true, false]) {
      for (const [sq, sk, d] of [[37, 37, 16], [150, 150, 6], [70, 150, 12]] as const) {
        await gradCheck({
          what: `causal attention fused=${fused} ${sq}x${sk}x${d}`, shapes: [[2, sq, d], [2, sk, d], [2, sk, d]], range: [-2, 2],
          gpu: (q, k, v) => L.attention(q, k, v, { causal: true, fused, scale: 0.3 }),
          ref: (q, k, v) => A.attention(q, k, v, 0.3, true),
        });
      }
    }
  });

  it('keeps no score matrix alive for backward', async () => {
    const e = L.getEngine();
    const [b, s, d] = [2, 256, 32];
    const measure = async (fused: boolean) => {
      const g = new L.Generator(7);
      const [q, k, v] = [g.normal([b, s, d]), g.normal([b, s, d]), g.normal([b, s, d])].map((t) => t.requireGrad());
      await e.sync();
      const before = e.stats.bytesLive;
      const out = L.attention(q!, k!, v!, { fused });
      await e.sync();
      const held = e.stats.bytesLive - before;
      L.backward(L.sum(out));
      for (const t of [q, k, v, out]) t!.dispose();
      return held;
    };
    const fusedBytes = await measure(true);
    const unfusedBytes = await measure(false);
    // fused: the output and one log-sum-exp per row; unfused: at least the s×s probabilities
    expect(fusedBytes).toBeLessThanOrEqual(2 * (b * s * d + b * s) * 4);
    expect(unfusedBytes).toBeGreaterThanOrEqual(b * s * s * 4);
  });

  it('names the shapes that do not fit', () => {
    expect(() => L.attention(L.zeros([2, 5, 8]), L.zeros([2, 5, 4]), L.zeros([2, 5, 4]))).toThrow(/attention: expects q \[\.\.\., Sq, D\]/);
  });
});
