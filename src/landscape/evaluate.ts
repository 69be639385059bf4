// Loss and accuracy at points θ + α·d₁ + β·d₂ over a whole evaluation set, formed and evaluated on
// the GPU. Two evaluators with the same kernels and the same answers:
//   sequential: one point at a time: the flat parameter vector is overwritten with the point
//               (one fused axpy chain) and the model's own forward runs over the data.
//   batched:    K points per pass (batched.ts).
// Here: the evaluation set, the per-point sums [Σ loss, Σ correct] (the only values read back) and
// the sequential evaluator, with BatchNorm in eval or recalibrate mode.
import { noGrad } from '../tensor/autograd.js';
import type { Tensor } from '../tensor/tensor.js';
import { fromArray, zeros } from '../tensor/creation.js';
import { add, eq, mul, square, sub, toFloat } from '../tensor/elementwise.js';
import { assign, broadcastTo, clone, concat, reshape } from '../tensor/layout.js';
import { crossEntropy } from '../tensor/losses.js';
import { argmax, sum } from '../tensor/reduce.js';
import { keep, tidy } from '../tensor/scope.js';
import type { Dataset } from '../nn/data.js';
import type { FlatParameters } from '../nn/flat.js';
import { BatchNorm2d, type Layer } from '../nn/layers.js';

export type LossKind = 'crossEntropy' | 'mse';

/**
 * A custom metric for library users: given the outputs of K points [K, B, ...] and a batch's
 * targets, the per-point sums [K, 2] of two quantities; reported divided by the sample count in
 * place of loss and accuracy.
 */
export type MetricSums = (outputs: Tensor, targets: Tensor) => Tensor;

export interface EvalSet {
  /** batches uploaded once, reused for every point */
  batches: Array<{ x: Tensor; y: Tensor; size: number }>;
  samples: number;
  loss: LossKind;
  metric?: MetricSums;
}

export interface SequentialOptions {
  /**
   * BatchNorm at each point: 'eval' uses the running statistics; 'recalibrate' re-estimates them
   * from these training batches first (cumulative average, as in mode-connectivity work).
   */
  batchNorm?: 'eval' | 'recalibrate';
  calibration?: EvalSet;
}

/** Uploads an evaluation set once (labels i32 for cross-entropy; f32 targets [N, outputs] for MSE). */
export function prepareEvalSet(data: Dataset, batchSize: number, loss: LossKind = 'crossEntropy', targets?: Float32Array): EvalSet {
  const per = data.sampleShape.reduce((a, b) => a * b, 1);
  const n = data.labels.length;
  const batches: EvalSet['batches'] = [];
  for (let s = 0; s < n; s += batchSize) {
    const m = Math.min(batchSize, n - s);
    const x = keep(fromArray(data.inputs.subarray(s * per, (s + m) * per), [m, ...data.sampleShape]));
    const y =
      loss === 'mse'
        ? keep(fromArray(targets!.subarray((s * targets!.length) / n, ((s + m) * targets!.length) / n), [m, targets!.length / n]))
        : keep(fromArray(data.labels.subarray(s, s + m)));
    batches.push({ x, y, size: m });
  }
  return { batches, samples: n, loss };
}

export function disposeEvalSet(e: EvalSet): void {
  for (const b of e.batches) {
    b.x.dispose();
    b.y.dispose();
  }
}

/** [K, 2]: per point [Σ loss, Σ correct] of outputs [K, B, C] against a batch's targets. */
export function pointSums(out: Tensor, y: Tensor, loss: LossKind): Tensor {
  const [k, b, c] = out.shape as [number, number, number];
  if (loss === 'mse') {
    // per sample: mean over outputs of the squared error, as torch's mse_loss per sample
    const l = mul(sum(square(sub(out, reshape(y, [1, b, c]))), [1, 2]), 1 / c);
    return concat([reshape(l, [k, 1]), zeros([k, 1])], 1);
  }
  const labels = reshape(broadcastTo(reshape(y, [1, b]), [k, b]), [k * b]);
  const losses = sum(reshape(crossEntropy(reshape(out, [k * b, c]), labels, { reduction: 'none' }), [k, b]), 1, true);
  const correct = sum(eq(toFloat(argmax(out, 2)), toFloat(reshape(y, [1, b]))), 1, true);
  return concat([losses, correct], 1);
}

export interface PointResult {
  loss: number;
  accuracy: number;
}

export function finish(sums: Float32Array, samples: number, hasAccuracy: boolean): PointResult[] {
  const out: PointResult[] = [];
  for (let p = 0; p < sums.length / 2; p++) {
    out.push({ loss: sums[2 * p]! / samples, accuracy: hasAccuracy ? sums[2 * p + 1]! / samples : NaN });
  }
  return out;
}

/** θ₀ + α·d₁ + β·d₂ written into the flat parameter vector. */
function setPoint(flat: FlatParameters, theta0: Tensor, d1: Tensor, d2: Tensor | null, a: number, b: number): void {
  tidy(() => assign(flat.values, d2 ? add(add(theta0, mul(d1, a)), mul(d2, b)) : add(theta0, mul(d1, a))));
}

/** The baseline: one point at a time through the model's own forward (eval mode). */
export async function evaluateSequential(
  model: Layer, flat: FlatParameters, d1: Tensor, d2: Tensor | null, points: Array<[number, number]>, data: EvalSet,
  opts: SequentialOptions = {},
): Promise<PointResult[]> {
  const theta0 = keep(clone(flat.values));
  const wasTraining = model.training;
  const norms = model.namedModules().map(([, m]) => m).filter((m): m is BatchNorm2d => m instanceof BatchNorm2d);
  const saved = norms.map((bn) => bn.stateDict().map(([, t]) => keep(clone(t))));
  const recalibrate = opts.batchNorm === 'recalibrate' && norms.length > 0;
  if (recalibrate && !opts.calibration) throw new Error("evaluateSequential: batchNorm 'recalibrate' needs calibration batches");
  model.eval();
  const rows: Tensor[] = [];
  try {
    noGrad(() => {
      for (const [a, b] of points) {
        setPoint(flat, theta0, d1, d2, a, b);
        if (recalibrate) recalibrateBatchNorm(model, norms, opts.calibration!);
        let acc = zeros([1, 2]);
        for (const batch of data.batches) {
          const next = tidy(() => add(acc, (data.metric ?? ((o, y) => pointSums(o, y, data.loss)))(reshape(model.forward(batch.x), [1, batch.size, -1]), batch.y)));
          acc.dispose();
          acc = next;
        }
        rows.push(acc);
      }
    });
    const all = noGrad(() => concat(rows));
    const sums = await all.data();
    all.dispose();
    return finish(sums, data.samples, data.metric !== undefined || data.loss !== 'mse');
  } finally {
    rows.forEach((r) => r.dispose());
    assign(flat.values, theta0);
    theta0.dispose();
    norms.forEach((bn, i) => bn.stateDict().forEach(([, t], j) => {
      assign(t, saved[i]![j]!);
      saved[i]![j]!.dispose();
    }));
    model.train(wasTraining);
  }
}

/** Re-estimates BatchNorm running statistics at the current weights: reset, then a cumulative average over the batches. */
function recalibrateBatchNorm(model: Layer, norms: BatchNorm2d[], calibration: EvalSet): void {
  const momenta = norms.map((bn) => bn.momentum);
  norms.forEach((bn) => bn.resetRunningStats());
  model.train();
  calibration.batches.forEach((batch, i) => {
    for (const bn of norms) bn.momentum = 1 / (i + 1);
    tidy(() => void model.forward(batch.x));
  });
  norms.forEach((bn, i) => (bn.momentum = momenta[i]!));
  model.eval();
}
