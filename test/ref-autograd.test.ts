// The float64 reference autograd, itself checked against central finite differences in float64.
import { describe, expect, it } from 'vitest';
import { assertClose, U64 } from './compare.js';
import { hostRng, SEED } from './helpers.js';
import * as A from './ref-autograd.js';
import * as R from './reference.js';

const rng = hostRng(SEED ^ 0x5eed);
const rand = (shape: number[], lo = -1, hi = 1) => R.ref(shape, Array.from({ length: R.size(shape) }, () => lo + (hi - lo) * rng()));

const H = 1e-6;

/**
 * Central differences of Σ w ⊙ f(inputs) in every input coordinate, against the VJPs. Per element:
 * truncation (h²/6·|∂³|, far below rtol·|grad| at these ranges) and rounding of the two sums, about
 * u₆₄·Σ|wⱼyⱼ|/h. Also checks the magnitudes' invariants: mag ≥ |value|, gradMag ≥ |grad|.
 */
function fdCheck(what: string, shapes: number[][], f: (...v: A.V[]) => A.V, range: [number, number] = [-1, 1]): void {
  const inputs = shapes.map((s) => rand(s, ...range));
  const run = (xs: R.Ref[]) => f(...xs.map(A.leaf));
  const out = run(inputs);
  const w = rand(out.shape);
  const scalar = (xs: R.Ref[]) => run(xs).data.reduce((s, v, i) => s + v * w.data[i]!, 0);
  const sumAbs = out.data.reduce((s, v, i) => s + Math.abs(v * w.data[i]!), 0);
  const tol = { rtol: 1e-8, atol: (16 * U64 * sumAbs) / H, name: 'f64 central difference' };
  const leaves = inputs.map(A.leaf);
  const y = f(...leaves);
  A.backward(y, w.data);
  A.backward(y, w.data, { magnitude: true });
  expect(y.mag.every((m, i) => m >= Math.abs(y.data[i]!)), `${what}: mag ≥ |value|`).toBe(true);
  inputs.forEach((x, k) => {
    const fd = x.data.map((_, i) => {
      const plus = inputs.map((r, j) => (j === k ? R.ref(r.shape, r.data.map((v, q) => (q === i ? v + H : v))) : r));
      const minus = inputs.map((r, j) => (j === k ? R.ref(r.shape, r.data.map((v, q) => (q === i ? v - H : v))) : r));
      return (scalar(plus) - scalar(minus)) / (2 * H);
    });
    assertClose(leaves[k]!.grad, fd, tol, `${what}: input ${k}`, { shape: x.shape });
    expect(leaves[k]!.gradMag.every((m, i) => m >= Math.abs(leaves[k]!.grad[i]!)), `${what}: input ${k}: gradMag ≥ |grad|; seed ${SEED}`).toBe(true);
  });
}

describe('float64 reference gradients agree with finite differences', () => {
  it('elementwise and broadcasting', () => {
    fdCheck('mul', [[3, 1, 4], [5, 1]], A.mul);
    fdCheck('div', [[3, 4], [4]], A.div, [0.5, 2]);
    fdCheck('sub', [[2, 3], [1, 3]], A.sub);
    fdCheck('tanh', [[7]], (x) => A.unary(x, Math.tanh, (v) => 1 - Math.tanh(v) ** 2));
  });
  it('reductions and layout', () => {
    fdCheck('sum', [[3, 4, 5]], (x) => A.sum(x, [0, 2], true));
    fdCheck('mean', [[3, 4, 5]], (x) => A.mean(x, [1]));
    fdCheck('permute', [[2, 3, 4]], (x) => A.permute(x, [2, 0, 1]));
    fdCheck('slice', [[4, 5, 3]], (x) => A.slice(x, [1, 2, 0], [2, 3, 2]));
    fdCheck('concat', [[2, 3, 2], [2, 1, 2], [2, 4, 2]], (...xs) => A.concat(xs, 1));
    fdCheck('broadcastTo', [[3, 1]], (x) => A.broadcastTo(x, [2, 3, 4]));
    fdCheck('max', [[3, 4, 5]], (x) => A.max(x, [1]));
    fdCheck('max of several axes', [[3, 4, 5]], (x) => A.max(x, [0, 2], true));
    fdCheck('indexSelect', [[5, 3]], (x) => A.indexSelect(x, 0, [4, 0, 0, 2]));
    fdCheck('indexSelect inner axis', [[2, 6, 3]], (x) => A.indexSelect(x, 1, [5, 1, 1, 0]));
  });
  it('matmul with transposes and batch broadcasting', () => {
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      fdCheck(`matmul ${ta} ${tb}`, [ta ? [2, 4, 3] : [2, 3, 4], tb ? [5, 4] : [4, 5]], (a, b) => A.matmul(a, b, ta, tb));
    }
  });
  it('conv2d with stride, padding, dilation and groups', () => {
    const a = { stride: [2, 1], padding: [1, 2], dilation: [1, 2], groups: 2 } as R.ConvArgs;
    fdCheck('conv2d', [[2, 4, 5, 6], [6, 2, 3, 2], [6]], (x, w, b) => A.conv2d(x, w, b, a));
  });
  it('average pooling, sliding and adaptive', () => {
    fdCheck('avgPool2d', [[1, 2, 7, 6]], (x) => A.avgPool2d(x, { kernel: [3, 2], stride: [2, 2], padding: [1, 1] }));
    fdCheck('adaptiveAvgPool2d', [[1, 2, 7, 5]], (x) => A.avgPool2d(x, { kernel: [3, 2], stride: [1, 1], padding: [0, 0], adaptive: true }));
    fdCheck('maxPool2d', [[1, 2, 6, 5]], (x) => A.maxPool2d(x, { kernel: [2, 2], stride: [2, 1], padding: [1, 0] }));
  });
  it('softmax, log-softmax, cross-entropy, layer norm', () => {
    fdCheck('softmax', [[3, 5]], A.softmax);
    fdCheck('logSoftmax', [[3, 5]], A.logSoftmax);
    fdCheck('crossEntropy', [[4, 5]], (x) => A.crossEntropy(x, [1, 4, -100, 0], 0.1));
    fdCheck('layerNorm', [[3, 6], [6], [6]], (x, w, b) => A.layerNorm(x, w, b, 1e-5));
  });
});
