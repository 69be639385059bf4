// The op cases: matmul (square, tall-skinny, batched, the models' Linear layers), conv2d forward and
// forward with both gradients (the MNIST CNN's and ResNet shapes), attention forward and backward,
// layer norm, softmax, cross-entropy and the AdamW update. losscape runs each through its public
// API (the engine's pick of kernel version: forced, tuned or default). Before timing, each is
// checked against the float64 reference: matmul on sampled entries of the timed product, the others
// on a small case of the same op and geometry through test/gradcheck.ts (forward and every input
// gradient, element by element within the suite's tolerances).
import {
  AdamW, attention, backward, conv2d, convOutSize, crossEntropy, FlatParameters, fromArray, Generator, grad, keep, layerNorm,
  matmul, matmulVersion, softmax, sum, tidy, type Tensor,
} from '../src/index.js';
import { Module } from '../src/nn/module.js';
import { gradCheck } from '../test/gradcheck.js';
import * as A from '../test/ref-autograd.js';
import type { BenchCase, Variant } from './suite.js';

export interface OpCaseOptions {
  /** smaller shapes, for a smoke run */
  quick: boolean;
  /** the square matmuls' sizes */
  squares?: number[];
}

/** Every tensor in a nested result. */
const flat = (t: unknown): Tensor[] => (Array.isArray(t) ? t.flatMap(flat) : t ? [t as Tensor] : []);

/**
 * losscape running `op` on inputs made by `make`: a sample records the op and reads every output back
 * (for a pass with gradients, the gradients). `check` runs first.
 */
export function losscapeVariant(name: string, check: () => Promise<string>, make: () => Tensor[], op: (xs: Tensor[]) => unknown): Variant {
  return {
    name,
    setup: async () => {
      const checked = await check();
      const xs = make();
      return {
        checked,
        timed: {
          call: () => tidy(() => void op(xs)),
          run: async () => {
            const outs = tidy(() => flat(op(xs)).map((t) => keep(t)));
            await Promise.all(outs.map((t) => t.data()));
            outs.forEach((t) => t.dispose());
          },
          dispose: () => xs.forEach((t) => t.dispose()),
        },
      };
    },
  };
}

/** The gradients of Σ f(xs) with respect to every input (what a training step's backward reads). */
function withGrads(f: (xs: Tensor[]) => Tensor): (xs: Tensor[]) => unknown {
  return (xs) => {
    const y = f(xs);
    return [y, grad(sum(y), xs)];
  };
}

let seed = 1000;
const normal = (shape: number[], std = 1) => new Generator(seed++).normal(shape, 0, std);

/** C = A·B (or with B transposed, as a Linear layer): sampled entries against a float64 dot product. */
async function checkMatmul(m: number, k: number, n: number, transB: boolean, batch: number): Promise<string> {
  const [a, b] = [normal([batch, m, k]), normal(transB ? [batch, n, k] : [batch, k, n])];
  const c = matmul(a, b, { transB });
  const [av, bv, cv] = await Promise.all([a.data(), b.data(), c.data()]);
  let worst = 0;
  for (let s = 0; s < 64; s++) {
    const [bi, i, j] = [(s * 7) % batch, (s * 977) % m, (s * 331) % n];
    let [ref, mag] = [0, 0];
    for (let p = 0; p < k; p++) {
      const x = av[(bi * m + i) * k + p]! * bv[transB ? (bi * n + j) * k + p : (bi * k + p) * n + j]!;
      ref += x;
      mag += Math.abs(x);
    }
    const err = Math.abs(cv[(bi * m + i) * n + j]! - ref) / mag;
    if (!(err <= 2 ** -24 * 256)) throw new Error(`matmul ${m}x${k}x${n}: entry (${bi}, ${i}, ${j}) is ${cv[(bi * m + i) * n + j]}, float64 gives ${ref}`);
    worst = Math.max(worst, err);
  }
  for (const t of [a, b, c]) t.dispose();
  return `64 sampled entries of the timed product against float64: worst error ${worst.toExponential(1)} of Σ|aₖbₖ|`;
}

function matmulCase(name: string, [batch, m, k, n]: number[], transB: boolean): BenchCase {
  const shape = (rows: number, cols: number) => (batch > 1 ? [batch, rows, cols] : [rows, cols]);
  return {
    group: 'matmul', name, uses: ['matmul'], flops: 2 * batch * m * k * n, bytes: 4 * batch * (m * k + k * n + m * n),
    peer: { kind: 'matmul', shapes: [shape(m, k), transB ? shape(n, k) : shape(k, n)], transB },
    variants: [
      losscapeVariant(`losscape (${matmulVersion(m, k, n, false, transB)})`, () => checkMatmul(m, k, n, transB, batch),
        () => [normal(shape(m, k)), normal(transB ? shape(n, k) : shape(k, n))], ([a, b]) => matmul(a!, b!, { transB })),
    ],
  };
}

/** A Linear layer x·Wᵀ + b (+ residual) on `rows` rows: the models' own shapes. */
function linearCase(name: string, rows: number, fin: number, fout: number, residual: boolean): BenchCase {
  return {
    group: 'matmul', name, uses: ['matmul'], flops: 2 * rows * fin * fout, bytes: 4 * (rows * fin + fin * fout + rows * fout * (residual ? 2 : 1)),
    peer: { kind: 'matmul', shapes: [[rows, fin], [fout, fin], [fout], ...(residual ? [[rows, fout]] : [])], transB: true },
    variants: [
      losscapeVariant(`losscape (${matmulVersion(rows, fin, fout, false, true)})`, () => checkMatmul(rows, fin, fout, true, 1),
        () => [normal([rows, fin]), normal([fout, fin]), normal([fout]), ...(residual ? [normal([rows, fout])] : [])],
        ([x, w, b, r]) => matmul(x!, w!, { transB: true, bias: b, residual: r })),
    ],
  };
}

export interface ConvShape {
  name: string;
  /** batch, channels, height, width, output channels, kernel, stride, padding */
  geometry: [number, number, number, number, number, number, number, number];
}

/** The conv2d's float64 check on a small batch of the same geometry (forward and both gradients). */
async function checkConv([, c, h, w, oc, k, stride, padding]: ConvShape['geometry']): Promise<string> {
  const args = { stride: [stride, stride] as [number, number], padding: [padding, padding] as [number, number], dilation: [1, 1] as [number, number], groups: 1 };
  await gradCheck({
    what: 'conv2d', shapes: [[2, c, h, w], [oc, c, k, k], [oc]],
    gpu: (x, wt, b) => conv2d(x, wt, b, { stride, padding }), ref: (x, wt, b) => A.conv2d(x, wt, b, args),
  });
  return 'batch of 2, same geometry: forward and the gradients of input, weight and bias against float64';
}

function convCases(s: ConvShape): BenchCase[] {
  const [n, c, h, w, oc, k, stride, padding] = s.geometry;
  const [oh, ow] = [convOutSize(h, k, stride, padding, 1), convOutSize(w, k, stride, padding, 1)];
  const flops = 2 * n * oc * oh * ow * c * k * k;
  const make = () => [normal([n, c, h, w]).requireGrad(), normal([oc, c, k, k], 0.1).requireGrad(), normal([oc]).requireGrad()];
  const fwd = ([x, wt, b]: Tensor[]) => conv2d(x!, wt!, b!, { stride, padding });
  return [
    { group: 'conv2d', name: `${s.name} forward`, uses: ['conv2d'], flops, peer: { kind: 'conv2d', geometry: s.geometry, grads: false }, variants: [losscapeVariant('losscape', () => checkConv(s.geometry), make, fwd)] },
    { group: 'conv2d', name: `${s.name} fwd+bwd`, uses: ['conv2d'], flops: 3 * flops, peer: { kind: 'conv2d', geometry: s.geometry, grads: true }, variants: [losscapeVariant('losscape', () => checkConv(s.geometry), make, withGrads(fwd))] },
  ];
}

function attentionCases(bh: number, seq: number, d: number): BenchCase[] {
  const make = () => [0, 1, 2].map(() => normal([bh, seq, d]).requireGrad());
  const check = async () => {
    await gradCheck({ what: 'attention', shapes: [[2, Math.min(seq, 37), d], [2, Math.min(seq, 37), d], [2, Math.min(seq, 37), d]], gpu: (q, k, v) => attention(q, k, v), ref: (q, k, v) => A.attention(q, k, v, 1 / Math.sqrt(d)) });
    return `2 heads of ${Math.min(seq, 37)} tokens: forward and the gradients of q, k and v against float64`;
  };
  const fwd = ([q, k, v]: Tensor[]) => attention(q!, k!, v!);
  // forward: Q·Kᵀ and P·V, 2·s²·d each; backward: 5 more (the scores again, dP, dS·K, Pᵀ·dO, dSᵀ·Q)
  const name = `${bh} heads x ${seq} tokens, dim ${d}`;
  return [
    { group: 'attention', name: `${name} forward`, uses: ['attention'], flops: 4 * bh * seq * seq * d, peer: { kind: 'attention', shape: [bh, seq, d], grads: false }, variants: [losscapeVariant('losscape', check, make, fwd)] },
    { group: 'attention', name: `${name} fwd+bwd`, uses: ['attention'], flops: 14 * bh * seq * seq * d, peer: { kind: 'attention', shape: [bh, seq, d], grads: true }, variants: [losscapeVariant('losscape', check, make, withGrads(fwd))] },
  ];
}

function rowOpCases(quick: boolean): BenchCase[] {
  const rows = quick ? 250 : 4250;
  const ln: BenchCase = {
    group: 'layernorm', name: `${rows} x 64 fwd+bwd`, uses: [], bytes: 4 * rows * 64 * 5,
    variants: [losscapeVariant('losscape', async () => {
      await gradCheck({ what: 'layerNorm', shapes: [[7, 64], [64], [64]], gpu: (x, w, b) => layerNorm(x, w, b), ref: (x, w, b) => A.layerNorm(x, w, b, 1e-5) });
      return '7 rows: forward and the gradients of input, weight and bias against float64';
    }, () => [normal([rows, 64]).requireGrad(), normal([64]).requireGrad(), normal([64]).requireGrad()], withGrads(([x, w, b]) => layerNorm(x!, w!, b!)))],
  };
  const srows = quick ? 64 : 8 * 197;
  const sm: BenchCase = {
    group: 'softmax', name: `${srows} x 197 fwd+bwd`, uses: [], bytes: 4 * srows * 197 * 4,
    variants: [losscapeVariant('losscape', async () => {
      await gradCheck({ what: 'softmax', shapes: [[5, 197]], gpu: (x) => softmax(x), ref: (x) => A.softmax(x) });
      return '5 rows: forward and gradient against float64';
    }, () => [normal([srows, 197]).requireGrad()], withGrads(([x]) => softmax(x!)))],
  };
  const ce = (n: number, classes: number): BenchCase => {
    const labels = Int32Array.from({ length: n }, (_, i) => (i * 7) % classes);
    return {
      group: 'cross-entropy', name: `${n} x ${classes} fwd+bwd`, uses: [], bytes: 4 * n * classes * 2,
      variants: [losscapeVariant('losscape', async () => {
        const small = Array.from({ length: 9 }, (_, i) => (i * 7) % classes);
        const y = fromArray(Int32Array.from(small), [9], 'i32');
        await gradCheck({ what: 'crossEntropy', shapes: [[9, classes]], gpu: (x) => crossEntropy(x, y), ref: (x) => A.crossEntropy(x, small) });
        y.dispose();
        return '9 rows: the loss and its gradient against float64';
      }, () => [normal([n, classes]).requireGrad(), fromArray(labels, [n], 'i32')], ([x, y]) => {
        const loss = crossEntropy(x!, y!);
        return [loss, grad(loss, [x!])];
      })],
    };
  };
  return [ln, sm, ce(quick ? 256 : 8192, 10), ce(quick ? 64 : 1024, 1000)];
}

/** A module of one flat parameter vector, for the optimizer's update alone. */
class Vector extends Module {
  constructor(n: number) {
    super();
    this.param('v', normal([n]));
  }
}

function optimizerCase(n: number): BenchCase {
  // torch.optim.AdamW's first step with every gradient 1 (lr 1e-3, weight decay 0.01): m̂ = v̂ = 1
  const torchFirstStep = (p: number) => p * (1 - 1e-3 * 0.01) - 1e-3 / (1 + 1e-8);
  return {
    group: 'optimizer', name: `AdamW step, ${n} parameters`, uses: [], bytes: 4 * n * 7, items: { count: n, unit: 'parameters' },
    variants: [{
      name: 'losscape',
      setup: async () => {
        const vector = new Vector(n);
        const params = FlatParameters.of(vector);
        tidy(() => backward(sum(vector.parameters()[0]!)));
        const before = await params.values.data();
        const opt = new AdamW(params, { lr: 1e-3 });
        opt.step();
        const after = await params.values.data();
        const every = Math.max(1, Math.floor(n / 997));
        let worst = 0;
        for (let i = 0; i < n; i += every) worst = Math.max(worst, Math.abs(after[i]! - torchFirstStep(before[i]!)) / Math.max(1e-3, Math.abs(torchFirstStep(before[i]!))));
        if (!(worst < 1e-5)) throw new Error(`AdamW: the first step is off torch's update by ${worst} (relative)`);
        return {
          checked: `the first step against torch.optim.AdamW's in float64, every ${every}th parameter: worst ${worst.toExponential(1)} (relative)`,
          timed: {
            call: () => opt.step(),
            run: async () => {
              opt.step();
              await params.values.data();
            },
            dispose: () => {
              opt.dispose();
              params.dispose();
            },
          },
        };
      },
    }],
  };
}

/** The op cases, smaller with `quick`. */
export function opCases({ quick, squares = quick ? [64, 128] : [256, 512, 1024, 2048] }: OpCaseOptions): BenchCase[] {
  const q = (full: number, small: number) => (quick ? small : full);
  const conv: ConvShape[] = [
    { name: 'MNIST CNN conv1 1→8 28x28, batch 64', geometry: [q(64, 4), 1, 28, 28, 8, 3, 1, 1] },
    { name: 'MNIST CNN conv2 8→16 14x14, batch 64', geometry: [q(64, 4), 8, 14, 14, 16, 3, 1, 1] },
    { name: '16→32 28x28, batch 32', geometry: [q(32, 2), 16, 28, 28, 32, 3, 1, 1] },
    { name: 'ResNet 3x3 16→16 32x32, batch 32', geometry: [q(32, 2), 16, 32, 32, 16, 3, 1, 1] },
    { name: 'ResNet 3x3/2 16→32 32x32, batch 32', geometry: [q(32, 2), 16, 32, 32, 32, 3, 2, 1] },
    { name: 'ResNet 3x3 64→64 16x16, batch 32', geometry: [q(32, 2), 64, 16, 16, 64, 3, 1, 1] },
  ];
  return [
    ...squares.map((s) => matmulCase(`${s}x${s}x${s}`, [1, s, s, s], false)),
    matmulCase(q(4096, 256) + 'x64x' + q(4096, 256), [1, q(4096, 256), 64, q(4096, 256)], false),
    matmulCase(`batched 32 x ${q(256, 64)}³`, [32, q(256, 64), q(256, 64), q(256, 64)], false),
    linearCase(`MLP Linear 784→128, ${q(1000, 100)} rows`, q(1000, 100), 784, 128, false),
    linearCase(`ViT qkv 64→192, ${q(4250, 425)} rows`, q(4250, 425), 64, 192, false),
    linearCase(`ViT fc2 128→64 + residual, ${q(4250, 425)} rows`, q(4250, 425), 128, 64, true),
    ...conv.flatMap(convCases),
    ...(quick ? [[4, 64, 32]] : [[8, 64, 32], [8, 256, 32], [8, 1024, 32], [8, 64, 64], [8, 256, 64], [8, 1024, 64], [8, 197, 64]]).flatMap(([bh, s, d]) => attentionCases(bh!, s!, d!)),
    ...rowOpCases(quick),
    optimizerCase(q(1 << 20, 1 << 12)),
  ];
}

