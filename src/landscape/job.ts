// One landscape job, from a spec to an evaluator: the model from its config and weights, the plan's
// origin, directions and coordinates, the evaluation set, the evaluator (batched where every layer
// has a stacked form), the provenance written into every output and the fingerprint that guards resume
// and merge. The CLI, the demo, the studies and the viewer all start here; where weights and data
// come from (files, fetch, memory) is the caller's: they arrive as bytes and datasets.
import { loadWeightsFromBytes, sha256Hex } from '../nn/checkpoint.js';
import type { Dataset } from '../nn/data.js';
import { FlatParameters } from '../nn/flat.js';
import type { Layer } from '../nn/layers.js';
import { checkModelConfig, checkModelTakes, createModel, type ModelConfig } from '../nn/models.js';
import { sub } from '../tensor/elementwise.js';
import { assign, clone } from '../tensor/layout.js';
import type { Engine } from '../gpu/engine.js';
import { HessianOperator } from '../sharpness/hvp.js';
import { topEigen } from '../sharpness/lanczos.js';
import { getEngine } from '../tensor/runtime.js';
import { keep } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { NoStackedFormError } from '../nn/stack.js';
import { batchedEvaluator, type BatchedEvaluator } from './batched.js';
import { directionFromBytes, directionToBytes, orthogonalize, randomDirection, type Normalization } from './directions.js';
import { disposeEvalSet, evaluateSequential, prepareEvalSet, type PointResult } from './evaluate.js';
import { gridPoints, linspace, planeThrough, trajectoryPlane } from './plans.js';
import { mergePartials, runLandscape, type LandscapeRun, type PartialFile } from './run.js';
import type { SurfaceFile } from './surface.js';

export type PlanKind = 'line' | 'plane' | 'interp' | 'plane3' | 'trajectory';

/** Checkpoints each plan takes (trajectory: at least this many). */
export const PLAN_CHECKPOINTS: Record<PlanKind, number> = { line: 1, plane: 1, interp: 2, plane3: 3, trajectory: 3 };

/** Weights (or a direction) as safetensors bytes keyed by torch's names; `name` (a file or URL) names them in errors and provenance. */
export interface WeightsInput {
  name: string;
  bytes: Uint8Array;
}

export type DirectionsSpec =
  | { kind: 'random'; seed: number; normalization?: Normalization; oneD?: 'ignore' | 'keep'; only?: string }
  /** directions made elsewhere, used as given (not normalized) */
  | { kind: 'given'; inputs: WeightsInput[] }
  /**
   * the sharpest directions: unit eigenvectors of the Hessian of the loss over the evaluation samples
   * for its largest eigenvalues (Lanczos with exact Hessian-vector products, src/sharpness/); the
   * range is then a distance in parameter space
   */
  | { kind: 'hessian'; seed?: number };

export interface LandscapeSpec {
  config: ModelConfig;
  /** one for line and plane, two for interp, three for plane3, the path (at least three, in order) for trajectory */
  checkpoints: WeightsInput[];
  plan: PlanKind;
  /** coordinates along d₁ (interp: 0 is the first checkpoint, 1 the second); default per plan (see defaultRange) */
  range?: [number, number];
  /** coordinates along d₂; default: range, or the checkpoints' span for plane3 and trajectory */
  yrange?: [number, number];
  /** points per axis, ends included */
  steps: number;
  /** line and plane: random directions (default: seed 0, filter-normalized, 1-D parameters fixed) or given ones */
  directions?: DirectionsSpec;
  /** the evaluation samples, every one used */
  data: Dataset;
  /** what the samples are, for provenance: e.g. { dataset: 'mnist', split: 'test' } */
  dataInfo: Record<string, unknown>;
  batchSize: number;
  evaluator?: 'auto' | 'batched' | 'sequential';
  /** BatchNorm at each point: running statistics, or re-estimated from `calibration` */
  batchNorm?: 'eval' | 'recalibrate';
  calibration?: Dataset;
  /** points per evaluation call and per save (default: the batched evaluator's K, at most a tenth of the grid but at least 8; sequential 4) */
  chunk?: number;
}

export interface LandscapeJob {
  readonly model: Layer & { config: ModelConfig };
  readonly flat: FlatParameters;
  readonly plan: PlanKind;
  readonly x: number[];
  readonly y: number[] | null;
  readonly d1: Tensor;
  readonly d2: Tensor | null;
  readonly evaluator: 'batched' | 'sequential';
  /** why 'auto' chose the sequential evaluator (the layer without a stacked form), for the caller to show */
  readonly warnings: string[];
  readonly chunk: number;
  /** everything that produced the values, written into the surface file */
  readonly provenance: Record<string, unknown>;
  /** sha256 of what defines the values (not the adapter or timings): resumed and merged parts must share it */
  readonly fingerprint: string;
  /** grid points in output order */
  readonly points: number;
  evaluate(points: Array<[number, number]>): Promise<PointResult[]>;
  /** runs (or resumes) the grid, or one shard of it, chunk by chunk */
  run(opts?: Pick<LandscapeRun, 'shard' | 'store' | 'resume' | 'onStart' | 'onChunk' | 'chunkSeconds'>): Promise<PartialFile>;
  /** the random directions of a line or plane as safetensors bytes, to save beside the surface (null otherwise) */
  directionBytes(): Promise<Array<{ axis: 'd1' | 'd2'; bytes: Uint8Array }> | null>;
  dispose(): void;
}

/** Default coordinates along d₁ per plan (plane3 and trajectory: the checkpoints' span, computed later). */
export function defaultRange(plan: PlanKind): [number, number] {
  return plan === 'interp' ? [-0.5, 1.5] : [-1, 1];
}

const isInt = (v: unknown, min: number) => typeof v === 'number' && Number.isInteger(v) && v >= min;

/** What checkLandscapeSpec reads: a spec whose weights, data and direction bytes may not be read yet. */
export type LandscapeSettings = Omit<LandscapeSpec, 'config' | 'checkpoints' | 'data' | 'dataInfo' | 'calibration' | 'directions'> & {
  checkpoints: unknown[];
  directions?: Exclude<DirectionsSpec, { kind: 'given' }> | { kind: 'given'; inputs: unknown[] };
  data?: Dataset;
  calibration?: Dataset;
};

const NORMALIZATIONS: Normalization[] = ['filter', 'layer', 'model', 'weight', 'none'];

/**
 * Checks a spec before any work starts; every message names the setting and what is wrong. It can
 * run before the weights and data are read (then only the settings are checked).
 */
export function checkLandscapeSpec(s: LandscapeSettings): void {
  const oneOf = (name: string, v: unknown, values: readonly string[]) => {
    if (v !== undefined && !values.includes(v as string)) throw new Error(`${name}: expected one of ${values.join(', ')}, got ${JSON.stringify(v)}`);
  };
  oneOf('evaluator', s.evaluator, ['auto', 'batched', 'sequential']);
  oneOf('batch norm', s.batchNorm, ['eval', 'recalibrate']);
  oneOf('directions', s.directions?.kind, ['random', 'given', 'hessian']);
  if (s.directions?.kind === 'hessian' && s.directions.seed !== undefined && !isInt(s.directions.seed, 0)) throw new Error(`directions seed: need an integer of at least 0, got ${s.directions.seed}`);
  if (s.directions?.kind === 'random') {
    if (!isInt(s.directions.seed, 0)) throw new Error(`directions seed: need an integer of at least 0, got ${s.directions.seed}`);
    oneOf('normalization', s.directions.normalization, NORMALIZATIONS);
    oneOf('1-D parameters', s.directions.oneD, ['ignore', 'keep']);
  }
  const need = PLAN_CHECKPOINTS[s.plan];
  if (need === undefined) throw new Error(`plan: unknown plan "${s.plan}"; choose ${Object.keys(PLAN_CHECKPOINTS).join(', ')}`);
  const n = s.checkpoints.length;
  if (s.plan === 'trajectory' ? n < need : n !== need) throw new Error(`checkpoints: plan ${s.plan} takes ${s.plan === 'trajectory' ? 'at least ' : ''}${need}, got ${n}`);
  if (!isInt(s.steps, 2)) throw new Error(`steps: need an integer of at least 2 points per axis, got ${s.steps}`);
  for (const [name, r] of [['range', s.range], ['yrange', s.yrange]] as const) {
    if (r && !(Number.isFinite(r[0]) && Number.isFinite(r[1]) && r[0] < r[1])) throw new Error(`${name}: expected min < max, both finite, got ${r[0]}:${r[1]}`);
  }
  if (s.yrange && (s.plan === 'line' || s.plan === 'interp')) throw new Error(`yrange: plan ${s.plan} has one axis`);
  if (!isInt(s.batchSize, 1)) throw new Error(`batch size: need an integer of at least 1, got ${s.batchSize}`);
  if (s.chunk !== undefined && !isInt(s.chunk, 1)) throw new Error(`chunk: need an integer of at least 1, got ${s.chunk}`);
  if (s.data && s.data.labels.length === 0) throw new Error('samples: the evaluation set is empty');
  if (s.directions && s.plan !== 'line' && s.plan !== 'plane') throw new Error(`directions: plan ${s.plan} makes its own directions from the checkpoints`);
  if (s.directions?.kind === 'given') {
    const want = s.plan === 'plane' ? 2 : 1;
    if (s.directions.inputs.length !== want) throw new Error(`directions: plan ${s.plan} takes ${want} direction file(s), got ${s.directions.inputs.length}`);
  }
  if (s.directions?.kind === 'random' && s.directions.only !== undefined) {
    try {
      new RegExp(s.directions.only);
    } catch (e) {
      throw new Error(`only: not a regular expression (${(e as Error).message})`);
    }
  }
  if (s.data && s.batchNorm === 'recalibrate' && !s.calibration?.labels.length) throw new Error('batch norm recalibrate: needs calibration samples (at least 1)');
}

/**
 * The batched evaluator where every layer has a stacked form. Where one has not, 'auto' gives null
 * (evaluate with the sequential evaluator) and a warning that names the layer; 'batched' throws.
 */
export function batchedOrFallback(mode: 'auto' | 'batched', make: () => BatchedEvaluator): { evaluator: BatchedEvaluator | null; warnings: string[] } {
  try {
    return { evaluator: make(), warnings: [] };
  } catch (e) {
    if (mode === 'batched' || !(e instanceof NoStackedFormError)) throw e;
    return { evaluator: null, warnings: [`evaluator auto: ${e.message}; evaluating one point at a time (sequential evaluator)`] };
  }
}

/** Builds the job: model, weights, plan, directions, evaluation set, evaluator, provenance. */
export async function prepareLandscape(spec: LandscapeSpec): Promise<LandscapeJob> {
  checkLandscapeSpec(spec);
  checkModelConfig(spec.config, spec.checkpoints[0]!.name);
  const engine = getEngine();
  let model: Layer & { config: ModelConfig };
  try {
    model = createModel(spec.config, 0);
  } catch (e) {
    throw new Error(`${spec.checkpoints[0]!.name}: ${(e as Error).message}`);
  }
  // what the job holds on the GPU, freed in reverse order by dispose() (or at once when a step fails)
  const held: Array<() => void> = [() => model.dispose()];
  const dispose = () => held.splice(0).reverse().forEach((free) => free());
  try {
    return await build(spec, engine, model, held, dispose);
  } catch (e) {
    dispose();
    throw e;
  }
}

async function build(spec: LandscapeSpec, engine: Engine, model: Layer & { config: ModelConfig }, held: Array<() => void>, dispose: () => void): Promise<LandscapeJob> {
  checkModelTakes(model, spec.data, 'evaluation data');
  if (spec.calibration) checkModelTakes(model, spec.calibration, 'calibration data');
  const flat = FlatParameters.of(model);
  held.push(() => flat.dispose());
  const own = (t: Tensor) => (held.push(() => t.dispose()), t);
  const load = (w: WeightsInput) => loadWeightsFromBytes(model, w.bytes, w.name);
  const thetaOf = (w: WeightsInput): Tensor => {
    load(w);
    return own(keep(clone(flat.values)));
  };
  const checkpoints = await Promise.all(spec.checkpoints.map(async (c) => ({ file: c.name, sha256: await sha256Hex(c.bytes) })));
  const steps = spec.steps;
  let d1: Tensor;
  let d2: Tensor | null = null;
  let x: number[];
  let y: number[] | null = null;
  let plan: Record<string, unknown> = { kind: spec.plan };
  const [lo, hi] = spec.range ?? defaultRange(spec.plan);
  const set = prepareEvalSet(spec.data, spec.batchSize);
  held.push(() => disposeEvalSet(set));
  if (spec.plan === 'line' || spec.plan === 'plane') {
    load(spec.checkpoints[0]!);
    const dirs = spec.directions ?? { kind: 'random', seed: 0 };
    const axes = spec.plan === 'plane' ? 2 : 1;
    if (dirs.kind === 'hessian') {
      const eigen = await topEigen(new HessianOperator(model, flat, set), { k: axes, seed: dirs.seed ?? 0 });
      [d1, d2 = null] = eigen.vectors.map(own);
      plan = { ...plan, directions: 'hessian', eigenvalues: eigen.values, residuals: eigen.residuals, seed: dirs.seed ?? 0, definition: eigen.definition };
    } else if (dirs.kind === 'given') {
      [d1, d2 = null] = dirs.inputs.map((w) => own(directionFromBytes(w.bytes, w.name, flat)));
      plan = { ...plan, directions: await Promise.all(dirs.inputs.map(async (w) => ({ file: w.name, sha256: await sha256Hex(w.bytes) }))) };
    } else {
      const opts = { normalization: dirs.normalization ?? 'filter', oneD: dirs.oneD ?? 'ignore', only: dirs.only === undefined ? undefined : new RegExp(dirs.only) };
      d1 = own(randomDirection(flat, { ...opts, seed: dirs.seed }));
      if (axes === 2) d2 = own(randomDirection(flat, { ...opts, seed: dirs.seed + 1 }));
      plan = { ...plan, normalization: opts.normalization, oneD: opts.oneD, only: dirs.only ?? null, seed: dirs.seed };
    }
    x = linspace(lo, hi, steps);
    if (axes === 2) y = linspace(...(spec.yrange ?? [lo, hi]), steps);
  } else if (spec.plan === 'interp') {
    const a = thetaOf(spec.checkpoints[0]!);
    const b = thetaOf(spec.checkpoints[1]!);
    d1 = own(keep(sub(b, a)));
    assign(flat.values, a);
    x = linspace(lo, hi, steps);
  } else {
    const thetas = spec.checkpoints.map(thetaOf);
    const basis = spec.plan === 'plane3' ? await planeThrough(thetas[0]!, thetas[1]!, thetas[2]!) : await trajectoryPlane(thetas);
    assign(flat.values, basis.origin);
    d1 = own(basis.d1);
    d2 = own(basis.d2);
    orthogonalize(d2, d1);
    // default ranges: the checkpoints' coordinates with a quarter of their span as margin
    const span = (k: 0 | 1): [number, number] => {
      const c = basis.coords.map((p) => p[k]);
      const [mn, mx] = [Math.min(...c), Math.max(...c)];
      const m = 0.25 * (mx - mn || 1);
      return [mn - m, mx + m];
    };
    x = linspace(...(spec.range ?? span(0)), steps);
    y = linspace(...(spec.yrange ?? spec.range ?? span(1)), steps);
    plan = { ...plan, coords: basis.coords, ...('explained' in basis ? { explained: basis.explained } : {}) };
  }
  const calibration = spec.batchNorm === 'recalibrate' ? prepareEvalSet(spec.calibration!, spec.batchSize) : undefined;
  if (calibration) held.push(() => disposeEvalSet(calibration));
  const bnOpts = { batchNorm: spec.batchNorm ?? 'eval', calibration };
  const mode = spec.evaluator ?? 'auto';
  // the batched evaluator keeps its shared first-layer products across the run's chunks
  const { evaluator: stacked, warnings } = mode === 'sequential' ? { evaluator: null, warnings: [] } : batchedOrFallback(mode, () => batchedEvaluator(model, flat, d1, d2, set, bnOpts));
  if (stacked) held.push(() => stacked.dispose());
  const batched = stacked !== null;
  const points = gridPoints(x, y).length;
  const chunk = spec.chunk ?? (stacked ? stacked.chunkSize(Math.min(points, Math.max(8, Math.ceil(points / 10)))) : 4);
  const provenance: Record<string, unknown> = {
    checkpoints,
    model: spec.config,
    plan,
    data: { ...spec.dataInfo, samples: spec.data.labels.length, batchNorm: bnOpts.batchNorm, ...(calibration ? { calibrationSamples: calibration.samples } : {}) },
    evaluator: batched ? 'batched' : 'sequential',
    adapter: engine.adapter.description,
    orientation: 'loss[iy][ix] is the value at (x[ix], y[iy]); x along d1',
  };
  const fingerprint = await sha256Hex(JSON.stringify({ ...provenance, adapter: undefined, x, y }));
  const evaluate = (pts: Array<[number, number]>) => (stacked ? stacked.evaluate(pts) : evaluateSequential(model, flat, d1, d2, pts, set, bnOpts));
  // random and Hessian directions are saved beside the surface (given ones are files already)
  const madeDirs = (spec.plan === 'line' || spec.plan === 'plane') && spec.directions?.kind !== 'given';
  return {
    model, flat, plan: spec.plan, x, y, d1, d2, evaluator: batched ? 'batched' : 'sequential', warnings, chunk, provenance, fingerprint, points,
    evaluate,
    run: (opts = {}) => runLandscape({ x, y, fingerprint, provenance, chunk, evaluate, ...opts }),
    directionBytes: async () => (madeDirs ? [{ axis: 'd1' as const, bytes: await directionToBytes(flat, d1) }, ...(d2 ? [{ axis: 'd2' as const, bytes: await directionToBytes(flat, d2) }] : [])] : null),
    dispose,
  };
}

/** A whole surface in memory (no partial store, no shards), with timings. */
export async function computeLandscape(spec: LandscapeSpec, onChunk?: LandscapeRun['onChunk']): Promise<SurfaceFile> {
  const job = await prepareLandscape(spec);
  try {
    return mergePartials([await job.run({ onChunk })]);
  } finally {
    job.dispose();
  }
}
