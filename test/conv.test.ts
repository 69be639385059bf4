import { describe, it } from 'vitest';
import * as L from '../src/index.js';
import { gradCheck } from './gradcheck.js';
import { F32 } from './compare.js';
import { expectClose, randomPair } from './helpers.js';
import * as A from './ref-autograd.js';
import * as R from './reference.js';
import type { ConvArgs } from './reference.js';

// a small grid over every padding / stride / dilation / groups combination, on odd sizes
const GRID: Array<[ConvArgs, number[], number[]]> = [];
for (const stride of [1, 2, 3]) {
  for (const padding of [0, 1, 2]) {
    for (const dilation of [1, 2]) {
      for (const groups of [1, 3]) {
        GRID.push([
          { stride: [stride, stride], padding: [padding, padding], dilation: [dilation, dilation], groups },
          [2, 9, 7, 6], // C = 9: divisible by groups 1 and 3
          [groups === 3 ? 6 : 5, 9 / groups, 3, 2],
        ]);
      }
    }
  }
}

describe('conv2d forward and gradients against float64', () => {
  // every forward version (v1 direct, v2 implicit GEMM, v3 its subgroup exchange; v3 runs v2 on
  // adapters without subgroups); the gradients' kernels are the same for all
  for (const version of L.CONV2D_VERSIONS) {
    it(`${version}: every stride/padding/dilation/groups combination in a small grid (input, weight and bias gradients)`, async () => {
      for (const [a, xs, ws] of GRID) {
        await gradCheck({
          what: `conv2d ${version} s${a.stride} p${a.padding} d${a.dilation} g${a.groups}`,
          shapes: [xs, ws, [ws[0]!]],
          gpu: (x, w, b) => L.conv2d(x, w, b, { ...a, version }),
          ref: (x, w, b) => A.conv2d(x, w, b, a),
        });
      }
    });
  }

  it('asymmetric stride and padding, 1x1 and 7x7 kernels, no bias, more channels than a tile', async () => {
    const cases: Array<[ConvArgs, number[], number[]]> = [
      [{ stride: [2, 1], padding: [0, 1], dilation: [1, 1], groups: 1 }, [1, 3, 9, 8], [4, 3, 3, 3]],
      [{ stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 }, [3, 37, 5, 5], [33, 37, 1, 1]],
      [{ stride: [2, 2], padding: [3, 3], dilation: [1, 1], groups: 1 }, [1, 3, 17, 15], [8, 3, 7, 7]],
      [{ stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 8 }, [2, 8, 6, 5], [8, 1, 3, 3]],
    ];
    for (const version of L.CONV2D_VERSIONS) {
      for (const [a, xs, ws] of cases) {
        await gradCheck({
          what: `conv2d ${version} ${xs} ${ws}`, shapes: [xs, ws],
          gpu: (x, w) => L.conv2d(x, w, null, { ...a, version }), ref: (x, w) => A.conv2d(x, w, null, a),
        });
      }
    }
  });

  it('conv2dPool2 (inference): ReLU of the 2x2/2 max-pool of the convolution, odd sizes and groups', async () => {
    const cases: Array<[ConvArgs, number[], number[], boolean]> = [
      [{ stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 }, [3, 1, 13, 9], [8, 1, 3, 3], true], // odd output: floor mode
      [{ stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 5 }, [2, 10, 14, 14], [35, 2, 3, 3], true],
      [{ stride: [2, 1], padding: [0, 2], dilation: [1, 2], groups: 1 }, [1, 3, 11, 7], [37, 3, 3, 3], false],
      [{ stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 }, [1, 2, 3, 2], [1, 2, 2, 1], true], // one window
    ];
    for (const [[a, xs, ws, relu], version] of cases.flatMap((c) => (['v2', 'v3'] as const).map((v) => [c, v] as const))) {
      const [x, rx] = randomPair(xs);
      const [w, rw] = randomPair(ws);
      const [b, rb] = randomPair([ws[0]!]);
      const conv = A.conv2d(A.leaf(rx), A.leaf(rw), A.leaf(rb), a);
      const pooled = A.maxPool2d(conv, { kernel: [2, 2], stride: [2, 2], padding: [0, 0] });
      const want = relu ? R.map(pooled.value, (v) => Math.max(v, 0)) : pooled.value;
      await expectClose(L.conv2dPool2(x, w, b, { ...a, version }, relu), want, F32.accumulate, `conv2dPool2 ${version} ${xs} ${ws} relu=${relu}`, pooled.magnitude);
    }
  });
});
