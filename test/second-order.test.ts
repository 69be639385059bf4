// Second-order rules (createGraph): every op's backward differentiated again on the GPU, checked by
// H·v against central differences of float64 reference gradients (test/gradcheck.ts's hvpCheck).
import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import { hvpCheck } from './gradcheck.js';
import * as A from './ref-autograd.js';
import type * as R from './reference.js';

describe('second-order rules of elementwise ops', () => {
  const unaries: Array<[string, (x: L.Tensor) => L.Tensor, (v: number) => number, (v: number) => number, [number, number]]> = [
    ['exp', L.exp, Math.exp, Math.exp, [-2, 2]],
    ['log', L.log, Math.log, (v) => 1 / v, [0.5, 3]],
    ['sqrt', L.sqrt, Math.sqrt, (v) => 0.5 / Math.sqrt(v), [0.5, 3]],
    ['rsqrt', L.rsqrt, (v) => 1 / Math.sqrt(v), (v) => -0.5 * v ** -1.5, [0.5, 3]],
    ['tanh', L.tanh, Math.tanh, (v) => 1 - Math.tanh(v) ** 2, [-3, 3]],
    ['sigmoid', L.sigmoid, (v) => 1 / (1 + Math.exp(-v)), (v) => Math.exp(-v) / (1 + Math.exp(-v)) ** 2, [-4, 4]],
    ['sin', L.sin, Math.sin, Math.cos, [-3, 3]],
    ['cos', L.cos, Math.cos, (v) => -Math.sin(v), [-3, 3]],
    ['square', L.square, (v) => v * v, (v) => 2 * v, [-2, 2]],
    ['reciprocal', L.reciprocal, (v) => 1 / v, (v) => -1 / (v * v), [-2, -0.5]],
    ['pow 2.5', (x) => L.pow(x, 2.5), (v) => v ** 2.5, (v) => 2.5 * v ** 1.5, [0.5, 2]],
    ['relu', L.relu, (v) => Math.max(v, 0), (v) => +(v > 0), [-1, 1]],
    ['abs', L.abs, Math.abs, Math.sign, [-1, 1]],
    ['affine', (x) => L.add(L.mul(x, 3), 1), (v) => 3 * v + 1, () => 3, [-1, 1]],
  ];
  it('unary ops: d/dg and g·f″(x) of each backward', async () => {
    for (const [name, gpu, f, df, range] of unaries) await hvpCheck({ what: name, shapes: [[131]], range, gpu, ref: (x) => A.unary(x, f, df) });
    for (const approximate of ['none', 'tanh'] as const) {
      await hvpCheck({ what: `gelu ${approximate}`, shapes: [[131]], range: [-4, 4], gpu: (x) => L.gelu(x, approximate), ref: (x) => A.gelu(x, approximate) });
    }
  });

  it('binary ops with broadcasting', async () => {
    await hvpCheck({ what: 'mul', shapes: [[3, 1, 4], [5, 1]], gpu: L.mul, ref: A.mul });
    await hvpCheck({ what: 'div', shapes: [[3, 4], [4]], range: [0.5, 2], gpu: L.div, ref: A.div });
    await hvpCheck({ what: 'sub', shapes: [[2, 3], [1, 3]], gpu: L.sub, ref: A.sub });
  });
});

describe('second-order rules of reductions, layout ops and matmul', () => {
  it('sum, mean, max; reshape, permute, slice, concat, broadcastTo', async () => {
    await hvpCheck({ what: 'sum', shapes: [[3, 5, 7]], gpu: (x) => L.sum(x, [0, 2]), ref: (x) => A.sum(x, [0, 2]) });
    await hvpCheck({ what: 'mean', shapes: [[3, 5, 7]], gpu: (x) => L.mean(x, 1, true), ref: (x) => A.mean(x, [1], true) });
    await hvpCheck({ what: 'max', shapes: [[4, 9, 3]], gpu: (x) => L.max(x, 1), ref: (x) => A.max(x, [1]) });
    await hvpCheck({ what: 'permute', shapes: [[2, 3, 5]], gpu: (x) => L.permute(x, [2, 0, 1]), ref: (x) => A.permute(x, [2, 0, 1]) });
    await hvpCheck({ what: 'slice', shapes: [[7, 6]], gpu: (x) => L.slice(x, [2, 1], [5, 4]), ref: (x) => A.slice(x, [2, 1], [3, 3]) });
    await hvpCheck({ what: 'slice (a view)', shapes: [[3, 2, 128]], gpu: (x) => L.slice(x, [1], [2]), ref: (x) => A.slice(x, [1, 0, 0], [1, 2, 128]) });
    await hvpCheck({ what: 'concat', shapes: [[2, 3], [2, 1]], gpu: (...xs) => L.concat(xs, 1), ref: (...xs) => A.concat(xs, 1) });
    await hvpCheck({ what: 'broadcastTo', shapes: [[3, 1]], gpu: (x) => L.reshape(L.broadcastTo(x, [2, 3, 4]), [24]), ref: (x) => A.reshape(A.broadcastTo(x, [2, 3, 4]), [24]) });
  });

  it('matmul with transposes, and its epilogue (bias, residual)', async () => {
    for (const [ta, tb] of [[false, false], [true, true]] as const) {
      await hvpCheck({
        what: `matmul tA=${ta} tB=${tb}`, shapes: [ta ? [2, 7, 5] : [2, 5, 7], tb ? [3, 7] : [7, 3]],
        gpu: (a, b) => L.matmul(a, b, { transA: ta, transB: tb }), ref: (a, b) => A.matmul(a, b, ta, tb),
      });
    }
    await hvpCheck({
      what: 'matmul + shared bias + residual', shapes: [[3, 5, 7], [4, 7], [4], [3, 5, 4]],
      gpu: (a, b, bias, r) => L.matmul(a, b, { transB: true, bias, residual: r }),
      ref: (a, b, bias, r) => A.add(A.add(A.matmul(a, A.reshape(b, [1, 4, 7]), false, true), bias), r),
    });
    await hvpCheck({
      what: 'batched matmul + per-batch bias', shapes: [[3, 5, 7], [3, 7, 6], [3, 1, 6]],
      gpu: (a, b, bias) => L.matmul(a, b, { bias }), ref: (a, b, bias) => A.add(A.matmul(a, b), bias),
    });
  });
});

describe('second-order rules of the fused kernels', () => {
  it('softmax and log-softmax (last axis and axis 0)', async () => {
    await hvpCheck({ what: 'softmax', shapes: [[5, 11]], range: [-3, 3], gpu: (x) => L.softmax(x), ref: A.softmax });
    await hvpCheck({ what: 'logSoftmax', shapes: [[5, 11]], range: [-3, 3], gpu: (x) => L.logSoftmax(x), ref: A.logSoftmax });
    await hvpCheck({ what: 'softmax axis 0', shapes: [[4, 3]], gpu: (x) => L.softmax(x, 0), ref: (x) => A.permute(A.softmax(A.permute(x, [1, 0])), [1, 0]) });
  });

  it('cross-entropy with label smoothing and ignored rows', async () => {
    for (const [smoothing, labels] of [[0, [3, 0, 9, 9, 1, 4, 2]], [0.1, [3, -100, 9, 0, -100, 4, 2]]] as const) {
      const y = L.fromArray(new Int32Array(labels));
      await hvpCheck({
        what: `crossEntropy ε=${smoothing}`, shapes: [[7, 10]], range: [-4, 4],
        gpu: (x) => L.crossEntropy(x, y, { labelSmoothing: smoothing }), ref: (x) => A.crossEntropy(x, [...labels], smoothing),
      });
    }
  });

  it('layer norm with and without affine parameters (composition under createGraph)', async () => {
    await hvpCheck({
      what: 'layerNorm', shapes: [[3, 4, 9], [9], [9]], range: [-2, 2],
      gpu: (x, w, b) => L.layerNorm(x, w, b, 1e-6), ref: (x, w, b) => A.layerNorm(x, w, b, 1e-6),
    });
    await hvpCheck({ what: 'layerNorm plain', shapes: [[4, 13]], gpu: (x) => L.layerNorm(x), ref: (x) => A.layerNorm(x, null, null, 1e-5) });
  });

  it('conv2d: input and weight gradients, each differentiated again', async () => {
    const cases: Array<[number[], number[], R.ConvArgs]> = [
      [[2, 4, 6, 5], [6, 2, 3, 2], { stride: [2, 1], padding: [1, 2], dilation: [1, 2], groups: 2 }],
      [[1, 3, 7, 7], [5, 3, 3, 3], { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 }],
    ];
    for (const [xs, ws, a] of cases) {
      await hvpCheck({
        what: `conv2d ${xs} ${ws}`, shapes: [xs, ws, [ws[0]!]],
        gpu: (x, w, b) => L.conv2d(x, w, b, { stride: a.stride, padding: a.padding, dilation: a.dilation, groups: a.groups }),
        ref: (x, w, b) => A.conv2d(x, w, b, a),
      });
    }
  });

  it('max, average and adaptive average pooling', async () => {
    await hvpCheck({ what: 'maxPool2d', shapes: [[2, 3, 7, 6]], gpu: (x) => L.maxPool2d(x, 3, 2, 1), ref: (x) => A.maxPool2d(x, { kernel: [3, 3], stride: [2, 2], padding: [1, 1] }) });
    await hvpCheck({ what: 'avgPool2d', shapes: [[1, 2, 7, 6]], gpu: (x) => L.avgPool2d(x, [3, 2], 2, 1), ref: (x) => A.avgPool2d(x, { kernel: [3, 2], stride: [2, 2], padding: [1, 1] }) });
    await hvpCheck({ what: 'adaptiveAvgPool2d', shapes: [[1, 2, 7, 5]], gpu: (x) => L.adaptiveAvgPool2d(x, [3, 2]), ref: (x) => A.avgPool2d(x, { kernel: [3, 2], stride: [1, 1], padding: [0, 0], adaptive: true }) });
  });

  it('indexSelect with repeated indices', async () => {
    const idx = [6, 1, 1, 0];
    const indices = L.fromArray(new Int32Array(idx));
    await hvpCheck({ what: 'indexSelect', shapes: [[2, 7, 3]], gpu: (x) => L.indexSelect(x, 1, indices), ref: (x) => A.indexSelect(x, 1, idx) });
  });

  it('attention, both versions (fused and unfused), causal; selfAttention on a packed qkv', async () => {
    for (const version of L.ATTENTION_VERSIONS) {
      for (const causal of [false, true]) {
        await hvpCheck({
          what: `attention ${version} causal=${causal}`, shapes: [[2, 5, 4], [2, 6, 4], [2, 6, 4]], range: [-2, 2],
          gpu: (q, k, v) => L.attention(q, k, v, { version, causal }), ref: (q, k, v) => A.attention(q, k, v, 0.5, causal),
        });
      }
    }
    const [t, h, d] = [5, 2, 4];
    const split = (x: A.V, i: number) => A.permute(A.reshape(A.slice(A.reshape(x, [t, 3, h, d]), [0, i, 0, 0], [t, 1, h, d]), [t, h, d]), [1, 0, 2]);
    await hvpCheck({
      what: 'selfAttention', shapes: [[1, t, 3 * h * d]], range: [-2, 2], gpu: (qkv) => L.selfAttention(qkv, h),
      ref: (qkv) => A.reshape(A.permute(A.attention(split(qkv, 0), split(qkv, 1), split(qkv, 2), 0.5), [1, 0, 2]), [1, t, h * d]),
    });
  });

  it('batch norm, training and eval mode (compositions)', async () => {
    await hvpCheck({
      what: 'batchNorm2d training', shapes: [[3, 2, 3, 3], [2], [2]], range: [-2, 2],
      gpu: (x, w, b) => L.batchNorm2d(x, { weight: w, bias: b }), ref: (x, w, b) => A.batchNorm2d(x, w, b, 1e-5),
    });
    const [mu, vr] = [[0.3, -0.2], [0.8, 1.7]];
    const [runningMean, runningVar] = [L.fromArray(mu), L.fromArray(vr)];
    const stat = (v: number[]) => A.leaf({ shape: [1, 2, 1, 1], data: Float64Array.from(v) });
    await hvpCheck({
      what: 'batchNorm2d eval', shapes: [[2, 2, 3, 3], [2], [2]],
      gpu: (x, w, b) => L.batchNorm2d(x, { weight: w, bias: b, runningMean, runningVar, training: false }),
      ref: (x, w, b) => A.add(A.mul(A.div(A.sub(x, stat(mu)), stat(vr.map((v) => Math.sqrt(v + 1e-5)))), A.reshape(w, [1, 2, 1, 1])), A.reshape(b, [1, 2, 1, 1])),
    });
  });
});

describe('createGraph bookkeeping', () => {
  it('frees the kept graphs in freeingGraph, so repeated Hessian-vector products hold no memory', async () => {
    const engine = L.getEngine();
    const w = L.fromArray([0.5, -1, 2, 0.25], [2, 2]).requireGrad();
    const x = L.fromArray([1, 2, 3, 4, 5, 6], [3, 2]);
    const step = () =>
      L.tidy(() =>
        L.freeingGraph(() => {
          const loss = L.sum(L.tanh(L.matmul(x, w)));
          const [g] = L.grad(loss, [w], { createGraph: true });
          return void L.grad(L.sum(L.mul(g!, g!)), [w]);
        }),
      );
    step();
    await engine.sync();
    const live = engine.stats.bytesLive;
    for (let i = 0; i < 20; i++) step();
    await engine.sync();
    expect(engine.stats.bytesLive).toBe(live);
  });

  it('backward with createGraph leaves a differentiable .grad (and will not update one in place)', async () => {
    const x = L.fromArray([0.5, -1.5, 2]).requireGrad();
    const [h] = L.freeingGraph(() => {
      L.backward(L.sum(L.mul(L.square(x), x)), undefined, { createGraph: true });
      const g = x.grad!;
      x.grad = null;
      return L.grad(L.sum(g), [x]);
    });
    expect([...(await h!.data())]).toEqual([3, -9, 12]); // d/dx Σ 3x² = 6x
    x.grad = L.zeros([3]);
    expect(() => L.freeingGraph(() => L.backward(L.sum(x), undefined, { createGraph: true }))).toThrow(/has a \.grad already; use grad\(\)/);
  });

  it('refuses to differentiate a rule that records nothing, naming the op', async () => {
    const x = L.fromArray([0.5, 1.5]).requireGrad();
    // an op whose backward runs kernels under noGrad: right first derivatives, no second-order rule
    const opaque = (t: L.Tensor) => L.record('opaqueSquare', [t], L.noGrad(() => L.square(t)), (g, [s]) => [L.noGrad(() => L.mul(L.mul(g, s!), 2))], [t]);
    const [g] = L.grad(L.sum(opaque(x)), [x]);
    expect([...(await g!.data())]).toEqual([1, 3]);
    for (const loss of [() => L.sum(opaque(x)), () => L.sum(L.exp(opaque(L.exp(x))))]) {
      expect(() => L.freeingGraph(() => L.grad(loss(), [x], { createGraph: true }))).toThrow(/opaqueSquare: its backward rule has no second-order rule/);
    }
  });
});
