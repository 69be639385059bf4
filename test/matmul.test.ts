import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import { F32 } from './compare.js';
import { expectClose, randomPair } from './helpers.js';
import * as R from './reference.js';

const TOL = F32.accumulate;
// (M, K, N): ones, primes, shapes that do not divide any tile, 1000+ on each axis in turn
// (multiples of 4 let the vec4 versions v4-v6 and v8 run their own kernels; the others fall back to v2, v7 for v8)
const SHAPES: Array<[number, number, number]> = [
  [1, 1, 1], [1, 7, 1], [7, 13, 5], [33, 65, 17], [64, 64, 64], [127, 1, 129], [1031, 3, 7], [5, 1031, 3], [3, 5, 1031],
  [4, 4, 4], [36, 20, 44], [68, 1028, 12], [1, 8, 4], [100, 4, 1],
];
const VERSIONS = L.MATMUL_VERSIONS;
// each element's scale is |A|·|B| (Σₖ|aᵢₖbₖⱼ|), the scale of f32 rounding in a dot product: a short
// product of mixed-sign values may cancel to near zero (see test/compare.ts)
const abs = (r: R.Ref) => R.map(r, Math.abs);

describe('matmul against float64', () => {
  for (const version of VERSIONS) {
    it(`${version}: every transpose combination over odd shapes`, async () => {
      for (const [m, k, n] of SHAPES) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            const [a, ra] = randomPair(transA ? [k, m] : [m, k]);
            const [b, rb] = randomPair(transB ? [n, k] : [k, n]);
            const c = L.matmul(a, b, { transA, transB, version });
            const scale = R.matmul(abs(ra), abs(rb), transA, transB);
            await expectClose(c, R.matmul(ra, rb, transA, transB), TOL, `${version} ${m}x${k}x${n} tA=${transA} tB=${transB}`, scale);
            for (const t of [a, b, c]) t.dispose();
          }
        }
      }
    });

    it(`${version}: batched, with broadcast batch axes`, async () => {
      const cases: Array<[number[], number[]]> = [
        [[4, 5, 7], [4, 7, 3]],
        [[2, 1, 5, 7], [3, 7, 4]],
        [[2, 1, 8, 12], [3, 12, 16]],
        [[6, 9, 2], [2, 11]],
        [[9, 2], [3, 1, 2, 11]],
      ];
      for (const [sa, sb] of cases) {
        const [a, ra] = randomPair(sa);
        const [b, rb] = randomPair(sb);
        await expectClose(L.matmul(a, b, { version }), R.matmul(ra, rb), TOL, `${version} [${sa}]·[${sb}]`, R.matmul(abs(ra), abs(rb)));
      }
      const [a, ra] = randomPair([3, 7, 5]);
      const [b, rb] = randomPair([1, 4, 7]);
      await expectClose(L.matmul(a, b, { version, transA: true, transB: true }), R.matmul(ra, rb, true, true), TOL, 'batched transposes', R.matmul(abs(ra), abs(rb), true, true));
    });
  }

  it('adds a bias and a residual in the epilogue, with every version', async () => {
    // (batch shape of the product, M, K, N, bias shared or per batch element)
    const cases: Array<[number[], number, number, number, boolean]> = [
      [[], 1, 1, 1, true], [[], 33, 65, 17, true], [[3], 36, 20, 44, false], [[2], 7, 13, 5, false],
      [[5], 1031, 4, 12, true], [[1], 64, 64, 64, false],
    ];
    // every version with both terms (transposed B, as a Linear layer); v6, the default, also
    // without the transpose and with one term at a time (each combination is its own pipeline)
    const runs = [
      ...VERSIONS.map((version) => ({ version, transB: true, terms: ['bias', 'residual'] })),
      { version: 'v6' as const, transB: false, terms: ['bias', 'residual'] },
      { version: 'v6' as const, transB: true, terms: ['bias'] },
      { version: 'v6' as const, transB: true, terms: ['residual'] },
    ];
    for (const { version, transB, terms } of runs) {
      for (const [batch, m, k, n, shared] of cases) {
        const [a, ra] = randomPair([...batch, m, k]);
        const [b, rb] = randomPair(transB ? [...batch, n, k] : [...batch, k, n]);
        const [bias, rbias] = randomPair(shared ? [n] : [...batch, 1, n]);
        const [res, rres] = randomPair([...batch, m, n]);
        const plus = (x: R.Ref, y: R.Ref) => R.zip(x, y, (u, v) => u + v);
        let want = R.matmul(ra, rb, false, transB);
        let scale = R.matmul(abs(ra), abs(rb), false, transB);
        if (terms.includes('bias')) [want, scale] = [plus(want, rbias), plus(scale, abs(rbias))];
        if (terms.includes('residual')) [want, scale] = [plus(want, rres), plus(scale, abs(rres))];
        const opts = { transB, version, bias: terms.includes('bias') ? bias : undefined, residual: terms.includes('residual') ? res : undefined };
        const what = `${version} [${batch}] ${m}x${k}x${n} tB=${transB} + ${terms.join(' + ')} (${shared ? 'shared' : 'per-batch'} bias)`;
        await expectClose(L.matmul(a, b, opts), want, TOL, what, scale);
      }
    }
    // a Linear layer on tokens: [B, T, F] · [N, F]ᵀ folds the batch into the rows
    const [x, rx] = randomPair([3, 17, 8]);
    const [w, rw] = randomPair([12, 8]);
    const [bias, rbias] = randomPair([12]);
    const [res, rres] = randomPair([3, 17, 12]);
    const plus = (p: R.Ref, q: R.Ref) => R.zip(p, q, (u, v) => u + v);
    const want = plus(plus(R.matmul(rx, R.ref([1, 12, 8], rw.data), false, true), rbias), rres);
    const scale = plus(plus(R.matmul(abs(rx), abs(R.ref([1, 12, 8], rw.data)), false, true), abs(rbias)), abs(rres));
    await expectClose(L.matmul(x, w, { transB: true, bias, residual: res }), want, TOL, 'tokens · weightᵀ + bias + residual', scale);
  });

  it('names the op and the shapes when a bias or residual does not fit', () => {
    const a = L.zeros([2, 3, 4]);
    const b = L.zeros([2, 4, 5]);
    expect(() => L.matmul(a, b, { bias: L.zeros([4]) })).toThrow('matmul: bias [4] is neither [5] nor one row of 5 per batch element of the product [2, 3, 5]');
    expect(() => L.matmul(a, b, { bias: L.zeros([2, 3, 5]) })).toThrow(/bias \[2, 3, 5\] is neither/);
    // the right size, the wrong batch axes
    expect(() => L.matmul(L.zeros([2, 3, 4, 4]), L.zeros([2, 3, 4, 5]), { bias: L.zeros([3, 2, 1, 5]) })).toThrow(/bias \[3, 2, 1, 5\] is neither/);
    expect(() => L.matmul(a, b, { residual: L.zeros([2, 5, 3]) })).toThrow("matmul: residual [2, 5, 3] does not match the product's shape [2, 3, 5]");
    expect(() => L.matmul(a, L.zeros([4, 5]), { residual: L.zeros([6, 5]) })).toThrow("matmul: residual [6, 5] does not match the product's shape [2, 3, 5]");
  });

  it('treats 1-D operands as torch.matmul does', async () => {
    const [v, rv] = randomPair([7]);
    const [m, rm] = randomPair([7, 3]);
    const [w, rw] = randomPair([4, 7]);
    const row = R.ref([1, 7], rv.data);
    const col = R.ref([7, 1], rv.data);
    await expectClose(L.matmul(v, m), R.ref([3], R.matmul(row, rm).data), TOL, 'vector · matrix', R.matmul(abs(row), abs(rm)));
    await expectClose(L.matmul(w, v), R.ref([4], R.matmul(rw, col).data), TOL, 'matrix · vector', R.matmul(abs(rw), abs(col)));
    await expectClose(L.matmul(v, v), R.ref([], R.matmul(row, col).data), TOL, 'vector · vector', R.matmul(abs(row), abs(col)).data);
  });

  it('returns empty results and zeros for K = 0', async () => {
    expect(L.matmul(L.zeros([0, 3]), L.zeros([3, 4])).shape).toEqual([0, 4]);
    expect([...(await L.matmul(L.zeros([2, 0]), L.zeros([0, 3])).toArray())]).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('names the op and both shapes when inner dimensions differ', () => {
    expect(() => L.matmul(L.zeros([2, 3]), L.zeros([4, 5]))).toThrow('matmul: inner dimensions differ: [2, 3] · [4, 5] (3 vs 4)');
    expect(() => L.matmul(L.zeros([2, 3]), L.zeros([4, 5]), { transB: true })).toThrow(/\[2, 3\] · \[4, 5\]ᵀ \(3 vs 5\)/);
    expect(() => L.matmul(L.zeros([2, 2, 3]), L.zeros([3, 3, 4]))).toThrow('matmul: shapes [2] and [3] cannot be broadcast together');
  });
});
