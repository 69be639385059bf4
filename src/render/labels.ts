// What a panel says about its slice, from the file's provenance: the plan, the directions (seed,
// normalization, files), the range and grid, the model and data. A landscape is a slice through a
// space of millions of dimensions; a picture that does not say which slice misleads.
import type { SurfaceFile } from '../landscape/surface.js';

export interface PanelLabels {
  /** the plan and its directions */
  slice: string;
  /** model, data, grid */
  source: string;
  xLabel: string;
  yLabel: string;
  /** set when the file does not say how the slice was taken */
  unstated: string | null;
}

/** A number in at most 4 significant digits. */
export const short = (v: number) => String(Number(v.toPrecision(4)));
const base = (f: unknown) => String(f).split(/[\\/]/).pop()!;
const pct = (v: unknown) => (typeof v === 'number' ? `${(100 * v).toFixed(1)}%` : '?%');

export function panelLabels(s: SurfaceFile): PanelLabels {
  const p = s.provenance as { plan?: Record<string, unknown>; checkpoints?: Array<{ file?: string }>; model?: { kind?: string }; data?: { dataset?: string; split?: string; samples?: number } };
  const plan = p.plan;
  const ckpts = (p.checkpoints ?? []).map((c) => base(c.file));
  const range = (a: number[]) => `[${short(a[0]!)}, ${short(a.at(-1)!)}]`;
  const grid = s.y ? `x ${range(s.x)} × y ${range(s.y)}, ${s.x.length}×${s.y.length} points` : `x ${range(s.x)}, ${s.x.length} points`;
  const data = p.data?.dataset ? `${p.data.dataset} ${p.data.split ?? ''}, ${p.data.samples ?? '?'} samples` : null;
  const source = [p.model?.kind, data, grid].filter(Boolean).join(' · ');
  let slice: string;
  let xLabel = 'α along d₁';
  let yLabel = 'β along d₂';
  switch (plan?.kind) {
    case 'line':
    case 'plane': {
      if (Array.isArray(plan.directions)) {
        slice = `${plan.kind}: directions from ${plan.directions.map((d: { file?: string }) => base(d.file)).join(', ')} (used as given)`;
      } else {
        const seed = Number(plan.seed ?? 0);
        const seeds = plan.kind === 'plane' ? `seeds ${seed}, ${seed + 1}` : `seed ${seed}`;
        const oneD = plan.oneD === 'keep' ? '1-D params moved' : '1-D params fixed';
        slice = `${plan.kind}: random directions (${seeds}), ${plan.normalization ?? '?'}-normalized, ${oneD}${plan.only ? `, only /${plan.only}/` : ''}`;
      }
      break;
    }
    case 'interp':
      slice = `interp: from ${ckpts[0] ?? 'checkpoint A'} (0) to ${ckpts[1] ?? 'checkpoint B'} (1)`;
      xLabel = 't (0: first checkpoint, 1: second)';
      break;
    case 'plane3':
      slice = `plane3: the plane through ${ckpts.length ? ckpts.join(', ') : 'three checkpoints'}`;
      xLabel = 'along p₁ − p₀';
      yLabel = 'in the plane, ⊥ to p₁ − p₀';
      break;
    case 'trajectory': {
      const e = Array.isArray(plan.explained) ? plan.explained : [];
      slice = `trajectory: PCA plane of ${Array.isArray(plan.coords) ? plan.coords.length : '?'} checkpoints, through the last`;
      xLabel = `PC1 (${pct(e[0])} of the path's variance)`;
      yLabel = `PC2 (${pct(e[1])})`;
      break;
    }
    default:
      slice = 'slice not stated: the file has no provenance.plan';
  }
  return { slice, source, xLabel, yLabel, unstated: plan?.kind ? null : slice };
}
