// The trace of the Hessian by Hutchinson's estimator, tr(H) = E[zᵀHz] for Rademacher z (each entry
// ±1), with its standard error, for the operator's group and, from the same products, for each of
// several subgroups: the blocks of z are independent, so z_gᵀ(Hz)_g estimates the trace of the
// diagonal block H_gg (per-layer traces at no extra cost).
import { noGrad } from '../tensor/autograd.js';
import { mul } from '../tensor/elementwise.js';
import { concat, reshape } from '../tensor/layout.js';
import { Generator } from '../tensor/random.js';
import { sum } from '../tensor/reduce.js';
import { keep, tidy } from '../tensor/scope.js';
import { groupDimension, groupViews, randomVector, type ParameterGroup } from './groups.js';
import type { HessianOperator } from './hvp.js';

export interface TraceOptions {
  /** Rademacher vectors (default 100) */
  samples?: number;
  seed?: number;
  /** subgroups of the operator's group whose block traces to report too (e.g. parameterGroups(flat, 'module')) */
  groups?: ParameterGroup[];
}

export interface TraceEstimate {
  trace: number;
  /** the sample standard deviation of zᵀHz over √samples */
  stderr: number;
}

export interface TraceResult extends TraceEstimate {
  samples: number;
  groups: Array<TraceEstimate & { name: string; dimension: number }>;
  definition: string;
}

function estimate(xs: number[]): TraceEstimate {
  const m = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / m;
  const variance = m > 1 ? xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (m - 1) : NaN;
  return { trace: mean, stderr: Math.sqrt(variance / m) };
}

export async function hutchinsonTrace(op: HessianOperator, opts: TraceOptions = {}): Promise<TraceResult> {
  const { samples = 100, seed = 0, groups = [] } = opts;
  if (!Number.isInteger(samples) || samples < 2) throw new Error(`trace samples must be an integer of at least 2 (for a standard error), got ${samples}`);
  const inside = new Set(op.group.indices);
  for (const g of groups) {
    const outside = g.indices.filter((i) => !inside.has(i));
    if (outside.length) throw new Error(`trace: group ${g.name} has parameters outside the operator's group ${op.group.name}`);
  }
  const generator = new Generator(seed);
  // per sample: zᵀHz per parameter of the operator's group, read back at once
  const perParameter: number[][] = [];
  for (let s = 0; s < samples; s++) {
    const z = randomVector(op.mask, generator, 'rademacher');
    const hz = op.apply(z);
    const sums = noGrad(() => keep(tidy(() => {
      const views = groupViews(op.flat, op.group, mul(z, hz));
      return concat(views.map((v) => reshape(sum(v), [1])));
    })));
    z.dispose();
    hz.dispose();
    perParameter.push(Array.from(await sums.data()));
    sums.dispose();
  }
  const column = new Map(op.group.indices.map((p, k) => [p, k]));
  const blockSamples = (g: ParameterGroup) => perParameter.map((row) => g.indices.reduce((acc, p) => acc + row[column.get(p)!]!, 0));
  return {
    ...estimate(blockSamples(op.group)),
    samples,
    groups: groups.map((g) => ({ name: g.name, dimension: groupDimension(op.flat, g), ...estimate(blockSamples(g)) })),
    definition: `trace of ${op.subject}, by Hutchinson's estimator: the mean of zᵀHz over ${samples} Rademacher vectors z, ± its standard error; a group's trace is that of its diagonal block, from the same products`,
  };
}
