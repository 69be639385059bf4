// Loss and accuracy at points θ + α·d₁ + β·d₂ over a whole evaluation set, formed and evaluated on
// the GPU. Two evaluators with the same kernels and the same answers:
//   sequential: one point at a time: the flat parameter vector is overwritten with the point
//               (one fused axpy chain) and the model's own forward runs over the data.
//   batched:    K points per pass: each layer's weights are stacked [K, ...] on the device, and the
//               first layer, linear in θ, is computed once for all points as three shared products
//               X·W₀ᵀ, X·D₁ᵀ, X·D₂ᵀ combined per point (the work left per point is what cannot be shared).
// Only the per-point sums [Σ loss, Σ correct] are read back, once per chunk of points.
import { noGrad } from '../tensor/autograd.js';
import { fromArray, zeros } from '../tensor/creation.js';
import { add, eq, gelu, mul, relu, square, sub, toFloat } from '../tensor/elementwise.js';
import { assign, broadcastTo, clone, concat, reshape } from '../tensor/layout.js';
import { crossEntropy } from '../tensor/losses.js';
import { matmul } from '../tensor/matmul.js';
import { argmax, sum } from '../tensor/reduce.js';
import { getEngine } from '../tensor/runtime.js';
import { keep, tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Dataset } from '../nn/data.js';
import type { FlatParameters } from '../nn/flat.js';
import { Flatten, GELU, Layer, Linear, ReLU } from '../nn/layers.js';
import { MLP } from '../nn/simple.js';

export type LossKind = 'crossEntropy' | 'mse';

export interface EvalSet {
  /** batches uploaded once, reused for every point */
  batches: Array<{ x: Tensor; y: Tensor; size: number }>;
  samples: number;
  loss: LossKind;
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
function pointSums(out: Tensor, y: Tensor, loss: LossKind): Tensor {
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

function finish(sums: Float32Array, samples: number, loss: LossKind): PointResult[] {
  const out: PointResult[] = [];
  for (let p = 0; p < sums.length / 2; p++) {
    out.push({ loss: sums[2 * p]! / samples, accuracy: loss === 'mse' ? NaN : sums[2 * p + 1]! / samples });
  }
  return out;
}

/** θ₀ + α·d₁ + β·d₂ written into the flat parameter vector. */
function setPoint(flat: FlatParameters, theta0: Tensor, d1: Tensor, d2: Tensor | null, a: number, b: number): void {
  tidy(() => assign(flat.values, d2 ? add(add(theta0, mul(d1, a)), mul(d2, b)) : add(theta0, mul(d1, a))));
}

/** The baseline: one point at a time through the model's own forward (eval mode). */
export async function evaluateSequential(model: Layer, flat: FlatParameters, d1: Tensor, d2: Tensor | null, points: Array<[number, number]>, data: EvalSet): Promise<PointResult[]> {
  const theta0 = keep(clone(flat.values));
  const wasTraining = model.training;
  model.eval();
  const rows: Tensor[] = [];
  try {
    noGrad(() => {
      for (const [a, b] of points) {
        setPoint(flat, theta0, d1, d2, a, b);
        let acc = zeros([1, 2]);
        for (const batch of data.batches) {
          const next = tidy(() => add(acc, pointSums(reshape(model.forward(batch.x), [1, batch.size, -1]), batch.y, data.loss)));
          acc.dispose();
          acc = next;
        }
        rows.push(acc);
      }
    });
    const all = noGrad(() => concat(rows));
    const sums = await all.data();
    all.dispose();
    return finish(sums, data.samples, data.loss);
  } finally {
    rows.forEach((r) => r.dispose());
    assign(flat.values, theta0);
    theta0.dispose();
    model.train(wasTraining);
  }
}

/** Layers of a model the batched evaluator can stack, in order. */
function stackableLayers(model: Layer): Layer[] {
  if (model instanceof MLP) return model.layers.layers;
  throw new Error(`batched evaluation supports MLP models so far (got ${model.constructor.name}); use the sequential evaluator`);
}

/** The largest K such that K stacked copies of the parameters and activations fit the budget. */
export function chooseChunk(flat: FlatParameters, maxWidth: number, batchSize: number, points: number, budgetBytes = 256 * 2 ** 20): number {
  const limit = getEngine().limits.maxStorageBufferBindingSize;
  const perPoint = 4 * (3 * flat.size + 4 * batchSize * maxWidth);
  return Math.max(1, Math.min(points, Math.floor(Math.min(budgetBytes, limit) / perPoint)));
}

/** K points per pass; agrees with evaluateSequential within float32 rounding. */
export async function evaluateBatched(model: Layer, flat: FlatParameters, d1: Tensor, d2: Tensor | null, points: Array<[number, number]>, data: EvalSet, chunk?: number): Promise<PointResult[]> {
  const layers = stackableLayers(model);
  const index = new Map(flat.module.parameters().map((p, i) => [p, i]));
  const view = (v: Tensor, p: Tensor) => v.subview(flat.offsets[index.get(p)!]!, p.shape);
  const linears = layers.filter((l): l is Linear => l instanceof Linear);
  const maxWidth = Math.max(...linears.map((l) => Math.max(l.inFeatures, l.outFeatures)));
  const k = chunk ?? chooseChunk(flat, maxWidth, data.batches[0]?.size ?? 1, points.length);
  const first = layers.find((l) => !(l instanceof Flatten));
  if (!(first instanceof Linear)) throw new Error('batched evaluation: the first layer must be Linear');
  // the first layer's three shared products, per batch, computed once for all chunks of points
  const shared = data.batches.map((batch) =>
    noGrad(() =>
      tidy(() => {
        const x = reshape(batch.x, [batch.size, -1]);
        const w = first.weight();
        const product = (m: Tensor) => keep(reshape(matmul(x, m, { transB: true }), [1, batch.size, first.outFeatures]));
        return { base: product(w), p1: product(view(d1, w)), p2: d2 ? product(view(d2, w)) : null };
      }),
    ),
  );
  const results: PointResult[] = [];
  for (let c0 = 0; c0 < points.length; c0 += k) {
    const pts = points.slice(c0, c0 + k);
    const sums = noGrad(() =>
      tidy(() => {
        const kk = pts.length;
        const alpha = fromArray(pts.map(([a]) => a), [kk, 1, 1]);
        const beta = fromArray(pts.map(([, b]) => b), [kk, 1, 1]);
        // [K, ...] = p₀ + α·d₁ + β·d₂ for one parameter (weights stacked per point)
        const stacked = (p: Tensor) => {
          const s = add(reshape(p, [1, ...p.shape]), mul(alpha, reshape(view(d1, p), [1, ...p.shape])));
          return d2 ? add(s, mul(beta, reshape(view(d2, p), [1, ...p.shape]))) : s;
        };
        let acc = zeros([kk, 2]);
        data.batches.forEach((batch, bi) => {
          let h: Tensor | null = null; // [K, B, features]
          for (const layer of layers) {
            if (layer instanceof Flatten) {
              if (h) h = reshape(h, [kk, batch.size, -1]);
            } else if (layer instanceof ReLU) {
              h = relu(h!);
            } else if (layer instanceof GELU) {
              h = gelu(h!, layer.approximate);
            } else if (layer instanceof Linear) {
              const w = layer.weight();
              const bias = layer.bias ? reshape(stacked(layer.bias()), [kk, 1, layer.outFeatures]) : null;
              let y: Tensor;
              if (!h) {
                // the first layer is linear in θ: X·W₀ᵀ + α·X·D₁ᵀ + β·X·D₂ᵀ from the shared products
                const { base, p1, p2 } = shared[bi]!;
                y = add(base, mul(alpha, p1));
                if (p2) y = add(y, mul(beta, p2));
              } else {
                y = matmul(h, stacked(w), { transB: true });
              }
              h = bias ? add(y, bias) : y;
            } else {
              throw new Error(`batched evaluation: no stacked form for ${layer.constructor.name}`);
            }
          }
          acc = add(acc, pointSums(h!, batch.y, data.loss));
        });
        return keep(acc);
      }),
    );
    const host = await sums.data();
    sums.dispose();
    results.push(...finish(host, data.samples, data.loss));
  }
  for (const t of shared) [t.base, t.p1, t.p2].forEach((x) => x?.dispose());
  return results;
}
