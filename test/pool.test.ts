import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import { EXACT, F32 } from './compare.js';
import { gradCheck } from './gradcheck.js';
import { expectClose, hostRng, randomPair, SEED } from './helpers.js';
import * as A from './ref-autograd.js';
import * as R from './reference.js';
import type { PoolArgs } from './reference.js';

const rng = hostRng(SEED ^ 0x9001);

const CASES: Array<[number[], PoolArgs]> = [
  [[2, 3, 8, 8], { kernel: [2, 2], stride: [2, 2], padding: [0, 0] }],
  [[1, 2, 7, 9], { kernel: [3, 3], stride: [2, 2], padding: [1, 1] }], // ResNet's stem pool
  [[2, 1, 11, 6], { kernel: [3, 2], stride: [1, 2], padding: [1, 0] }],
  [[1, 3, 5, 5], { kernel: [5, 5], stride: [5, 5], padding: [2, 2] }],
];

describe('pooling forward and gradients against float64', () => {
  it('max pooling (continuous inputs: one maximum per window)', async () => {
    for (const [shape, a] of CASES) {
      await gradCheck({ what: `maxPool2d ${shape} ${a.kernel}/${a.stride}/${a.padding}`, shapes: [shape], gpu: (x) => L.maxPool2d(x, a.kernel, a.stride, a.padding), ref: (x) => A.maxPool2d(x, a) });
    }
  });

  // PyTorch's rule (max_pool2d's saved index): the first maximum of the window in row-major order,
  // so among tied values (common after ReLU: zeros) the top-left one takes the whole gradient
  it('max pooling with ties, as after ReLU: the first maximum of each window, row-major, takes the gradient', async () => {
    const at = async (data: number[], shape: number[], a: PoolArgs) => {
      const x = L.fromArray(data, shape).requireGrad();
      L.backward(L.sum(L.maxPool2d(x, a.kernel, a.stride, a.padding)));
      return [...(await x.grad!.data())];
    };
    const two: PoolArgs = { kernel: [2, 2], stride: [2, 2], padding: [0, 0] };
    expect(await at([0, 0, 0, 0], [1, 1, 2, 2], two)).toEqual([1, 0, 0, 0]);
    expect(await at([0, 1, 0, 1], [1, 1, 2, 2], two)).toEqual([0, 1, 0, 0]);
    expect(await at([0, 0, 1, 1], [1, 1, 2, 2], two)).toEqual([0, 0, 1, 0]);
    // overlapping windows (3x3, stride 1, padding 1) over all zeros: each window's top-left pixel
    // inside the image gets its gradient
    expect(await at(Array(9).fill(0), [1, 1, 3, 3], { kernel: [3, 3], stride: [1, 1], padding: [1, 1] })).toEqual([4, 2, 0, 2, 1, 0, 0, 0, 0]);
    for (const [shape, a] of CASES) {
      // ReLU of uniform values on [-1, 1] rounded to quarters: half zeros, and ties among the rest
      const data = Float32Array.from({ length: R.size(shape) }, () => Math.max(0, Math.round(8 * rng() - 4) / 4));
      const x = L.fromArray(data, shape).requireGrad();
      const leaf = A.leaf(R.ref(shape, data));
      const want = A.maxPool2d(leaf, a);
      const y = L.maxPool2d(x, a.kernel, a.stride, a.padding);
      const what = `maxPool2d with ties ${shape} ${a.kernel}/${a.stride}/${a.padding}`;
      await expectClose(y, want.value, EXACT, `${what}: forward`);
      const [w, rw] = randomPair(y.shape);
      L.backward(L.sum(L.mul(y, w)));
      A.backward(want, rw.data);
      A.backward(want, rw.data, { magnitude: true });
      await expectClose(x.grad!, R.ref(shape, leaf.grad), F32.accumulate, `${what}: gradient`, leaf.gradMag);
    }
  });

  it('average pooling, counting the padding', async () => {
    for (const [shape, a] of CASES) {
      await gradCheck({ what: `avgPool2d ${shape} ${a.kernel}/${a.stride}/${a.padding}`, shapes: [shape], gpu: (x) => L.avgPool2d(x, a.kernel, a.stride, a.padding), ref: (x) => A.avgPool2d(x, a) });
    }
  });

  it('adaptive average pooling, global and to sizes that do not divide the input', async () => {
    for (const [shape, out] of [[[2, 3, 7, 7], [1, 1]], [[1, 2, 7, 5], [3, 2]], [[1, 1, 4, 6], [4, 6]], [[1, 2, 5, 3], [7, 4]]] as const) {
      await gradCheck({
        what: `adaptiveAvgPool2d ${shape} -> ${out}`, shapes: [[...shape]],
        gpu: (x) => L.adaptiveAvgPool2d(x, [...out] as [number, number]),
        ref: (x) => A.avgPool2d(x, { kernel: [...out] as [number, number], stride: [1, 1], padding: [0, 0], adaptive: true }),
      });
    }
  });

  it('rejects impossible windows with the op and the sizes', () => {
    expect(() => L.maxPool2d(L.zeros([1, 1, 4, 4]), 3, 1, 2)).toThrow('maxPool2d: padding 2,2 must be at most half the kernel 3,3');
    expect(() => L.avgPool2d(L.zeros([1, 1, 2, 2]), 3)).toThrow(/avgPool2d: kernel 3,3 does not fit input 2x2/);
    expect(() => L.maxPool2d(L.zeros([4, 4]), 2)).toThrow('maxPool2d: expects input [N, C, H, W], got [4, 4]');
  });
});
