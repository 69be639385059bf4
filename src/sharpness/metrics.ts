// Sharpness metrics at the current parameters θ over an evaluation set, each returned with its
// definition (to be written into outputs):
//   SAM sharpness (Foret et al. 2021): L(θ + ρ·g/‖g‖) − L(θ) for each ρ, the loss rise after SAM's
//     ascent step; adaptive (ASAM, Kwon et al. 2021): the step ρ·T²g/‖Tg‖ with T = |θ|, as the
//     SAM optimizer (kernels/optim.wgsl) takes it.
//   ε-sharpness (Keskar et al. 2017): 100·(max_{δ∈C} L(θ + δ) − L(θ)) / (1 + L(θ)) over the box
//     C = {|δᵢ| ≤ ε(|θᵢ| + 1)}, the maximum sought by projected sign-gradient ascent (the best
//     iterate is kept, so the value is a lower bound of the true maximum).
import { noGrad } from '../tensor/autograd.js';
import { zeros } from '../tensor/creation.js';
import { abs, add, div, maximum, minimum, mul, neg, sign, sqrt, square } from '../tensor/elementwise.js';
import { assign, clone } from '../tensor/layout.js';
import { sum } from '../tensor/reduce.js';
import { keep, tidy } from '../tensor/scope.js';
import type { FlatParameters } from '../nn/flat.js';
import type { Layer } from '../nn/layers.js';
import { evaluateSequential, type EvalSet } from '../landscape/evaluate.js';
import { describeGroup, groupMask, selectParameters, type ParameterGroup } from './groups.js';
import { lossAndGradient, requireData, setLoss } from './hvp.js';

export interface SamOptions {
  /** neighbourhood radii, each ≥ 0 */
  rho: number[];
  /** ASAM's scale-invariant step */
  adaptive?: boolean;
  /** the parameters perturbed (default: all) */
  group?: ParameterGroup;
}

export interface SamResult {
  loss: number;
  /** ‖g‖ (SAM) or ‖T·g‖ (ASAM) */
  gradientNorm: number;
  rows: Array<{ rho: number; loss: number; sharpness: number }>;
  definition: string;
}

export async function samSharpness(model: Layer, flat: FlatParameters, data: EvalSet, opts: SamOptions): Promise<SamResult> {
  const what = 'SAM sharpness';
  if (!Array.isArray(opts.rho) || opts.rho.length === 0) throw new Error(`${what}: needs at least one ρ`);
  for (const r of opts.rho) if (!(Number.isFinite(r) && r >= 0)) throw new Error(`${what}: ρ must be a non-negative number, got ${r}`);
  requireData(what, data);
  const group = opts.group ?? selectParameters(flat);
  const { loss, gradient } = lossAndGradient(model, flat, data, group);
  // the ascent step for ρ = 1: T²g / (‖Tg‖ + 1e-12), as kernels/optim.wgsl's sam_perturb
  const [direction, norm] = noGrad(() =>
    tidy(() => {
      const t = opts.adaptive ? abs(flat.values) : null;
      const tg = t ? mul(t, gradient) : gradient;
      const n = sqrt(sum(square(tg)));
      return [keep(div(t ? mul(t, tg) : tg, add(n, 1e-12))), keep(n)];
    }),
  );
  loss.dispose();
  gradient.dispose();
  try {
    const results = await evaluateSequential(model, flat, direction, null, [[0, 0], ...opts.rho.map((r): [number, number] => [r, 0])], data);
    const l0 = results[0]!.loss;
    return {
      loss: l0,
      gradientNorm: await norm.item(),
      rows: opts.rho.map((rho, i) => ({ rho, loss: results[i + 1]!.loss, sharpness: results[i + 1]!.loss - l0 })),
      definition: opts.adaptive
        ? `adaptive SAM (ASAM) sharpness: L(θ + ρ·T²g/‖Tg‖) − L(θ), T = |θ| elementwise, g = ∇L(θ), L the mean loss over ${data.samples} samples (eval mode), for ${describeGroup(group)}`
        : `SAM sharpness: L(θ + ρ·g/‖g‖) − L(θ), g = ∇L(θ), L the mean loss over ${data.samples} samples (eval mode), for ${describeGroup(group)}`,
    };
  } finally {
    direction.dispose();
    norm.dispose();
  }
}

export interface EpsilonOptions {
  /** the box's relative half-width ε > 0 (Keskar et al. use 1e-3 and 5e-4) */
  epsilon: number;
  /** ascent steps (default 20), each a gradient over the whole set */
  steps?: number;
  /** each step moves every coordinate by this fraction of its half-width (default 0.1) */
  stepSize?: number;
  group?: ParameterGroup;
}

export interface EpsilonResult {
  epsilon: number;
  loss: number;
  /** the largest loss found in the box */
  maxLoss: number;
  /** Keskar's 100·(maxLoss − loss)/(1 + loss) */
  sharpness: number;
  steps: number;
  definition: string;
}

export async function epsilonSharpness(model: Layer, flat: FlatParameters, data: EvalSet, opts: EpsilonOptions): Promise<EpsilonResult> {
  const what = 'ε-sharpness';
  const { epsilon, steps = 20, stepSize = 0.1 } = opts;
  if (!(Number.isFinite(epsilon) && epsilon > 0)) throw new Error(`${what}: ε must be a positive number, got ${epsilon}`);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`${what}: steps must be a positive integer, got ${steps}`);
  if (!(stepSize > 0 && stepSize <= 2)) throw new Error(`${what}: the step size must be in (0, 2] (a fraction of the box), got ${stepSize}`);
  requireData(what, data);
  const group = opts.group ?? selectParameters(flat);
  const theta0 = keep(clone(flat.values));
  const mask = groupMask(flat, group);
  const box = noGrad(() => keep(mul(mul(add(abs(theta0), 1), epsilon), mask)));
  let delta = keep(zeros([flat.size]));
  const losses: number[] = [];
  try {
    for (let t = 0; t < steps; t++) {
      noGrad(() => tidy(() => assign(flat.values, add(theta0, delta))));
      const { loss, gradient } = lossAndGradient(model, flat, data, group);
      const next = noGrad(() => keep(tidy(() => minimum(maximum(add(delta, mul(mul(box, sign(gradient)), stepSize)), neg(box)), box))));
      delta.dispose();
      gradient.dispose();
      delta = next;
      losses.push(await loss.item());
      loss.dispose();
    }
    noGrad(() => tidy(() => assign(flat.values, add(theta0, delta))));
    const last = setLoss(model, data);
    losses.push(await last.item());
    last.dispose();
  } finally {
    assign(flat.values, theta0);
    for (const x of [theta0, mask, box, delta]) x.dispose();
  }
  const [l0, max] = [losses[0]!, Math.max(...losses)];
  return {
    epsilon, loss: l0, maxLoss: max, sharpness: (100 * (max - l0)) / (1 + l0), steps,
    definition: `Keskar et al.'s ε-sharpness: 100·(max L(θ + δ) − L(θ)) / (1 + L(θ)) over |δᵢ| ≤ ε(|θᵢ| + 1), ε = ${epsilon}, for ${describeGroup(group)}, L the mean loss over ${data.samples} samples (eval mode); the maximum by ${steps} steps of projected sign-gradient ascent of ${stepSize} half-widths each, the best iterate kept (a lower bound)`,
  };
}
