// Directions in parameter space, laid out as the model's flat parameter vector (src/nn/flat.ts):
// seeded random draws on the GPU, the normalizations of Li et al. (2018) and others, 1-D parameter
// handling, restriction to chosen parameters, Gram–Schmidt, and safetensors files keyed by
// parameter name (so directions made by another tool can be imported).
import { noGrad } from '../tensor/autograd.js';
import { zeros } from '../tensor/creation.js';
import { add, div, mul, sqrt, square, sub } from '../tensor/elementwise.js';
import { assign, reshape } from '../tensor/layout.js';
import { sum } from '../tensor/reduce.js';
import { Generator } from '../tensor/random.js';
import { keep, tidy } from '../tensor/scope.js';
import { shapeString } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { tensorsFromBytes, tensorsToBytes } from '../nn/checkpoint.js';
import type { FlatParameters } from '../nn/flat.js';

/**
 * - filter: each slice along dim 0 of each parameter is scaled to the norm of the same slice of θ
 *   (Li et al.'s filter normalization; for a linear layer a slice is one output neuron's weights)
 * - layer:  each parameter tensor scaled to the norm of θ's tensor
 * - model:  the whole vector scaled once to ‖θ‖
 * - weight: elementwise d ⊙ θ
 * - none:   as drawn
 */
export type Normalization = 'filter' | 'layer' | 'model' | 'weight' | 'none';

export interface DirectionOptions {
  seed: number;
  distribution?: 'gaussian' | 'uniform';
  normalization?: Normalization;
  /** 1-D parameters (biases, norm weights): 'ignore' zeroes them (Li et al.'s biasbn), 'keep' treats them like the rest */
  oneD?: 'ignore' | 'keep';
  /** only parameters whose names match move; the others stay fixed (direction 0 there) */
  only?: RegExp;
}

/** Li et al. divide by ‖d‖ + 1e-10: a zero θ slice gives a zero direction slice, never NaN. */
const NORM_EPS = 1e-10;

/** Per-parameter views of a flat vector laid out as `flat`. */
export function parameterViews(flat: FlatParameters, v: Tensor): Array<[string, Tensor]> {
  const params = flat.module.namedParameters();
  return params.map(([name, p], i) => [name, v.subview(flat.offsets[i]!, p.shape, name)]);
}

/** A new direction: drawn, restricted, normalized. Padding between parameters stays zero. */
export function randomDirection(flat: FlatParameters, opts: DirectionOptions): Tensor {
  const g = new Generator(opts.seed);
  const d = keep(zeros([flat.size]));
  noGrad(() =>
    tidy(() => {
      for (const [, view] of parameterViews(flat, d)) {
        assign(view, opts.distribution === 'uniform' ? g.uniform(view.shape, -1, 1) : g.normal(view.shape));
      }
    }),
  );
  normalizeDirection(d, flat, opts);
  return d;
}

/** Normalizes a direction in place, with the 1-D and restriction rules of `opts`. */
export function normalizeDirection(d: Tensor, flat: FlatParameters, opts: Omit<DirectionOptions, 'seed'>): void {
  const mode = opts.normalization ?? 'filter';
  const oneD = opts.oneD ?? 'ignore';
  noGrad(() =>
    tidy(() => {
      const thetaViews = parameterViews(flat, flat.values);
      parameterViews(flat, d).forEach(([name, dv], i) => {
        const theta = thetaViews[i]![1];
        if ((opts.only && !opts.only.test(name)) || (dv.rank <= 1 && oneD === 'ignore')) {
          assign(dv, zeros(dv.shape));
          return;
        }
        if (mode === 'filter' && dv.rank > 1) {
          // slices along dim 0: [out, rest]
          const rows = dv.shape[0]!;
          const d2 = reshape(dv, [rows, -1]);
          const t2 = reshape(theta, [rows, -1]);
          const scale = div(sqrt(sum(square(t2), 1, true)), add(sqrt(sum(square(d2), 1, true)), NORM_EPS));
          assign(dv, reshape(mul(d2, scale), dv.shape));
        } else if (mode === 'layer' || (mode === 'filter' && dv.rank <= 1)) {
          // a 1-D parameter is its own single filter
          assign(dv, mul(dv, div(sqrt(sum(square(theta))), add(sqrt(sum(square(dv))), NORM_EPS))));
        } else if (mode === 'weight') {
          assign(dv, mul(dv, theta));
        }
      });
      if (mode === 'model') {
        const scale = div(sqrt(sum(square(flat.values))), add(sqrt(sum(square(d))), NORM_EPS));
        assign(d, mul(d, scale));
      }
    }),
  );
}

/** Makes d2 orthogonal to d1 (Gram–Schmidt), in place. */
export function orthogonalize(d2: Tensor, d1: Tensor): void {
  noGrad(() => tidy(() => assign(d2, sub(d2, mul(d1, div(sum(mul(d1, d2)), add(sum(square(d1)), 1e-30)))))));
}

/** A direction as safetensors bytes, one entry per parameter name (other tools can read it). */
export async function directionToBytes(flat: FlatParameters, d: Tensor): Promise<Uint8Array> {
  const views = parameterViews(flat, d);
  try {
    return await tensorsToBytes(views, { format: 'pt', kind: 'losscape-direction' });
  } finally {
    for (const [, v] of views) v.dispose();
  }
}

/** Reads a direction saved by name (by losscape or another tool) into the flat layout; `name` names it in errors. */
export function directionFromBytes(bytes: Uint8Array, name: string, flat: FlatParameters): Tensor {
  const { tensors } = tensorsFromBytes(bytes, name);
  const d = keep(zeros([flat.size]));
  try {
    const views = parameterViews(flat, d);
    const missing = views.filter(([n]) => !tensors.has(n)).map(([n]) => n);
    const unexpected = [...tensors.keys()].filter((n) => !views.some(([v]) => v === n));
    if (missing.length || unexpected.length) {
      throw new Error(`${name}: direction does not fit the model:${missing.length ? ` missing ${missing.join(', ')};` : ''}${unexpected.length ? ` unexpected ${unexpected.join(', ')}` : ''}`);
    }
    for (const [key, v] of views) {
      const t = tensors.get(key)!;
      if (shapeString(t.shape) !== shapeString(v.shape)) throw new Error(`${name}: ${key} has shape ${shapeString(t.shape)}, the model's ${shapeString(v.shape)}`);
      assign(v, t);
      v.dispose();
    }
  } catch (e) {
    d.dispose();
    throw e;
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
  return d;
}
