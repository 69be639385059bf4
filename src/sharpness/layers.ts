// Per-layer (per parameter group) tables: for each group, the largest eigenvalue of its diagonal
// block of the Hessian (Lanczos on the group alone) and the block's trace (Hutchinson, from one
// set of products over all the groups together: trace.ts).
import type { FlatParameters } from '../nn/flat.js';
import type { Layer } from '../nn/layers.js';
import type { EvalSet } from '../landscape/evaluate.js';
import { groupDimension, type ParameterGroup } from './groups.js';
import { HessianOperator, type HvpMethod } from './hvp.js';
import { topEigen, type EigenOptions } from './lanczos.js';
import { hutchinsonTrace } from './trace.js';

export interface GroupRow {
  group: string;
  parameters: string[];
  dimension: number;
  topEigenvalue: number;
  /** ‖Hv − λv‖ of the block's top pair */
  residual: number;
  converged: boolean;
  trace: number;
  traceStderr: number;
}

export interface GroupTableOptions {
  /** the groups, disjoint (parameterGroups gives them) */
  groups: ParameterGroup[];
  method?: 'auto' | HvpMethod;
  /** Lanczos settings of each block's top eigenvalue (k is 1; unconverged blocks are flagged) */
  eigen?: Omit<EigenOptions, 'k' | 'allowUnconverged'>;
  traceSamples?: number;
  seed?: number;
}

export async function groupTable(model: Layer, flat: FlatParameters, data: EvalSet, opts: GroupTableOptions): Promise<{ rows: GroupRow[]; definition: string }> {
  const union: ParameterGroup = { name: opts.groups.map((g) => g.name).join(', '), indices: opts.groups.flatMap((g) => g.indices) };
  if (new Set(union.indices).size !== union.indices.length) throw new Error('per-group table: the groups overlap');
  const whole = new HessianOperator(model, flat, data, { group: union, method: opts.method });
  const trace = await hutchinsonTrace(whole, { samples: opts.traceSamples, seed: opts.seed, groups: opts.groups });
  const subject = whole.subject;
  whole.dispose();
  const rows: GroupRow[] = [];
  for (const [i, group] of opts.groups.entries()) {
    const op = new HessianOperator(model, flat, data, { group, method: opts.method });
    const top = await topEigen(op, { ...opts.eigen, seed: opts.seed, k: 1, allowUnconverged: true });
    top.vectors.forEach((v) => v.dispose());
    op.dispose();
    rows.push({
      group: group.name, parameters: group.indices.map((k) => flat.names[k]!), dimension: groupDimension(flat, group),
      topEigenvalue: top.values[0]!, residual: top.residuals[0]!, converged: top.converged[0]!,
      trace: trace.groups[i]!.trace, traceStderr: trace.groups[i]!.stderr,
    });
  }
  return {
    rows,
    definition: `per group: the largest eigenvalue of the group's diagonal block of the Hessian (Lanczos on the group alone, residual ‖Hv − λv‖, flagged when not converged) and the block's trace (Hutchinson, ${trace.samples} Rademacher vectors over all the groups at once, ± standard error); H is ${subject}`,
  };
}
