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
  // v1: matmul, softmax, matmul; v2: the fused flash-style kernels
  for (const version of L.ATTENTION_VERSIONS) {
    it(`${version}: forward and q, k, v gradients`, async () => {
      for (const [lead, sq, sk, d] of CASES) {
        await gradCheck({
          what: `attention ${version} ${lead} ${sq}x${sk}x${d}`,
          shapes: [[...lead, sq, d], [...lead, sk, d], [...lead, sk, d]], range: [-2, 2],
          gpu: (q, k, v) => L.attention(q, k, v, { version }),
          ref: (q, k, v) => A.attention(q, k, v, 1 / Math.sqrt(d)),
        });
      }
    });
  }

  // 37: one backward key chunk; 150 keys: three 64-key chunks (the last partial), each query group
  // stopping at its own last row; 70 queries against 150 keys: keys past every query
  it('causal masking, both versions', async () => {
    for (const version of L.ATTENTION_VERSIONS) {
      for (const [sq, sk, d] of [[37, 37, 16], [150, 150, 6], [70, 150, 12]] as const) {
        await gradCheck({
          what: `causal attention ${version} ${sq}x${sk}x${d}`, shapes: [[2, sq, d], [2, sk, d], [2, sk, d]], range: [-2, 2],
          gpu: (q, k, v) => L.attention(q, k, v, { causal: true, version, scale: 0.3 }),
          ref: (q, k, v) => A.attention(q, k, v, 0.3, true),
        });
      }
    }
  });

  // (leading axes, tokens, heads, head dim): the MNIST ViT's 17 tokens and 4 heads of 16, odd
  // head dims (no vec4 rows), one token, one head, several key chunks
  it('selfAttention reads and writes the packed qkv layout, its gradient packed the same way (both versions)', async () => {
    const cases: Array<[number[], number, number, number, boolean]> = [
      [[3], 17, 4, 16, false], [[2, 1], 5, 2, 6, false], [[1], 1, 3, 8, false], [[2], 33, 1, 5, true], [[1], 150, 2, 12, false], [[2], 19, 4, 4, true],
    ];
    for (const [[lead, t, h, d, causal], version] of cases.flatMap((c) => L.ATTENTION_VERSIONS.map((v) => [c, v] as const))) {
      const w = h * d;
      // q, k, v [..., T, 3, H, D] -> each [..., H, T, D]; the output [..., H, T, D] -> [..., T, H·D]
      const split = (x: A.V, i: number) => {
        const parts = A.reshape(x, [...lead, t, 3, h, d]);
        const n = lead.length;
        const one = A.slice(parts, [...lead.map(() => 0), 0, i, 0, 0], [...lead, t, 1, h, d]);
        return A.permute(A.reshape(one, [...lead, t, h, d]), [...lead.map((_, k) => k), n + 1, n, n + 2]);
      };
      await gradCheck({
        what: `selfAttention ${version} [${lead}] T=${t} heads=${h} D=${d}${causal ? ' causal' : ''}`, shapes: [[...lead, t, 3 * w]], range: [-2, 2],
        gpu: (qkv) => L.selfAttention(qkv, h, { causal, version }),
        ref: (qkv) => {
          const n = lead.length;
          const o = A.attention(split(qkv, 0), split(qkv, 1), split(qkv, 2), 1 / Math.sqrt(d), causal);
          return A.reshape(A.permute(o, [...lead.map((_, k) => k), n + 1, n, n + 2]), [...lead, t, w]);
        },
      });
    }
    expect(() => L.selfAttention(L.zeros([2, 5, 10]), 2)).toThrow('selfAttention: expects qkv [..., T, 3·heads·D] with a whole head dim D, got [2, 5, 10] with 2 heads');
  });

  it('selfAttention with a head dim above the kernels\' 128 takes the unfused path', async () => {
    const [t, d] = [3, 130];
    await gradCheck({
      what: `selfAttention T=${t} D=${d}`, shapes: [[2, 1, t, 3 * d]],
      gpu: (qkv) => L.selfAttention(qkv, 1),
      ref: (qkv) => {
        const part = (i: number) => A.reshape(A.slice(qkv, [0, 0, 0, i * d], [2, 1, t, d]), [2, 1, 1, t, d]);
        return A.reshape(A.attention(part(0), part(1), part(2), 1 / Math.sqrt(d)), [2, 1, t, d]);
      },
    });
  });

  it('gives zero key and value gradients when there are no queries', async () => {
    const g = new L.Generator(3);
    const [q, k, v] = [g.normal([2, 0, 8]), g.normal([2, 5, 8]), g.normal([2, 5, 8])].map((x) => x.requireGrad());
    const out = L.attention(q!, k!, v!);
    expect(out.shape).toEqual([2, 0, 8]);
    L.backward(L.sum(out));
    for (const x of [k!, v!]) expect([...(await x.grad!.data())].every((e) => e === 0)).toBe(true);
  });

  it('keeps no score matrix alive for backward', async () => {
    const e = L.getEngine();
    const [b, s, d] = [2, 256, 32];
    const measure = async (version: L.AttentionVersion) => {
      const g = new L.Generator(7);
      const [q, k, v] = [g.normal([b, s, d]), g.normal([b, s, d]), g.normal([b, s, d])].map((t) => t.requireGrad());
      await e.sync();
      const before = e.stats.bytesLive;
      const out = L.attention(q!, k!, v!, { version });
      await e.sync();
      const held = e.stats.bytesLive - before;
      L.backward(L.sum(out));
      for (const t of [q, k, v, out]) t!.dispose();
      return held;
    };
    const fusedBytes = await measure('v2');
    const unfusedBytes = await measure('v1');
    // fused: the output and one log-sum-exp per row; unfused: at least the s×s probabilities
    expect(fusedBytes).toBeLessThanOrEqual(2 * (b * s * d + b * s) * 4);
    expect(unfusedBytes).toBeGreaterThanOrEqual(b * s * s * 4);
  });

  it('names the shapes that do not fit', () => {
    expect(() => L.attention(L.zeros([2, 5, 8]), L.zeros([2, 5, 4]), L.zeros([2, 5, 4]))).toThrow(/attention: expects q \[\.\.\., Sq, D\]/);
  });
});
