import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import { gradCheck } from './gradcheck.js';
import * as A from './ref-autograd.js';

describe('gradients of elementwise ops against the float64 reference', () => {
  const unaries: Array<[string, (x: L.Tensor) => L.Tensor, (v: number) => number, (v: number) => number, [number, number]]> = [
    ['exp', L.exp, Math.exp, Math.exp, [-2, 2]],
    ['log', L.log, Math.log, (v) => 1 / v, [0.5, 3]],
    ['sqrt', L.sqrt, Math.sqrt, (v) => 0.5 / Math.sqrt(v), [0.5, 3]],
    ['tanh', L.tanh, Math.tanh, (v) => 1 - Math.tanh(v) ** 2, [-3, 3]],
    ['sigmoid', L.sigmoid, (v) => 1 / (1 + Math.exp(-v)), (v) => Math.exp(-v) / (1 + Math.exp(-v)) ** 2, [-4, 4]],
    ['relu', L.relu, (v) => Math.max(v, 0), (v) => +(v > 0), [-1, 1]],
    ['square', L.square, (v) => v * v, (v) => 2 * v, [-2, 2]],
    ['pow 2.5', (x) => L.pow(x, 2.5), (v) => v ** 2.5, (v) => 2.5 * v ** 1.5, [0.5, 2]],
    ['affine', (x) => L.add(L.mul(x, 3), 1), (v) => 3 * v + 1, () => 3, [-1, 1]],
  ];
  for (const [name, gpu, f, df, range] of unaries) {
    it(name, async () => {
      await gradCheck({ what: name, shapes: [[257]], range, gpu, ref: (x) => A.unary(x, f, df) });
    });
  }
  for (const approximate of ['none', 'tanh'] as const) {
    it(`gelu ${approximate}`, async () => {
      await gradCheck({ what: `gelu ${approximate}`, shapes: [[257]], range: [-4, 4], gpu: (x) => L.gelu(x, approximate), ref: (x) => A.gelu(x, approximate) });
    });
  }

  it('binary ops with broadcasting reduce the gradient back to each input shape', async () => {
    const pairs = [[[3, 1, 5], [4, 1]], [[7], []], [[2, 3], [2, 3]]];
    for (const [sa, sb] of pairs) {
      await gradCheck({ what: `add ${sa} ${sb}`, shapes: [sa!, sb!], gpu: L.add, ref: A.add });
      await gradCheck({ what: `sub ${sa} ${sb}`, shapes: [sa!, sb!], gpu: L.sub, ref: A.sub });
      await gradCheck({ what: `mul ${sa} ${sb}`, shapes: [sa!, sb!], gpu: L.mul, ref: A.mul });
      await gradCheck({ what: `div ${sa} ${sb}`, shapes: [sa!, sb!], range: [0.5, 2], gpu: L.div, ref: A.div });
      await gradCheck({
        what: `maximum ${sa} ${sb}`, shapes: [sa!, sb!], gpu: L.maximum,
        ref: (a, b) => A.binary(a, b, Math.max, (u, v) => (u > v ? 1 : u === v ? 0.5 : 0), (u, v) => (v > u ? 1 : u === v ? 0.5 : 0)),
      });
    }
  });
});

describe('gradients of reductions, layout ops and matmul', () => {
  it('sum, mean and max over axes', async () => {
    await gradCheck({ what: 'sum', shapes: [[3, 5, 7]], gpu: (x) => L.sum(x, [0, 2]), ref: (x) => A.sum(x, [0, 2]) });
    await gradCheck({ what: 'mean', shapes: [[3, 5, 7]], gpu: (x) => L.mean(x, 1, true), ref: (x) => A.mean(x, [1], true) });
    await gradCheck({ what: 'sum all', shapes: [[1031]], gpu: (x) => L.sum(x), ref: (x) => A.sum(x, [0]) });
    await gradCheck({ what: 'max', shapes: [[4, 9, 3]], gpu: (x) => L.max(x, 1), ref: (x) => A.max(x, [1]) });
    // ties share the gradient evenly
    const x = L.fromArray([1, 3, 3, 2, 5, 5, 5, 0], [2, 4]).requireGrad();
    L.backward(L.sum(L.max(x, 1)));
    expect([...(await x.grad!.toArray())]).toEqual([0, 0.5, 0.5, 0, 1 / 3, 1 / 3, 1 / 3, 0].map(Math.fround));
  });

  it('reshape, permute, slice, concat, broadcastTo', async () => {
    await gradCheck({ what: 'reshape', shapes: [[6, 4]], gpu: (x) => L.reshape(x, [3, 8]), ref: (x) => A.reshape(x, [3, 8]) });
    await gradCheck({ what: 'permute', shapes: [[2, 3, 5]], gpu: (x) => L.permute(x, [2, 0, 1]), ref: (x) => A.permute(x, [2, 0, 1]) });
    await gradCheck({ what: 'slice', shapes: [[7, 6]], gpu: (x) => L.slice(x, [2, 1], [5, 4]), ref: (x) => A.slice(x, [2, 1], [3, 3]) });
    await gradCheck({ what: 'slice (a view)', shapes: [[3, 2, 128]], gpu: (x) => L.slice(x, [1], [2]), ref: (x) => A.slice(x, [1, 0, 0], [1, 2, 128]) });
    await gradCheck({ what: 'concat', shapes: [[2, 3], [2, 1], [2, 4]], gpu: (...xs) => L.concat(xs, 1), ref: (...xs) => A.concat(xs, 1) });
    await gradCheck({ what: 'broadcastTo', shapes: [[3, 1]], gpu: (x) => L.broadcastTo(x, [2, 3, 4]), ref: (x) => A.broadcastTo(x, [2, 3, 4]) });
  });

  it('matmul: both operand gradients, transposes, broadcast batch axes, 1-D operands', async () => {
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      await gradCheck({
        what: `matmul tA=${ta} tB=${tb}`, shapes: [ta ? [2, 7, 5] : [2, 5, 7], tb ? [3, 7] : [7, 3]],
        gpu: (a, b) => L.matmul(a, b, { transA: ta, transB: tb }), ref: (a, b) => A.matmul(a, b, ta, tb),
      });
    }
    await gradCheck({ what: 'matmul batch broadcast', shapes: [[2, 1, 4, 6], [3, 6, 5]], gpu: (a, b) => L.matmul(a, b), ref: (a, b) => A.matmul(a, b) });
    await gradCheck({
      what: 'matmul vector', shapes: [[6], [6, 4]], gpu: (a, b) => L.matmul(a, b),
      ref: (a, b) => A.reshape(A.matmul(A.reshape(a, [1, 6]), b), [4]),
    });
  });

  it('matmul epilogue: gradients of a shared or per-batch bias and of the residual', async () => {
    await gradCheck({
      what: 'matmul + shared bias + residual', shapes: [[3, 5, 7], [4, 7], [4], [3, 5, 4]],
      gpu: (a, b, bias, r) => L.matmul(a, b, { transB: true, bias, residual: r }),
      ref: (a, b, bias, r) => A.add(A.add(A.matmul(a, A.reshape(b, [1, 4, 7]), false, true), bias), r),
    });
    await gradCheck({
      what: 'batched matmul + per-batch bias', shapes: [[3, 5, 7], [3, 7, 6], [3, 1, 6]],
      gpu: (a, b, bias) => L.matmul(a, b, { bias }),
      ref: (a, b, bias) => A.add(A.matmul(a, b), bias),
    });
  });
});

describe('softmax, losses and layer norm', () => {
  it('softmax and log-softmax along any axis', async () => {
    await gradCheck({ what: 'softmax', shapes: [[5, 11]], range: [-3, 3], gpu: (x) => L.softmax(x), ref: A.softmax });
    await gradCheck({ what: 'logSoftmax', shapes: [[5, 11]], range: [-3, 3], gpu: (x) => L.logSoftmax(x), ref: A.logSoftmax });
    await gradCheck({
      what: 'softmax axis 0', shapes: [[4, 3]], gpu: (x) => L.softmax(x, 0),
      ref: (x) => A.permute(A.softmax(A.permute(x, [1, 0])), [1, 0]),
    });
  });

  it('cross-entropy with label smoothing and ignored rows', async () => {
    for (const [smoothing, labels] of [[0, [3, 0, 9, 9, 1, 4, 2]], [0.1, [3, -100, 9, 0, -100, 4, 2]]] as const) {
      const y = L.fromArray(new Int32Array(labels));
      await gradCheck({
        what: `crossEntropy ε=${smoothing}`, shapes: [[7, 10]], range: [-4, 4],
        gpu: (x) => L.crossEntropy(x, y, { labelSmoothing: smoothing }),
        ref: (x) => A.crossEntropy(x, [...labels], smoothing),
      });
    }
  });

  it('MSE', async () => {
    await gradCheck({ what: 'mse', shapes: [[9, 4], [9, 4]], gpu: L.mse, ref: (a, b) => { const d = A.sub(a, b); return A.mean(A.mul(d, d), [0, 1]); } });
  });

  it('layer norm with and without affine parameters, odd widths', async () => {
    for (const d of [1, 7, 197]) {
      await gradCheck({
        what: `layerNorm ${d}`, shapes: [[3, 5, d], [d], [d]], range: [-2, 2],
        gpu: (x, w, b) => L.layerNorm(x, w, b, 1e-6), ref: (x, w, b) => A.layerNorm(x, w, b, 1e-6),
      });
    }
    await gradCheck({ what: 'layerNorm plain', shapes: [[4, 33]], gpu: (x) => L.layerNorm(x), ref: (x) => A.layerNorm(x, null, null, 1e-5) });
  });
});
