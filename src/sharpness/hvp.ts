// The Hessian of the loss over a whole evaluation set, as an operator on flat parameter vectors:
// v ↦ H·v with H = ∇²L(θ) restricted to a parameter group, L the mean loss over every sample of
// the set (each batch's mean weighted by its share of the samples), the model in eval mode
// (BatchNorm with its running statistics, no dropout).
//
// Exact path: double backward, per batch g = ∇L_b (createGraph), then H_b·v = ∇(g·v), summed over
// batches (src/tensor/autograd.ts; every op the models use has a second-order rule).
// Checked fallback: central differences of gradients, H·v ≈ (∇L(θ + hv) − ∇L(θ − hv)) / 2h, for a
// model with an op whose backward has no second-order rule: 'auto' switches to it when the exact
// path meets one (NoSecondOrderRule) and says so in `note`.
import { freeingGraph, grad, noGrad, NoSecondOrderRule } from '../tensor/autograd.js';
import { zeros } from '../tensor/creation.js';
import { add, div, maximum, mul, sqrt, square, sub } from '../tensor/elementwise.js';
import { assign, clone } from '../tensor/layout.js';
import { crossEntropy, mse } from '../tensor/losses.js';
import { sum } from '../tensor/reduce.js';
import { keep, tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import type { FlatParameters } from '../nn/flat.js';
import type { Layer } from '../nn/layers.js';
import type { EvalSet } from '../landscape/evaluate.js';
import { describeGroup, groupDimension, groupMask, groupViews, selectParameters, type ParameterGroup } from './groups.js';

export type HvpMethod = 'exact' | 'finite-difference';

/** The fallback's step: h = FD_STEP · max(1, ‖θ‖) / ‖v‖, about the cube root of f32's ε (central differences balance truncation, h², against rounding, ε/h). */
export const FD_STEP = 5e-3;

export interface HessianOptions {
  /** the parameters H is restricted to (default: all) */
  group?: ParameterGroup;
  /** 'auto' (default): exact, or central differences where an op has no second-order rule */
  method?: 'auto' | HvpMethod;
}

export function requireData(what: string, data: EvalSet): void {
  if (data.batches.length === 0 || data.samples === 0) throw new Error(`${what}: the evaluation set is empty`);
}

/** The mean loss of one batch, weighted by its share of the set's samples (so that batches sum to the set's mean loss). */
export function batchLoss(model: Layer, batch: EvalSet['batches'][number], data: EvalSet): Tensor {
  const out = model.forward(batch.x);
  const loss = data.loss === 'mse' ? mse(out, batch.y) : crossEntropy(out, batch.y);
  return mul(loss, batch.size / data.samples);
}

/** Runs fn with the model in eval mode, then restores its mode. */
export function inEvalMode<T>(model: Layer, fn: () => T): T {
  const training = model.training;
  model.eval();
  try {
    return fn();
  } finally {
    model.train(training);
  }
}

/** The loss over the whole set at the current parameters (a one-element tensor, the caller's). */
export function setLoss(model: Layer, data: EvalSet): Tensor {
  requireData('loss', data);
  return inEvalMode(model, () => noGrad(() => tidy(() => data.batches.map((b) => batchLoss(model, b, data)).reduce((a, b) => add(a, b)))));
}

/**
 * The loss over the whole set and its gradient with respect to the group's parameters, as a flat
 * vector (zero elsewhere) and a one-element tensor, both the caller's.
 */
export function lossAndGradient(model: Layer, flat: FlatParameters, data: EvalSet, group: ParameterGroup): { loss: Tensor; gradient: Tensor } {
  requireData('gradient', data);
  const params = group.indices.map((i) => flat.module.namedParameters()[i]![1]);
  const gradient = keep(zeros([flat.size]));
  let loss = keep(zeros([]));
  inEvalMode(model, () => {
    for (const batch of data.batches) {
      tidy(() => {
        const l = batchLoss(model, batch, data);
        const gs = grad(l, params);
        groupViews(flat, group, gradient).forEach((view, k) => gs[k] && assign(view, add(view, gs[k]!)));
        const total = keep(noGrad(() => add(loss, l)));
        loss.dispose();
        loss = total;
      });
    }
  });
  return { loss, gradient };
}

export class HessianOperator {
  readonly group: ParameterGroup;
  /** the number of parameters in the group: H is dimension × dimension */
  readonly dimension: number;
  /** 1 on the group's parameters, 0 elsewhere */
  readonly mask: Tensor;
  #method: HvpMethod | 'auto';
  #note: string | null = null;
  #products = 0;

  constructor(readonly model: Layer, readonly flat: FlatParameters, readonly data: EvalSet, opts: HessianOptions = {}) {
    requireData('Hessian', data);
    this.group = opts.group ?? selectParameters(flat);
    this.dimension = groupDimension(flat, this.group);
    this.mask = groupMask(flat, this.group);
    this.#method = opts.method ?? 'auto';
    if (this.#method === 'finite-difference') this.#note = 'central differences of gradients, as asked (method finite-difference)';
  }

  /** How products are computed: 'exact', or 'finite-difference' (asked for, or the automatic fallback). */
  get method(): HvpMethod {
    return this.#method === 'finite-difference' ? 'finite-difference' : 'exact';
  }

  /** Why the products are not exact, or null when they are. */
  get note(): string | null {
    return this.#note;
  }

  /** What H is, in words, for definitions written into outputs. */
  get subject(): string {
    const loss = this.data.loss === 'mse' ? 'squared error' : 'cross-entropy';
    return `the Hessian of the mean ${loss} over ${this.data.samples} samples (model in eval mode) with respect to ${describeGroup(this.group)} (${this.dimension} of them)`;
  }

  /** Hessian-vector products computed so far (each a pass over the whole set). */
  get products(): number {
    return this.#products;
  }

  /** H·v for v in the flat layout (its values outside the group are ignored); zero outside the group. The caller owns the result. */
  apply(v: Tensor): Tensor {
    this.#products++;
    if (this.#method !== 'finite-difference') {
      try {
        return this.#exact(v);
      } catch (e) {
        if (!(e instanceof NoSecondOrderRule) || this.#method === 'exact') throw e;
        this.#method = 'finite-difference';
        this.#note = `central differences of gradients, h = ${FD_STEP}·max(1, ‖θ‖)/‖v‖: ${e.message}`;
      }
    }
    return this.#finiteDifference(v);
  }

  #params(): Tensor[] {
    const all = this.flat.module.namedParameters();
    return this.group.indices.map((i) => all[i]![1]);
  }

  #exact(v: Tensor): Tensor {
    const params = this.#params();
    const out = keep(zeros([this.flat.size]));
    try {
      inEvalMode(this.model, () => {
        for (const batch of this.data.batches) {
          tidy(() =>
            freeingGraph(() => {
              const gs = grad(batchLoss(this.model, batch, this.data), params, { createGraph: true });
              const vs = groupViews(this.flat, this.group, v);
              const dot = gs.reduce<Tensor | null>((acc, g, k) => (!g ? acc : acc ? add(acc, sum(mul(g, vs[k]!))) : sum(mul(g, vs[k]!))), null);
              if (!dot?.requiresGrad) return; // the gradient is constant here: H = 0 on this batch
              const hv = grad(dot, params);
              groupViews(this.flat, this.group, out).forEach((view, k) => hv[k] && assign(view, add(view, hv[k]!)));
            }),
          );
        }
      });
    } catch (e) {
      out.dispose();
      throw e;
    }
    return out;
  }

  #finiteDifference(v: Tensor): Tensor {
    const values = this.flat.values;
    const theta0 = keep(clone(values));
    try {
      const step = noGrad(() =>
        keep(tidy(() => {
          const norm = (t: Tensor) => sqrt(sum(square(mul(t, this.mask))));
          return div(mul(maximum(norm(theta0), 1), FD_STEP), maximum(norm(v), 1e-30));
        })),
      );
      const gradientAt = (sign: number) => {
        noGrad(() => tidy(() => assign(values, add(theta0, mul(mul(v, this.mask), mul(step, sign))))));
        const { loss, gradient } = lossAndGradient(this.model, this.flat, this.data, this.group);
        loss.dispose();
        return gradient;
      };
      const [plus, minus] = [gradientAt(1), gradientAt(-1)];
      const hv = noGrad(() => keep(div(sub(plus, minus), mul(step, 2))));
      for (const t of [plus, minus, step]) t.dispose();
      return hv;
    } finally {
      assign(values, theta0);
      theta0.dispose();
    }
  }

  dispose(): void {
    this.mask.dispose();
  }
}
