// Layers with PyTorch's parameter names, layouts and default initializations.
import { selfAttention } from '../tensor/attention.js';
import { batchNorm2d } from '../tensor/batchnorm.js';
import { isGradEnabled } from '../tensor/autograd.js';
import { conv2d, conv2dPool2, pair, type Pair } from '../tensor/conv.js';
import { fromArray, ones, zeros } from '../tensor/creation.js';
import { dropout } from '../tensor/dropout.js';
import { gelu, relu } from '../tensor/elementwise.js';
import { assign, reshape } from '../tensor/layout.js';
import { matmul } from '../tensor/matmul.js';
import { layerNorm } from '../tensor/norm.js';
import { adaptiveAvgPool2d, maxPool2d } from '../tensor/pool.js';
import type { Generator } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module } from './module.js';

/** A module that maps one tensor to one tensor. */
export abstract class Layer extends Module {
  abstract forward(x: Tensor): Tensor;
}

/** torch's default for Linear and Conv2d (kaiming_uniform with a = √5): U(−1/√fan_in, 1/√fan_in). */
function fanInUniform(g: Generator, shape: number[], fanIn: number): Tensor {
  const bound = 1 / Math.sqrt(Math.max(1, fanIn));
  return g.uniform(shape, -bound, bound);
}

export class Linear extends Layer {
  readonly weight: () => Tensor;
  readonly bias: (() => Tensor) | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, g: Generator, opts: { bias?: boolean; std?: number } = {}) {
    super();
    // std given: timm's ViT init (normal weights, zero bias); otherwise torch's default
    this.param('weight', opts.std !== undefined ? g.normal([outFeatures, inFeatures], 0, opts.std) : fanInUniform(g, [outFeatures, inFeatures], inFeatures));
    this.weight = () => this.own('weight');
    if (opts.bias ?? true) {
      this.param('bias', opts.std !== undefined ? zeros([outFeatures]) : fanInUniform(g, [outFeatures], inFeatures));
      this.bias = () => this.own('bias');
    } else {
      this.bias = null;
    }
  }

  /** x·Wᵀ + b (+ residual), the bias and residual added in the matmul's epilogue */
  forward(x: Tensor, residual?: Tensor): Tensor {
    return matmul(x, this.weight(), { transB: true, bias: this.bias?.(), residual }); // weight is [out, in], as torch
  }
}

export interface Conv2dLayerOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
}

export class Conv2d extends Layer {
  readonly weight: () => Tensor;
  readonly bias: (() => Tensor) | null;

  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernel: Pair, g: Generator, readonly opts: Conv2dLayerOptions = {}) {
    super();
    const [kh, kw] = pair(kernel);
    const groups = opts.groups ?? 1;
    const fanIn = (inChannels / groups) * kh * kw;
    this.param('weight', fanInUniform(g, [outChannels, inChannels / groups, kh, kw], fanIn)); // OIHW
    this.weight = () => this.own('weight');
    if (opts.bias ?? true) {
      this.param('bias', fanInUniform(g, [outChannels], fanIn));
      this.bias = () => this.own('bias');
    } else {
      this.bias = null;
    }
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight(), this.bias?.() ?? null, this.opts);
  }
}

export class LayerNorm extends Layer {
  readonly weight = () => this.own('weight');
  readonly bias = () => this.own('bias');

  constructor(readonly features: number, readonly eps = 1e-5) {
    super();
    this.param('weight', ones([features]));
    this.param('bias', zeros([features]));
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight(), this.bias(), this.eps);
  }
}

export class BatchNorm2d extends Layer {
  /** false stops running-statistics updates in training mode (SAM's second pass) */
  updateStats = true;

  /** torch's momentum; the landscape's BatchNorm recalibration sets 1/(n+1), a cumulative average */
  momentum: number;

  constructor(readonly features: number, momentum = 0.1, readonly eps = 1e-5) {
    super();
    this.momentum = momentum;
    this.param('weight', ones([features]));
    this.param('bias', zeros([features]));
    this.buffer('running_mean', zeros([features]));
    this.buffer('running_var', ones([features]));
    this.buffer('num_batches_tracked', fromArray(new Int32Array([0]), []));
  }

  forward(x: Tensor): Tensor {
    const update = this.training && this.updateStats;
    if (update) this.#batches++;
    return batchNorm2d(x, {
      weight: this.own('weight'), bias: this.own('bias'),
      runningMean: this.training && !update ? null : this.own('running_mean'),
      runningVar: this.training && !update ? null : this.own('running_var'),
      training: this.training, momentum: this.momentum, eps: this.eps,
    });
  }

  readonly weight = () => this.own('weight');
  readonly bias = () => this.own('bias');
  readonly runningMean = () => this.own('running_mean');
  readonly runningVar = () => this.own('running_var');

  /** Forgets the running statistics (mean 0, variance 1), as torch's reset_running_stats(). */
  resetRunningStats(): void {
    assign(this.own('running_mean'), zeros([this.features]));
    assign(this.own('running_var'), ones([this.features]));
  }

  // num_batches_tracked is counted on the host (no GPU work per batch) and written into its buffer
  // when a state dict is taken, so checkpoints carry it as torch's do.
  #batches = 0;
  #written = 0;
  override stateDict(prefix = ''): Array<[string, Tensor]> {
    if (this.#batches !== this.#written) {
      const count = fromArray(new Int32Array([this.#batches]), []);
      assign(this.own('num_batches_tracked'), count);
      count.dispose();
      this.#written = this.#batches;
    }
    return super.stateDict(prefix);
  }
}

export class ReLU extends Layer {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

export class GELU extends Layer {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
  }
  forward(x: Tensor): Tensor {
    return gelu(x, this.approximate);
  }
}

export class Flatten extends Layer {
  forward(x: Tensor): Tensor {
    return reshape(x, [x.shape[0]!, -1]);
  }
}

export class MaxPool2d extends Layer {
  constructor(readonly kernel: Pair, readonly stride?: Pair, readonly padding: Pair = 0) {
    super();
  }
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernel, this.stride, this.padding);
  }
}

export class AdaptiveAvgPool2d extends Layer {
  constructor(readonly size: Pair) {
    super();
  }
  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.size);
  }
}

export class Dropout extends Layer {
  constructor(readonly p: number, readonly generator: Generator) {
    super();
  }
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.generator, this.training);
  }
}

/** Submodules named "0", "1", ... as torch.nn.ModuleList. */
export class ModuleList<M extends Module> extends Module {
  readonly items: M[];
  constructor(items: M[]) {
    super();
    this.items = items.map((m, i) => this.module(String(i), m));
  }
}

/** Layers applied in order, named "0", "1", ... as torch.nn.Sequential. */
export class Sequential extends Layer {
  readonly layers: Layer[];
  constructor(...layers: Layer[]) {
    super();
    this.layers = layers.map((l, i) => this.module(String(i), l));
  }
  forward(x: Tensor): Tensor {
    return forwardLayers(this.layers, x);
  }
}

/**
 * Layers applied in turn. Under noGrad (inference), each Conv2d-[ReLU]-MaxPool2d(2) run is one
 * conv2dPool2 kernel that never writes the full-size convolution (an evaluation pass, the
 * sequential landscape evaluator).
 */
export function forwardLayers(layers: readonly Layer[], x: Tensor): Tensor {
  let h = x;
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i]!;
    const tail = l instanceof Conv2d && !isGradEnabled() ? poolTail(layers, i + 1) : null;
    if (l instanceof Conv2d && tail) {
      h = conv2dPool2(h, l.weight(), l.bias?.() ?? null, l.opts, tail.relu);
      i += tail.length;
    } else {
      h = l.forward(h);
    }
  }
  return h;
}

/** The layers after a Conv2d that an inference kernel can absorb: [BatchNorm2d] [ReLU] [MaxPool2d], each optional. */
export interface ConvTail {
  bn: BatchNorm2d | null;
  relu: boolean;
  pool: MaxPool2d | null;
  /** how many layers after the conv it absorbs */
  length: number;
}

export function convTail(layers: readonly Layer[], at: number): ConvTail {
  let i = at;
  const bn = layers[i] instanceof BatchNorm2d ? (layers[i++] as BatchNorm2d) : null;
  const relu = layers[i] instanceof ReLU ? (i++, true) : false;
  const pool = layers[i] instanceof MaxPool2d ? (layers[i++] as MaxPool2d) : null;
  return { bn, relu, pool, length: i - at };
}

/**
 * The [ReLU] MaxPool2d after a Conv2d that conv2dPool2 absorbs (a 2x2 pool with stride 2 and no
 * padding, no BatchNorm between), or null.
 */
export function poolTail(layers: readonly Layer[], at: number): ConvTail | null {
  const tail = convTail(layers, at);
  const p = tail.pool;
  if (tail.bn || !p) return null;
  const [k, st, pad] = [pair(p.kernel), pair(p.stride ?? p.kernel), pair(p.padding)];
  return k.every((v) => v === 2) && st.every((v) => v === 2) && pad.every((v) => v === 0) ? tail : null;
}

/** timm's Mlp: fc1, GELU, dropout, fc2. */
export class Mlp extends Layer {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(dim: number, hidden: number, g: Generator, readonly drop: Dropout | null = null, std = 0.02) {
    super();
    this.fc1 = this.module('fc1', new Linear(dim, hidden, g, { std }));
    this.fc2 = this.module('fc2', new Linear(hidden, dim, g, { std }));
  }
  /** fc2(gelu(fc1(x))) (+ residual, added by fc2's matmul) */
  forward(x: Tensor, residual?: Tensor): Tensor {
    const h = gelu(this.fc1.forward(x));
    return this.fc2.forward(this.drop ? this.drop.forward(h) : h, residual);
  }
}

/** timm's Attention: a fused qkv projection, the fused attention kernel, an output projection. */
export class MultiheadAttention extends Layer {
  readonly qkv: Linear;
  readonly proj: Linear;
  constructor(readonly dim: number, readonly heads: number, g: Generator, std = 0.02) {
    super();
    if (dim % heads !== 0) throw new Error(`MultiheadAttention: width ${dim} is not divisible by ${heads} heads`);
    this.qkv = this.module('qkv', new Linear(dim, 3 * dim, g, { std }));
    this.proj = this.module('proj', new Linear(dim, dim, g, { std }));
  }
  /** attention over x [B, N, C] (+ residual, added by the output projection's matmul) */
  forward(x: Tensor, residual?: Tensor): Tensor {
    // the kernels read q, k, v from qkv's [B, N, 3, heads, C/heads] layout and write [B, N, heads, C/heads]
    return this.proj.forward(selfAttention(this.qkv.forward(x), this.heads), residual);
  }
}
