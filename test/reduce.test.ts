import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import { EXACT, F32 } from './compare.js';
import { expectClose, expectEqual, randomPair } from './helpers.js';
import * as R from './reference.js';

const mean = (v: number[]) => R.sumOf(v) / v.length;

// (shape, axes): single axes, adjacent runs, non-adjacent sets (permuted first), all axes, long
// reductions (workgroup strategy) and many short ones (thread strategy)
const CASES: Array<[number[], number[] | undefined]> = [
  [[1], undefined],
  [[7], [0]],
  [[100003], undefined],
  [[3, 5, 7], [1]],
  [[3, 5, 7], [0, 2]],
  [[3, 5, 7], [0, 1]],
  [[3, 5, 7], [-1]],
  [[1031, 3], [0]],
  [[3, 1031], [1]],
  [[2, 1, 13, 1], [1, 3]],
  [[17, 19, 2], [0, 1, 2]],
  [[4097, 2], [1]],
];

describe('reductions against float64', () => {
  for (const keepdim of [false, true]) {
    it(`sum, mean and max over chosen axes (keepdim ${keepdim})`, async () => {
      for (const [shape, axes] of CASES) {
        const [x, rx] = randomPair(shape);
        const all = axes ?? shape.map((_, i) => i);
        // each output's scale is Σ|x| (resp. its mean): a few mixed-sign values may cancel
        const abs = R.map(rx, Math.abs);
        const sumAbs = R.reduce(abs, all, keepdim, R.sumOf);
        const meanAbs = R.reduce(abs, all, keepdim, mean);
        await expectClose(L.sum(x, axes, keepdim), R.reduce(rx, all, keepdim, R.sumOf), F32.accumulate, `sum [${shape}] ${axes}`, sumAbs);
        await expectClose(L.mean(x, axes, keepdim), R.reduce(rx, all, keepdim, mean), F32.accumulate, `mean [${shape}] ${axes}`, meanAbs);
        await expectClose(L.max(x, axes, keepdim), R.reduce(rx, all, keepdim, R.maxOf), EXACT, `max [${shape}] ${axes}`);
      }
    });
  }

  it('argmax along each axis and over the whole tensor, first index on ties', async () => {
    for (const shape of [[7], [3, 5, 7], [1031, 3], [3, 1031], [2, 300]]) {
      // values rounded to a few levels so that ties are common
      const [x0, rx0] = randomPair(shape, -3, 3);
      const x = L.round(x0);
      const rx = R.map(rx0, Math.round);
      for (let axis = 0; axis < shape.length; axis++) {
        await expectEqual(L.argmax(x, axis), R.reduce(rx, [axis], false, R.argmaxOf), `argmax [${shape}] axis ${axis}`);
        await expectEqual(L.argmax(x, axis, true), R.reduce(rx, [axis], true, R.argmaxOf), `argmax keepdim [${shape}]`);
      }
      await expectEqual(L.argmax(x), R.ref([], [R.argmaxOf([...rx.data])]), `argmax all [${shape}]`);
    }
  });

  it('propagates NaN through max and argmax, as PyTorch does', async () => {
    for (const n of [5, 300]) {
      const data = Array.from({ length: n }, (_, i) => i);
      data[3] = NaN;
      const x = L.fromArray(data);
      expect(Number.isNaN(await L.max(x).item())).toBe(true);
      expect(await L.argmax(x).item()).toBe(3);
    }
  });

  it('sums an empty axis to zero and refuses max of an empty tensor', async () => {
    expect([...(await L.sum(L.zeros([3, 0]), 1).toArray())]).toEqual([0, 0, 0]);
    expect(() => L.max(L.zeros([0]))).toThrow('max: cannot reduce an empty tensor');
    expect(() => L.sum(L.zeros([2, 3]), 2)).toThrow('sum: axis 2 is out of range for a tensor of rank 2');
  });
});
