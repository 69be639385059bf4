// Autograd as a whole: bad input, accumulation, noGrad, memory across many steps, and two composed
// networks (a ViT block and a residual conv block) against the float64 reference end to end.
import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import { gradCheck } from './gradcheck.js';
import * as A from './ref-autograd.js';
import { erf, type ConvArgs } from './reference.js';

describe('backward: bad input', () => {
  it('refuses a second backward through a freed graph, unless the first kept it', async () => {
    const x = L.ones([3]).requireGrad();
    const y = L.sum(L.exp(x));
    L.backward(y);
    expect(() => L.backward(y)).toThrow(/graph through sum was freed by an earlier backward\(\); pass \{ retainGraph: true \}/);
    const z = L.sum(L.exp(x));
    L.backward(z, undefined, { retainGraph: true });
    L.backward(z);
    // three backward passes of d/dx Σ exp(x) = e, accumulated
    for (const g of await x.grad!.data()) expect(g).toBeCloseTo(3 * Math.E, 4);
  });

  it('needs a gradient for non-scalar outputs, of the output shape', () => {
    const x = L.ones([2, 3]).requireGrad();
    const y = L.exp(x);
    expect(() => L.backward(y)).toThrow('backward: output of shape [2, 3] is not a scalar; pass its gradient');
    expect(() => L.backward(y, L.ones([3]))).toThrow('backward: gradient of shape [3] for an output of shape [2, 3]');
    expect(() => L.backward(L.exp(L.ones([1])))).toThrow(/does not require grad/);
    L.backward(y, L.full([2, 3], 2)); // vector-Jacobian product: 2·exp(1)
  });

  it('propagates NaN inputs to NaN gradients, and never hangs', async () => {
    const x = L.fromArray([1, NaN, 2], [3]).requireGrad();
    const y = L.sum(L.mul(L.tanh(x), L.softmax(x)));
    expect(Number.isNaN(await y.item())).toBe(true);
    L.backward(y);
    const g = await x.grad!.data();
    expect(g.some(Number.isNaN)).toBe(true);
  });
});

describe('graph bookkeeping', () => {
  it('records nothing under noGrad and accumulates gradients across backward calls', async () => {
    const w = L.fromArray([1, 2, 3]).requireGrad();
    const y = L.noGrad(() => L.mul(w, 2));
    expect(y.requiresGrad).toBe(false);
    expect(L.isGradEnabled()).toBe(true);
    L.backward(L.sum(L.mul(w, w)));
    L.backward(L.sum(L.mul(w, 3)));
    expect([...(await w.grad!.data())]).toEqual([5, 7, 9]); // 2w + 3
  });

  it('uses a tensor twice (a diamond) and sums both paths', async () => {
    const x = L.fromArray([0.5, -1]).requireGrad();
    const h = L.tanh(x);
    L.backward(L.sum(L.add(L.mul(h, h), h)));
    const t = [0.5, -1].map(Math.tanh);
    const expected = t.map((v) => (2 * v + 1) * (1 - v * v));
    const g = await x.grad!.data();
    g.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
  });

  it('keeps live GPU memory flat over hundreds of forward/backward steps', async () => {
    const e = L.getEngine();
    const g = new L.Generator(3);
    const w1 = L.keep(g.normal([16, 32], 0, 0.3).requireGrad());
    const w2 = L.keep(g.normal([32, 10], 0, 0.3).requireGrad());
    const x = L.keep(g.normal([8, 16]));
    const y = L.keep(L.fromArray(new Int32Array([0, 1, 2, 3, 4, 5, 6, 7])));
    const step = () =>
      L.tidy(() => {
        const loss = L.crossEntropy(L.matmul(L.layerNorm(L.gelu(L.matmul(x, w1))), w2), y);
        L.backward(loss);
      });
    step();
    await e.sync();
    const live = e.stats.bytesLive;
    for (let i = 0; i < 300; i++) step();
    await e.sync();
    expect(e.stats.bytesLive).toBe(live); // grads accumulate in place of the old ones: same sizes
    for (const t of [w1, w2, x, y]) t.dispose();
  });
});

describe('composed networks against the float64 reference', () => {
  it('a two-layer ViT block stack: pre-norm attention and GELU MLP with residuals', async () => {
    const [b, s, d, heads, hidden] = [2, 5, 8, 2, 16];
    const hd = d / heads;
    const layerShapes = [[d], [d], [d, 3 * d], [3 * d], [d, d], [d], [d], [d], [d, hidden], [hidden], [hidden, d], [d]];
    const block = {
      gpu: (x: L.Tensor, p: L.Tensor[]) => {
        const [n1w, n1b, qkvW, qkvB, projW, projB, n2w, n2b, fc1W, fc1B, fc2W, fc2B] = p as [L.Tensor, L.Tensor, L.Tensor, L.Tensor, L.Tensor, L.Tensor, L.Tensor, L.Tensor, L.Tensor, L.Tensor, L.Tensor, L.Tensor];
        const qkv = L.add(L.matmul(L.layerNorm(x, n1w, n1b, 1e-6), qkvW), qkvB); // [b, s, 3d]
        const split = L.permute(L.reshape(qkv, [b, s, 3, heads, hd]), [2, 0, 3, 1, 4]); // [3, b, h, s, hd]
        const [q, k, v] = [0, 1, 2].map((i) => L.reshape(L.slice(split, [i], [i + 1]), [b, heads, s, hd]));
        const att = L.reshape(L.permute(L.attention(q!, k!, v!), [0, 2, 1, 3]), [b, s, d]);
        const x1 = L.add(x, L.add(L.matmul(att, projW), projB));
        const h = L.gelu(L.add(L.matmul(L.layerNorm(x1, n2w, n2b, 1e-6), fc1W), fc1B));
        return L.add(x1, L.add(L.matmul(h, fc2W), fc2B));
      },
      ref: (x: A.V, p: A.V[]) => {
        const [n1w, n1b, qkvW, qkvB, projW, projB, n2w, n2b, fc1W, fc1B, fc2W, fc2B] = p as [A.V, A.V, A.V, A.V, A.V, A.V, A.V, A.V, A.V, A.V, A.V, A.V];
        const qkv = A.add(A.matmul(A.layerNorm(x, n1w, n1b, 1e-6), qkvW), qkvB);
        const split = A.permute(A.reshape(qkv, [b, s, 3, heads, hd]), [2, 0, 3, 1, 4]);
        const [q, k, v] = [0, 1, 2].map((i) => A.reshape(A.slice(split, [i, 0, 0, 0, 0], [1, b, heads, s, hd]), [b, heads, s, hd]));
        const att = A.reshape(A.permute(A.attention(q!, k!, v!, 1 / Math.sqrt(hd)), [0, 2, 1, 3]), [b, s, d]);
        const x1 = A.add(x, A.add(A.matmul(att, projW), projB));
        const erfGelu = (u: number) => 0.5 * u * (1 + erf(u / Math.SQRT2));
        const dGelu = (u: number) => 0.5 * (1 + erf(u / Math.SQRT2)) + (u * Math.exp(-u * u / 2)) / Math.sqrt(2 * Math.PI);
        const h = A.unary(A.add(A.matmul(A.layerNorm(x1, n2w, n2b, 1e-6), fc1W), fc1B), erfGelu, dGelu);
        return A.add(x1, A.add(A.matmul(h, fc2W), fc2B));
      },
    };
    const shapes = [[b, s, d], ...layerShapes, ...layerShapes];
    await gradCheck({
      what: 'ViT blocks', shapes, range: [-0.8, 0.8], scale: 'rms',
      gpu: (x, ...p) => block.gpu(block.gpu(x!, p.slice(0, 12)), p.slice(12)),
      ref: (x, ...p) => block.ref(block.ref(x!, p.slice(0, 12)), p.slice(12)),
    });
  });

  it('a residual conv block: conv-BN-ReLU-conv-BN, strided projection shortcut, pooling, head', async () => {
    const [n, c, h, w, oc, classes] = [2, 3, 9, 9, 4, 5];
    const conv = (s: number, p: number): ConvArgs => ({ stride: [s, s], padding: [p, p], dilation: [1, 1], groups: 1 });
    const labels = [1, 4];
    const y = L.fromArray(new Int32Array(labels));
    await gradCheck({
      what: 'residual conv block', scale: 'rms',
      shapes: [[n, c, h, w], [oc, c, 3, 3], [oc], [oc], [oc, oc, 3, 3], [oc], [oc], [oc, c, 1, 1], [classes, oc], [classes]],
      range: [-1, 1],
      gpu: (x, w1, g1, b1, w2, g2, b2, wp, fcW, fcB) => {
        const a = L.relu(L.batchNorm2d(L.conv2d(x!, w1!, null, { stride: 2, padding: 1 }), { weight: g1, bias: b1 }));
        const r = L.batchNorm2d(L.conv2d(a, w2!, null, { padding: 1 }), { weight: g2, bias: b2 });
        const out = L.relu(L.add(r, L.conv2d(x!, wp!, null, { stride: 2 })));
        const pooled = L.reshape(L.adaptiveAvgPool2d(out, 1), [n, oc]);
        return L.reshape(L.crossEntropy(L.add(L.matmul(pooled, fcW!, { transB: true }), fcB!), y), [1]);
      },
      ref: (x, w1, g1, b1, w2, g2, b2, wp, fcW, fcB) => {
        const relu = (v: A.V) => A.unary(v, (u) => Math.max(u, 0), (u) => +(u > 0));
        const a = relu(A.batchNorm2d(A.conv2d(x!, w1!, null, conv(2, 1)), g1!, b1!, 1e-5));
        const r = A.batchNorm2d(A.conv2d(a, w2!, null, conv(1, 1)), g2!, b2!, 1e-5);
        const out = relu(A.add(r, A.conv2d(x!, wp!, null, conv(2, 0))));
        const pooled = A.reshape(A.avgPool2d(out, { kernel: [1, 1], stride: [1, 1], padding: [0, 0], adaptive: true }), [n, oc]);
        return A.reshape(A.crossEntropy(A.add(A.matmul(pooled, fcW!, false, true), fcB!), labels), [1]);
      },
    });
  });
});
