// Optimizers over a FlatParameters vector, each step one fused dispatch (kernels/optim.wgsl):
// SGD (momentum, dampening, Nesterov, weight decay) and AdamW exactly as torch.optim; SAM and
// ASAM wrapping either; gradient clipping by global norm. State lives on the GPU, flat too.
import { Params } from '../gpu/params.js';
import { noGrad } from '../tensor/autograd.js';
import { zeros } from '../tensor/creation.js';
import { add, div, mul, abs, sqrt, square } from '../tensor/elementwise.js';
import { launchPerItem } from '../tensor/launch.js';
import { sum } from '../tensor/reduce.js';
import { getEngine } from '../tensor/runtime.js';
import { keep, tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import type { FlatParameters } from './flat.js';
import { BatchNorm2d } from './layers.js';

export interface Optimizer {
  readonly flat: FlatParameters;
  /** the learning rate the next step uses (schedules set it) */
  lr: number;
  step(): void;
  zeroGrad(): void;
  /** optimizer state, flat, by name (for checkpoints) */
  state(): Record<string, Tensor>;
  stepCount: number;
  /** frees the optimizer's buffers (not the parameters') */
  dispose(): void;
}

function dispatch(entry: string, flat: FlatParameters, params: Params, buffers: Array<Tensor | null>, constants: Record<string, number> = {}): void {
  launchPerItem(getEngine(), 'optim', entry, flat.size, params, buffers.map((t) => t?.buffer(entry) ?? null), constants);
}

/**
 * The kernel's Params. Every constant is formed here in float64 and rounded to f32 once (as torch
 * forms them from Python floats), never combined from rounded hyperparameters on the GPU.
 */
function params(n: number, first: boolean, c: Partial<Record<'step' | 'wd' | 'momentum' | 'keep' | 'decay' | 'oneMinusB1' | 'beta2' | 'oneMinusB2' | 'sqrtBias2' | 'eps', number>> = {}): Params {
  const { step = 0, wd = 0, momentum = 0, keep = 1, decay = 1, oneMinusB1 = 0, beta2 = 0, oneMinusB2 = 0, sqrtBias2 = 1, eps = 0 } = c;
  return new Params().u32(n, first ? 1 : 0, 0, 0).f32(step, wd, momentum, keep, decay, oneMinusB1, beta2, oneMinusB2, sqrtBias2, eps);
}

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

export class SGD implements Optimizer {
  lr: number;
  stepCount = 0;
  readonly #buf: Tensor;
  constructor(readonly flat: FlatParameters, readonly opts: SGDOptions) {
    this.lr = opts.lr;
    if (opts.nesterov && (!opts.momentum || opts.dampening)) throw new Error('SGD: Nesterov momentum requires a momentum and zero dampening');
    this.#buf = keep(zeros([flat.size]));
  }
  step(): void {
    const { momentum = 0, dampening = 0, nesterov = false, weightDecay = 0 } = this.opts;
    const p = params(this.flat.size, this.stepCount === 0, { step: this.lr, wd: weightDecay, momentum, keep: 1 - dampening });
    dispatch('sgd', this.flat, p, [this.flat.values, this.flat.grads, this.#buf], { NESTEROV: nesterov ? 1 : 0 });
    this.stepCount++;
  }
  zeroGrad(): void {
    this.flat.zeroGrad();
  }
  state(): Record<string, Tensor> {
    return { momentum_buffer: this.#buf };
  }
  dispose(): void {
    this.#buf.dispose();
  }
}

export interface AdamWOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
  /** decoupled weight decay; torch's default is 0.01 */
  weightDecay?: number;
  amsgrad?: boolean;
}

export class AdamW implements Optimizer {
  lr: number;
  stepCount = 0;
  readonly #m: Tensor;
  readonly #v: Tensor;
  readonly #vmax: Tensor | null;
  constructor(readonly flat: FlatParameters, readonly opts: AdamWOptions) {
    this.lr = opts.lr;
    this.#m = keep(zeros([flat.size]));
    this.#v = keep(zeros([flat.size]));
    this.#vmax = opts.amsgrad ? keep(zeros([flat.size])) : null;
  }
  step(): void {
    const { betas: [b1, b2] = [0.9, 0.999], eps = 1e-8, weightDecay = 0.01 } = this.opts;
    const t = ++this.stepCount;
    const p = params(this.flat.size, t === 1, {
      step: this.lr / (1 - b1 ** t), decay: 1 - this.lr * weightDecay, oneMinusB1: 1 - b1, beta2: b2, oneMinusB2: 1 - b2, sqrtBias2: Math.sqrt(1 - b2 ** t), eps,
    });
    dispatch(this.#vmax ? 'adamw_amsgrad' : 'adamw', this.flat, p, [this.flat.values, this.flat.grads, this.#m, this.#v, this.#vmax]);
  }
  zeroGrad(): void {
    this.flat.zeroGrad();
  }
  state(): Record<string, Tensor> {
    return { exp_avg: this.#m, exp_avg_sq: this.#v, ...(this.#vmax ? { max_exp_avg_sq: this.#vmax } : {}) };
  }
  dispose(): void {
    for (const t of Object.values(this.state())) t.dispose();
  }
}

/** ‖g‖₂ of the flat gradient (or of T·g), as a one-element tensor computed on the device. */
function gradNorm(flat: FlatParameters, adaptive: boolean): Tensor {
  return tidy(() => sqrt(sum(square(adaptive ? mul(abs(flat.values), flat.grads) : flat.grads))));
}

/** Scales the gradient so that its global norm is at most maxNorm (torch's clip_grad_norm_). Returns the norm before. */
export function clipGradNorm(flat: FlatParameters, maxNorm: number): Tensor {
  return noGrad(() => {
    const norm = gradNorm(flat, false);
    const factor = tidy(() => div(maxNorm, add(norm, 1e-6)));
    launchPerItem(getEngine(), 'optim', 'scale', flat.size, params(flat.size, false), [flat.grads.buffer('clip'), factor.buffer('clip')]);
    factor.dispose();
    return norm;
  });
}

export interface SAMOptions {
  /** neighbourhood radius ρ (0.05 for SAM as in the paper; ASAM uses larger, e.g. 0.5–2) */
  rho?: number;
  /** ASAM: the perturbation scaled elementwise by |w| */
  adaptive?: boolean;
}

/**
 * Sharpness-aware minimization around a base optimizer: firstStep() moves the weights to
 * w + e(w), e = ρ·T²g/‖Tg‖ (T = 1, or |w| for ASAM); after a second forward/backward at that point,
 * secondStep() restores w (bit for bit, from a copy) and lets the base optimizer step with the new gradient.
 */
export class SAM implements Optimizer {
  readonly flat: FlatParameters;
  readonly rho: number;
  readonly adaptive: boolean;
  /** the weights before the perturbation, restored exactly */
  readonly #old: Tensor;
  constructor(readonly base: Optimizer, opts: SAMOptions = {}) {
    this.flat = base.flat;
    this.rho = opts.rho ?? 0.05;
    this.adaptive = opts.adaptive ?? false;
    if (!(this.rho >= 0)) throw new Error(`SAM: rho must be non-negative, got ${this.rho}`);
    this.#old = keep(zeros([this.flat.size]));
  }
  get lr(): number {
    return this.base.lr;
  }
  set lr(v: number) {
    this.base.lr = v;
  }
  get stepCount(): number {
    return this.base.stepCount;
  }
  set stepCount(v: number) {
    this.base.stepCount = v;
  }

  firstStep(): void {
    noGrad(() => {
      const scale = tidy(() => div(this.rho, add(gradNorm(this.flat, this.adaptive), 1e-12)));
      const p = params(this.flat.size, false);
      dispatch('sam_perturb', this.flat, p, [this.flat.values, this.flat.grads, scale, this.#old], { ADAPTIVE: this.adaptive ? 1 : 0 });
      scale.dispose();
    });
  }

  secondStep(): void {
    dispatch('sam_restore', this.flat, params(this.flat.size, false), [this.flat.values, null, this.#old]);
    this.base.step();
  }

  /**
   * The one-call form: `closure` runs a forward and backward pass (gradients zeroed before each)
   * and returns the loss. The second pass, at the perturbed weights, leaves BatchNorm running
   * statistics alone, so they are updated by the first pass only. Returns the first pass's loss.
   */
  stepWith(closure: () => Tensor): Tensor {
    this.zeroGrad();
    const loss = closure();
    this.firstStep();
    this.zeroGrad();
    const norms = this.flat.module.namedModules().map(([, m]) => m).filter((m): m is BatchNorm2d => m instanceof BatchNorm2d);
    for (const bn of norms) bn.updateStats = false;
    try {
      closure().dispose();
    } finally {
      for (const bn of norms) bn.updateStats = true;
    }
    this.secondStep();
    return loss;
  }

  step(): void {
    throw new Error('SAM: call firstStep() and secondStep() around a second forward/backward pass, or stepWith(closure)');
  }
  zeroGrad(): void {
    this.flat.zeroGrad();
  }
  state(): Record<string, Tensor> {
    return this.base.state();
  }
  dispose(): void {
    this.#old.dispose();
    this.base.dispose();
  }
}
