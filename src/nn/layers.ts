// Layers with PyTorch's parameter names, layouts and default initializations. Each layer with
// parameters has its stacked rule (K points at once, nn/stack.ts) beside its forward.
import { selfAttention } from '../tensor/attention.js';
import { batchNorm2d } from '../tensor/batchnorm.js';
import { conv2d, conv2dPool2, pair, type Pair } from '../tensor/conv.js';
import { fromArray, ones, zeros } from '../tensor/creation.js';
import { dropout } from '../tensor/dropout.js';
import { gelu, relu } from '../tensor/elementwise.js';
import { assign, broadcastTo, reshape } from '../tensor/layout.js';
import { matmul } from '../tensor/matmul.js';
import { layerNorm, layerNormPerSlice } from '../tensor/norm.js';
import { adaptiveAvgPool2d, maxPool2d } from '../tensor/pool.js';
import type { Generator } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { interceptor, Module } from './module.js';
import type { Stack } from './stack.js';

/** A module that maps one tensor to one tensor. */
export abstract class Layer extends Module {
  abstract forward(x: Tensor): Tensor;

  /**
   * The layer at K points at once, beside its forward (nn/stack.ts): x in one of the stack's
   * layouts, the output for every point, tagged with its layout. A layer without one runs its
   * forward in a stacked pass (parameter-free layers on the stacked tensor, containers with their
   * children's calls stacked).
   */
  stacked?(x: Tensor, s: Stack): Tensor;

  constructor() {
    super();
    // every call goes through the active interceptor, if any (a stacked pass, a profiler)
    const self: Layer = this;
    const forward = self.forward as (x: Tensor, ...rest: unknown[]) => Tensor;
    self.forward = (x: Tensor, ...rest: unknown[]) => {
      const i = interceptor();
      return i ? i.call(this, forward, x, rest) : forward.call(this, x, ...rest);
    };
  }
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

  /**
   * K points: x shared [..., in] (its rows broadcast against the points' weights [K, out, in]) or
   * dense [K, ..., in]; one batched matmul with each point's bias and the residual in its epilogue.
   */
  override stacked(x: Tensor, s: Stack, residual?: Tensor): Tensor {
    const shared = s.layout(x) === 'shared';
    const first = shared ? s.first(this, x) : null;
    if (first) return first;
    const rows = (t: Tensor) => reshape(t, [s.k, -1, t.shape.at(-1)!]);
    const bias = this.bias ? reshape(s.param(this.bias()), [s.k, 1, -1]) : undefined;
    const y = matmul(shared ? reshape(x, [-1, this.inFeatures]) : rows(x), s.param(this.weight()), { transB: true, bias, residual: residual && rows(residual) });
    return s.dense(reshape(y, [...(shared ? [s.k] : []), ...x.shape.slice(0, -1), this.outFeatures]));
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

  /**
   * K points: x image [B, K·C, H, W], each point's channels their own groups (K times the groups),
   * or shared [B, C, H, W], where an ungrouped conv takes the points' weights stacked on output
   * channels. With `pool`, fused with the 2x2/2 max-pool (and ReLU) after it (conv2dPool2).
   */
  override stacked(x: Tensor, s: Stack, pool?: { relu: boolean }): Tensor {
    const shared = s.layout(x) === 'shared';
    const first = shared && !pool ? s.first(this, x) : null;
    if (first) return first;
    const onInput = shared && (this.opts.groups ?? 1) === 1;
    const w = reshape(s.param(this.weight()), [-1, ...this.weight().shape.slice(1)]);
    const bias = this.bias ? reshape(s.param(this.bias()), [-1]) : null;
    const input = onInput ? x : s.expand(x, 'image');
    const opts = { ...this.opts, groups: onInput ? 1 : (this.opts.groups ?? 1) * s.k };
    return s.image(pool ? conv2dPool2(input, w, bias, opts, pool.relu) : conv2d(input, w, bias, opts));
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

  /** K points: dense [K, ..., C] (a shared x broadcast first), each point's affine in one kernel. */
  override stacked(x: Tensor, s: Stack): Tensor {
    return s.dense(layerNormPerSlice(s.expand(x, 'dense'), s.param(this.weight()), s.param(this.bias()), this.eps));
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

  /**
   * K points on image activations [B, K·C, H, W]: one call over K·C channels with the points'
   * affine parameters, normalizing with the running statistics (eval mode) or with each point's own
   * (s.stats, recalibration: a calibration batch's statistics over K·C channels are each point's).
   */
  override stacked(x: Tensor, s: Stack): Tensor {
    const tile = (t: Tensor) => reshape(broadcastTo(reshape(t, [1, -1]), [s.k, this.features]), [-1]);
    const [runningMean, runningVar] = s.stats ? s.stats.of(this) : [tile(this.runningMean()), tile(this.runningVar())];
    const points = (p: Tensor) => reshape(s.param(p), [-1]);
    return s.image(batchNorm2d(s.expand(x, 'image'), {
      weight: points(this.weight()), bias: points(this.bias()), runningMean, runningVar,
      training: s.stats?.momentum != null, momentum: s.stats?.momentum ?? 0, eps: this.eps,
    }));
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

  /** K points: image [B, K·C, H, W] to dense [K, B, C·H·W], dense [K, B, ...] to [K, B, -1]; shared as forward. */
  override stacked(x: Tensor, s: Stack): Tensor {
    const layout = s.layout(x);
    if (layout === 'image') return s.imageToDense(x);
    if (layout === 'dense') return s.dense(reshape(x, [s.k, x.shape[1]!, -1]));
    return s.shared(reshape(x, [x.shape[0]!, -1]));
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
