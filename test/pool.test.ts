import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import { gradCheck } from './gradcheck.js';
import * as A from './ref-autograd.js';
import type { PoolArgs } from './reference.js';

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
