// Parameter groups: the parameters a Hessian is restricted to (the whole model, the parameters
// whose names match a pattern, each parameter tensor, each module), as masks and random vectors
// in the flat parameter layout (src/nn/flat.ts). A vector restricted to a group is zero on every
// other parameter and on the alignment padding between parameters, so flat dot products and norms
// are those of the group.
import { noGrad } from '../tensor/autograd.js';
import { zeros } from '../tensor/creation.js';
import { gt, mul, sub } from '../tensor/elementwise.js';
import type { Generator } from '../tensor/random.js';
import { keep, tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { fillInPlace, type FlatParameters } from '../nn/flat.js';

export interface ParameterGroup {
  name: string;
  /** indices into flat.names */
  indices: number[];
}

/** The parameters whose names match `only` (all when omitted), as one group; none matching is an error. */
export function selectParameters(flat: FlatParameters, only?: RegExp): ParameterGroup {
  const indices = flat.names.map((_, i) => i).filter((i) => !only || only.test(flat.names[i]!));
  if (indices.length === 0) throw new Error(`parameters: no parameter name matches /${only!.source}/ (names: ${flat.names.join(', ')})`);
  return { name: only ? `/${only.source}/` : 'all', indices };
}

/**
 * A group per parameter tensor, or per module (the parameters that share a name up to the last
 * dot: "layers.1.weight" and "layers.1.bias" are module "layers.1"), in the model's order,
 * within `within` (all parameters when omitted).
 */
export function parameterGroups(flat: FlatParameters, by: 'parameter' | 'module', within?: ParameterGroup): ParameterGroup[] {
  const groups = new Map<string, number[]>();
  for (const i of within?.indices ?? flat.names.map((_, k) => k)) {
    const name = flat.names[i]!;
    const key = by === 'parameter' || !name.includes('.') ? name : name.slice(0, name.lastIndexOf('.'));
    groups.set(key, [...(groups.get(key) ?? []), i]);
  }
  return [...groups].map(([name, indices]) => ({ name, indices }));
}

/** A group in words, for definitions: "all parameters" or "the parameters /regex/". */
export function describeGroup(group: ParameterGroup): string {
  return group.name === 'all' ? 'all parameters' : `the parameters ${group.name}`;
}

/** The number of parameters (coordinates) in a group. */
export function groupDimension(flat: FlatParameters, group: ParameterGroup): number {
  const params = flat.module.namedParameters();
  return group.indices.reduce((n, i) => n + params[i]![1].size, 0);
}

/** Views of a flat vector at the group's parameters (the caller disposes them). */
export function groupViews(flat: FlatParameters, group: ParameterGroup, v: Tensor): Tensor[] {
  const params = flat.module.namedParameters();
  return group.indices.map((i) => v.subview(flat.offsets[i]!, params[i]![1].shape, flat.names[i]));
}

/** 1 at the group's parameters, 0 elsewhere (other parameters and padding). */
export function groupMask(flat: FlatParameters, group: ParameterGroup): Tensor {
  const mask = keep(zeros([flat.size]));
  tidy(() => groupViews(flat, group, mask).forEach((view) => fillInPlace(view, 1)));
  return mask;
}

/** A random vector restricted to the mask: standard normal, or Rademacher (±1 with equal odds). */
export function randomVector(mask: Tensor, g: Generator, kind: 'gaussian' | 'rademacher'): Tensor {
  return noGrad(() =>
    tidy(() => {
      const draw = kind === 'gaussian' ? g.normal(mask.shape) : sub(mul(gt(g.uniform(mask.shape), 0.5), 2), 1);
      return mul(draw, mask);
    }),
  );
}
