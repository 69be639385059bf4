import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import { gradCheck } from './gradcheck.js';
import { F32 } from './compare.js';
import { expectClose, randomPair, SEED } from './helpers.js';
import * as A from './ref-autograd.js';
import * as R from './reference.js';

describe('batch norm', () => {
  it('training mode: forward and gradients with batch statistics', async () => {
    for (const shape of [[4, 3, 5, 5], [2, 7, 3, 1], [1, 2, 9, 4]]) {
      const c = shape[1]!;
      await gradCheck({
        what: `batchNorm2d ${shape}`, shapes: [shape, [c], [c]], range: [-2, 2],
        gpu: (x, w, b) => L.batchNorm2d(x, { weight: w, bias: b }),
        ref: (x, w, b) => A.batchNorm2d(x, w, b, 1e-5),
      });
    }
  });

  it('updates running statistics with PyTorch momentum (unbiased variance) and uses them in eval mode', async () => {
    const [x, rx] = randomPair([3, 4, 5, 2], -2, 3);
    const [rm0, rrm] = randomPair([4]);
    const [rv0, rrv] = randomPair([4], 0.5, 2);
    const runningMean = L.clone(rm0);
    const runningVar = L.clone(rv0);
    L.batchNorm2d(x, { runningMean, runningVar, momentum: 0.3 });
    const m = 3 * 5 * 2;
    // running = 0.7·running + 0.3·batch statistic (unbiased variance), with the reference's magnitudes
    const ax = A.leaf(rx);
    const d = A.sub(ax, A.mean(ax, [0, 2, 3], true));
    const mu = A.mean(ax, [0, 2, 3]);
    const unbiased = A.scale(A.sum(A.mul(d, d), [0, 2, 3]), 1 / (m - 1));
    const blend = (r: R.Ref, stat: A.V) => A.add(A.scale(A.leaf(r), 0.7), A.scale(stat, 0.3));
    for (const [t, want, what] of [[runningMean, blend(rrm, mu), 'running mean'], [runningVar, blend(rrv, unbiased), 'running var']] as const) {
      await expectClose(t, want.value, F32.accumulate, what, want.magnitude);
    }
    // eval: (x − running_mean)/sqrt(running_var + eps)
    const y = L.batchNorm2d(x, { runningMean, runningVar, training: false });
    const [rmNow, rvNow] = [await runningMean.data(), await runningVar.data()];
    const perChannel = (v: Float32Array) => A.leaf(R.ref([1, 4, 1, 1], v));
    const std = A.unary(perChannel(rvNow), (v) => Math.sqrt(v + 1e-5), (v) => 0.5 / Math.sqrt(v + 1e-5));
    const expected = A.div(A.sub(ax, perChannel(rmNow)), std);
    await expectClose(y, expected.value, F32.accumulate, 'eval mode', expected.magnitude);
  });

  it('names what does not fit', () => {
    expect(() => L.batchNorm2d(L.zeros([2, 3, 4, 4]), { weight: L.ones([4]) })).toThrow('batchNorm2d: weight of shape [4] for 3 channels');
    expect(() => L.batchNorm2d(L.zeros([1, 3, 1, 1]))).toThrow(/more than one value per channel/);
    expect(() => L.batchNorm2d(L.zeros([2, 3, 4, 4]), { training: false })).toThrow(/eval mode needs runningMean/);
  });
});

describe('indexSelect', () => {
  it('gathers along any axis with repeated indices, and scatters the gradient back', async () => {
    for (const [shape, axis, idx] of [[[5, 4], 0, [4, 0, 0, 2]], [[2, 7, 3], 1, [6, 1, 1, 1, 0]], [[3, 5], -1, [2]]] as const) {
      const indices = L.fromArray(new Int32Array(idx));
      const a = axis < 0 ? shape.length + axis : axis;
      await gradCheck({
        what: `indexSelect ${shape} axis ${axis}`, shapes: [[...shape]],
        gpu: (x) => L.indexSelect(x, axis, indices), ref: (x) => A.indexSelect(x, a, [...idx]),
      });
    }
  });

  it('marks out-of-range indices with NaN and rejects float indices', async () => {
    const y = L.indexSelect(L.ones([3, 2]), 0, L.fromArray(new Int32Array([1, 3])));
    const v = await y.toArray();
    expect([v[0], v[1]]).toEqual([1, 1]);
    expect(Number.isNaN(v[2]!) && Number.isNaN(v[3]!)).toBe(true);
    expect(() => L.indexSelect(L.ones([3]), 0, L.ones([2]))).toThrow('indexSelect: indices must be a 1-D i32 tensor, got f32 [2]');
  });
});

describe('dropout', () => {
  it('keeps each element with probability 1 − p, scaled by 1/(1 − p), and passes gradients through the mask', async () => {
    const n = 1 << 16;
    const p = 0.3;
    const x = L.ones([n]).requireGrad();
    const y = L.dropout(x, p, new L.Generator(SEED));
    const v = await y.data();
    const kept = v.filter((e) => e !== 0);
    expect(kept.every((e) => Math.abs(e - 1 / 0.7) < 1e-6)).toBe(true);
    // binomial: 5σ bound on the kept fraction
    expect(Math.abs(kept.length / n - 0.7)).toBeLessThan(5 * Math.sqrt(0.21 / n));
    L.backward(L.sum(y));
    expect([...(await x.grad!.data())]).toEqual([...v]);
    expect(L.dropout(x, 0.5, new L.Generator(1), false)).toBe(x);
    const again = await L.dropout(L.ones([n]), p, new L.Generator(SEED)).data();
    expect([...again]).toEqual([...v]); // same seed, same mask
  });
});

describe('layer norm with per-slice affine parameters (inference)', () => {
  it('normalizes each row; slice k of the first axis uses weight and bias row k', async () => {
    for (const [shape, eps] of [[[3, 5, 7, 33], 1e-6], [[1, 1, 4], 1e-5], [[4, 17, 64], 1e-6]] as Array<[number[], number]>) {
      const [k, c] = [shape[0]!, shape.at(-1)!];
      const [x, rx] = randomPair(shape, -2, 2);
      const [w, rw] = randomPair([k, c]);
      const [b, rb] = randomPair([k, c]);
      const perSlice = [k, ...shape.slice(1, -1).map(() => 1), c];
      const expected = A.layerNorm(A.leaf(rx), A.leaf(R.ref(perSlice, rw.data)), A.leaf(R.ref(perSlice, rb.data)), eps);
      await expectClose(L.layerNormPerSlice(x, w, b, eps), expected.value, F32.accumulate, `layerNormPerSlice ${shape}`, expected.magnitude);
    }
    expect(() => L.layerNormPerSlice(L.zeros([2, 3, 4]), L.zeros([3, 4]), L.zeros([2, 4]))).toThrow(/layerNormPerSlice: weight of shape \[3, 4\] for input \[2, 3, 4\] \(expects \[2, 4\]\)/);
  });
});

describe('Sequential under noGrad', () => {
  it('runs Conv2d-[ReLU]-MaxPool2d(2) as one fused kernel with the same result as the layer-by-layer forward', async () => {
    const g = new L.Generator(SEED);
    const net = new L.Sequential(
      new L.Conv2d(3, 5, 3, g, { padding: 1 }), new L.ReLU(), new L.MaxPool2d(2), // fused with ReLU
      new L.Conv2d(5, 4, 3, g), new L.MaxPool2d(2), // fused without ReLU; 5x5 -> 3x3 -> 1x1
      new L.Conv2d(4, 6, 1, g), new L.ReLU(), // no pool: layer by layer
      new L.Flatten(), new L.Linear(6, 3, g),
    );
    const x = g.normal([2, 3, 11, 10]);
    const layered = net.forward(x); // gradients enabled: every layer on its own
    const fused = L.noGrad(() => net.forward(x));
    expect(fused.shape).toEqual([2, 3]);
    // the float64 reference of the same network, from the GPU's parameters and input
    const leaf = async (t: L.Tensor) => A.leaf(R.ref(t.shape, await t.data()));
    const [w0, b0, w3, b3, w5, b5, w8, b8] = await Promise.all(net.parameters().map(leaf));
    const conv = (v: A.V, w: A.V, b: A.V, p: number) => A.conv2d(v, w, b, { stride: [1, 1], padding: [p, p], dilation: [1, 1], groups: 1 });
    const pool = (v: A.V) => A.maxPool2d(v, { kernel: [2, 2], stride: [2, 2], padding: [0, 0] });
    const relu = (v: A.V) => A.unary(v, (u) => Math.max(u, 0), (u) => +(u > 0));
    let h = pool(conv(pool(relu(conv(await leaf(x), w0!, b0!, 1))), w3!, b3!, 0));
    h = A.reshape(relu(conv(h, w5!, b5!, 0)), [2, 6]);
    const want = A.add(A.matmul(h, w8!, false, true), b8!);
    await expectClose(fused, want.value, F32.accumulate, 'fused Sequential', want.magnitude);
    await expectClose(layered, want.value, F32.accumulate, 'layer-by-layer Sequential', want.magnitude);
  });
});
