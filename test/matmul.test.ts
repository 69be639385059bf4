import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import { expectClose, randomPair } from './helpers.js';
import * as R from './reference.js';

const TOL = 1e-5;
// (M, K, N): ones, primes, shapes that do not divide any tile, 1000+ on each axis in turn
// (multiples of 4 let the vec4 versions v4-v6 run their own kernels; the others fall back to v2)
const SHAPES: Array<[number, number, number]> = [
  [1, 1, 1], [1, 7, 1], [7, 13, 5], [33, 65, 17], [64, 64, 64], [127, 1, 129], [1031, 3, 7], [5, 1031, 3], [3, 5, 1031],
  [4, 4, 4], [36, 20, 44], [68, 1028, 12], [1, 8, 4], [100, 4, 1],
];
const VERSIONS = L.MATMUL_VERSIONS;
// error measured against |A|·|B|, the scale of f32 rounding in a dot product: a short product of
// mixed-sign values may cancel to near zero (see expectClose)
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
      await expectClose(L.matmul(a, b, { version, transA: true, transB: true }), R.matmul(ra, rb, true, true), TOL, 'batched transposes');
    });
  }

  it('treats 1-D operands as torch.matmul does', async () => {
    const [v, rv] = randomPair([7]);
    const [m, rm] = randomPair([7, 3]);
    const [w, rw] = randomPair([4, 7]);
    const row = R.ref([1, 7], rv.data);
    const col = R.ref([7, 1], rv.data);
    await expectClose(L.matmul(v, m), R.ref([3], R.matmul(row, rm).data), TOL, 'vector · matrix', R.matmul(abs(row), abs(rm)));
    await expectClose(L.matmul(w, v), R.ref([4], R.matmul(rw, col).data), TOL, 'matrix · vector', R.matmul(abs(rw), abs(col)));
    await expectClose(L.matmul(v, v), R.ref([], R.matmul(row, col).data), TOL, 'vector · vector');
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
