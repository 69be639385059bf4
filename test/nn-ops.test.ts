import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import { gradCheck } from './gradcheck.js';
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
    const mu = R.reduce(rx, [0, 2, 3], false, R.sumOf).data.map((s) => s / m);
    const ss = R.reduce(R.zip(rx, R.ref([1, 4, 1, 1], mu), (v, u) => (v - u) ** 2), [0, 2, 3], false, R.sumOf).data;
    await expectClose(runningMean, R.ref([4], rrm.data.map((r, i) => 0.7 * r + 0.3 * mu[i]!)), 1e-5, 'running mean');
    await expectClose(runningVar, R.ref([4], rrv.data.map((r, i) => 0.7 * r + (0.3 * ss[i]!) / (m - 1))), 1e-5, 'running var');
    // eval: (x − running_mean)/sqrt(running_var + eps)
    const y = L.batchNorm2d(x, { runningMean, runningVar, training: false });
    const [rmNow, rvNow] = [await runningMean.data(), await runningVar.data()];
    const channel = (i: number) => Math.floor(i / 10) % 4; // [3, 4, 5, 2]: 10 values per channel plane
    const expected = R.ref(rx.shape, rx.data.map((v, i) => (v - rmNow[channel(i)]!) / Math.sqrt(rvNow[channel(i)]! + 1e-5)));
    await expectClose(y, expected, 1e-5, 'eval mode');
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
      const expected = A.layerNorm(new A.V(rx), new A.V(R.ref(perSlice, rw.data)), new A.V(R.ref(perSlice, rb.data)), eps).value;
      await expectClose(L.layerNormPerSlice(x, w, b, eps), expected, 1e-5, `layerNormPerSlice ${shape}`);
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
    const want = await layered.data();
    await expectClose(fused, R.ref(layered.shape, want), 1e-5, 'fused Sequential');
  });
});
