// Loss and accuracy at points θ + α·d₁ + β·d₂ over a whole evaluation set, formed and evaluated on
// the GPU. Two evaluators with the same kernels and the same answers:
//   sequential: one point at a time: the flat parameter vector is overwritten with the point
//               (one fused axpy chain) and the model's own forward runs over the data.
//   batched:    K points per pass: each layer's weights are stacked [K, ...] on the device (a stacked
//               Linear is one batched matmul, a stacked Conv2d one grouped convolution), and the
//               first layer, linear in θ, is computed once for all points as three shared products
//               f(X; W₀), f(X; D₁), f(X; D₂) combined per point (the work left per point is what
//               cannot be shared). MLPs, CNNs and ViTs so far.
// Only the per-point sums [Σ loss, Σ correct] are read back, once per chunk of points.
import { Params } from '../gpu/params.js';
import { noGrad } from '../tensor/autograd.js';
import { launchPerItem } from '../tensor/launch.js';
import { Tensor } from '../tensor/tensor.js';
import { fromArray, zeros } from '../tensor/creation.js';
import { add, eq, gelu, mul, relu, square, sub, toFloat } from '../tensor/elementwise.js';
import { assign, broadcastTo, clone, concat, permute, reshape, slice } from '../tensor/layout.js';
import { layerNorm } from '../tensor/norm.js';
import { attention } from '../tensor/attention.js';
import { crossEntropy } from '../tensor/losses.js';
import { matmul } from '../tensor/matmul.js';
import { conv2d, convOutSize, pair } from '../tensor/conv.js';
import { maxPool2d } from '../tensor/pool.js';
import { argmax, sum } from '../tensor/reduce.js';
import { getEngine } from '../tensor/runtime.js';
import { keep, tidy } from '../tensor/scope.js';
import type { Dataset } from '../nn/data.js';
import type { FlatParameters } from '../nn/flat.js';
import { BatchNorm2d, Conv2d, Flatten, GELU, Layer, LayerNorm, Linear, MaxPool2d, ReLU } from '../nn/layers.js';
import { ViT } from '../nn/vit.js';
import { CNN, MLP } from '../nn/simple.js';

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

function finish(sums: Float32Array, samples: number, hasAccuracy: boolean): PointResult[] {
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

/** Layers of a model the batched evaluator can stack, in order. */
function stackableLayers(model: Layer): Layer[] {
  if (model instanceof MLP) return model.layers.layers;
  if (model instanceof CNN) return [...model.features.layers, ...model.classifier.layers];
  // a ViT: the patch embedding (the first layer, shared products), then the rest, stacked as a whole
  if (model instanceof ViT) return [model.patch_embed.proj, model];
  throw new Error(`batched evaluation supports MLP, CNN and ViT models so far (got ${model.constructor.name}); use the sequential evaluator`);
}

/** y[k] = base + α_k·p1 + β_k·p2 + bias_k (ReLU'd if asked) for K points in one pass (kernels/landscape.wgsl). */
function combine(base: Tensor, p1: Tensor, p2: Tensor | null, alpha: Tensor, beta: Tensor, bias: Tensor | null, k: number, reluAfter: boolean): Tensor {
  const n = base.size;
  const f = base.shape.at(-1)!;
  const y = Tensor.empty([k, n], 'f32', 'landscape combine');
  const b = (t: Tensor) => t.buffer('landscape combine');
  const params = new Params().u32(k, n, f, (p2 ? 1 : 0) | (bias ? 2 : 0) | (reluAfter ? 4 : 0));
  launchPerItem(getEngine(), 'landscape', 'combine', k * n, params, [b(base), b(p1), b(p2 ?? p1), b(alpha), b(beta), b(bias ?? base), b(y)]);
  return y;
}

/** The largest activation of one sample for one point, in floats, following the layers' shapes. */
function activationFloats(layers: Layer[], sampleShape: readonly number[]): number {
  let [h, w] = [sampleShape[1] ?? 1, sampleShape[2] ?? 1];
  let widest = 0;
  for (const l of layers) {
    if (l instanceof Conv2d) {
      const [kh, kw] = pair(l.kernel);
      const o = l.opts;
      h = convOutSize(h, kh, pair(o.stride ?? 1)[0], pair(o.padding ?? 0)[0], pair(o.dilation ?? 1)[0]);
      w = convOutSize(w, kw, pair(o.stride ?? 1)[1], pair(o.padding ?? 0)[1], pair(o.dilation ?? 1)[1]);
      widest = Math.max(widest, l.outChannels * h * w);
    } else if (l instanceof MaxPool2d) {
      h = Math.floor(h / pair(l.stride ?? l.kernel)[0]);
      w = Math.floor(w / pair(l.stride ?? l.kernel)[1]);
    } else if (l instanceof Linear) {
      widest = Math.max(widest, l.outFeatures);
    } else if (l instanceof ViT) {
      const tokens = (l.config.imageSize / l.config.patchSize) ** 2 + 1;
      widest = Math.max(widest, tokens * Math.max(3 * l.config.width, Math.round(l.config.width * l.config.mlpRatio)));
    }
  }
  return widest;
}

/** The largest K such that K points' stacked weights and activations fit the budget. */
export function chooseChunk(flat: FlatParameters, floatsPerSample: number, batchSize: number, points: number, budgetBytes = 256 * 2 ** 20): number {
  const limit = getEngine().limits.maxStorageBufferBindingSize;
  const perPoint = 4 * (3 * flat.size + 4 * batchSize * floatsPerSample);
  return Math.max(1, Math.min(points, Math.floor(Math.min(budgetBytes, limit) / perPoint)));
}

/**
 * Activations of K points: 'dense' [K, B, F] (points outermost, so a stacked Linear is one batched
 * matmul), 'image' [B, K·C, H, W] (points as channel groups, so a stacked Conv2d is one grouped
 * convolution with K times the groups, and pooling and activations need nothing new).
 */
type Stacked = { layout: 'dense' | 'image'; t: Tensor };

/**
 * A ViT after its patch embedding, for K points at once: tokens [K, B, T, W]; stacked Linear layers
 * as batched matmuls over [K, B·T, ·]; LayerNorm's affine per point; attention over K·B·heads.
 * Returns the logits [K, B, classes].
 */
function vitRest(vit: ViT, patches: Tensor, b: number, kk: number, stacked: (p: Tensor) => Tensor, named: Map<string, Tensor>): Tensor {
  const c = vit.config;
  const w = c.width;
  const hd = w / c.heads;
  const perPoint = (p: Tensor) => reshape(stacked(p), [kk, 1, 1, -1]); // [K, 1, 1, W] for broadcasting over B, T
  const norm = (x: Tensor, ln: LayerNorm) => add(mul(layerNorm(x, null, null, ln.eps), perPoint(ln.weight())), perPoint(ln.bias()));
  const linear = (x: Tensor, l: Linear) => {
    const [t, f] = [x.shape.at(-2)!, x.shape.at(-1)!];
    const y = matmul(reshape(x, [kk, b * t, f]), stacked(l.weight()), { transB: true });
    return reshape(l.bias ? add(y, reshape(stacked(l.bias()), [kk, 1, -1])) : y, [kk, b, t, l.outFeatures]);
  };
  // [B, K·W, gh, gw] -> [K, B, patches, W]
  let x = permute(reshape(patches, [b, kk, w, -1]), [1, 0, 3, 2]);
  const cls = broadcastTo(reshape(stacked(named.get('cls_token')!), [kk, 1, 1, w]), [kk, b, 1, w]);
  x = add(concat([cls, x], 2), reshape(stacked(named.get('pos_embed')!), [kk, 1, -1, w]));
  const t = x.shape[2]!;
  for (const blk of vit.blocks) {
    const qkv = permute(reshape(linear(norm(x, blk.norm1), blk.attn.qkv), [kk * b, t, 3, c.heads, hd]), [2, 0, 3, 1, 4]);
    const [q, k, v] = [0, 1, 2].map((i) => reshape(slice(qkv, [i], [i + 1]), [kk * b, c.heads, t, hd])) as [Tensor, Tensor, Tensor];
    const att = reshape(permute(attention(q, k, v), [0, 2, 1, 3]), [kk, b, t, w]);
    x = add(x, linear(att, blk.attn.proj));
    x = add(x, linear(gelu(linear(norm(x, blk.norm2), blk.mlp.fc1)), blk.mlp.fc2));
  }
  const pooled = slice(norm(x, vit.norm), [0, 0, 0], [kk, b, 1]); // the class token
  return reshape(linear(pooled, vit.head), [kk, b, c.classes]);
}

/** K points per pass; agrees with evaluateSequential within float32 rounding. */
export async function evaluateBatched(model: Layer, flat: FlatParameters, d1: Tensor, d2: Tensor | null, points: Array<[number, number]>, data: EvalSet, chunk?: number): Promise<PointResult[]> {
  const evaluator = batchedEvaluator(model, flat, d1, d2, data, chunk);
  try {
    return await evaluator.evaluate(points);
  } finally {
    evaluator.dispose();
  }
}

export interface BatchedEvaluator {
  /** evaluates points (x, y) in chunks of K; call as often as needed */
  evaluate(points: Array<[number, number]>): Promise<PointResult[]>;
  /** frees the shared first-layer products */
  dispose(): void;
}

/**
 * The batched evaluator as an object that keeps the shared first-layer products between calls, for
 * callers that evaluate a plane chunk by chunk (long runs, live views). The model's weights and the
 * directions must not change while it is in use.
 */
export function batchedEvaluator(model: Layer, flat: FlatParameters, d1: Tensor, d2: Tensor | null, data: EvalSet, chunk?: number): BatchedEvaluator {
  const layers = stackableLayers(model);
  const index = new Map(flat.module.parameters().map((p, i) => [p, i]));
  const view = (v: Tensor, p: Tensor) => v.subview(flat.offsets[index.get(p)!]!, p.shape);
  const first = layers.find((l) => !(l instanceof Flatten));
  if (!(first instanceof Linear || first instanceof Conv2d)) throw new Error('batched evaluation: the first layer must be Linear or Conv2d');
  const named = new Map(flat.module.namedParameters());
  const firstBatch = data.batches[0];
  const widest = Math.max(1, activationFloats(layers, firstBatch?.x.shape.slice(1) ?? []));

  // A first Linear layer is linear in θ: x·(W₀ + αD₁ + βD₂)ᵀ = x·W₀ᵀ + α·x·D₁ᵀ + β·x·D₂ᵀ, three
  // products shared by every point (most of an MLP's work), kept for all chunks when they fit the
  // budget. A first Conv2d is cheap by comparison (few input channels): it runs once with the K
  // points' kernels stacked as K·OC output channels, which is already the image layout.
  const firstProducts = (x: Tensor) =>
    tidy(() => {
      const w = (first as Linear).weight();
      const apply = (m: Tensor) => keep(matmul(reshape(x, [x.shape[0]!, -1]), m, { transB: true }));
      return [apply(w), apply(view(d1, w)), d2 ? apply(view(d2, w)) : null] as const;
    });
  const sharedBytes = data.batches.reduce((acc, b) => acc + 3 * 4 * b.size * widest, 0);
  const cached = first instanceof Linear && sharedBytes <= 256 * 2 ** 20 ? data.batches.map((b) => noGrad(() => firstProducts(b.x))) : null;

  const evaluate = async (points: Array<[number, number]>): Promise<PointResult[]> => {
    const k = chunk ?? chooseChunk(flat, widest, firstBatch?.size ?? 1, points.length);
    const results: PointResult[] = [];
    for (let c0 = 0; c0 < points.length; c0 += k) {
      const pts = points.slice(c0, c0 + k);
      const sums = noGrad(() =>
        tidy(() => {
          const kk = pts.length;
          const alpha = fromArray(pts.map(([a]) => a), [kk, 1]);
          const beta = fromArray(pts.map(([, b]) => b), [kk, 1]);
          const alphaK = reshape(alpha, [kk]);
          const betaK = reshape(beta, [kk]);
          // each parameter's stacked form, built once per chunk and shared by its batches
          const memo = new Map<Tensor, Tensor>();
          const stacked = (p: Tensor) => {
            let st = memo.get(p);
            if (!st) {
              st = keep(tidy(() => {
                const flatP = reshape(p, [1, p.size]);
                const s1 = add(flatP, mul(alpha, reshape(view(d1, p), [1, p.size])));
                return reshape(d2 ? add(s1, mul(beta, reshape(view(d2, p), [1, p.size]))) : s1, [kk, ...p.shape]);
              }));
              memo.set(p, st);
            }
            return st;
          };
          let acc = zeros([kk, 2]);
          data.batches.forEach((batch, bi) => {
            // one batch's activations are freed before the next batch runs
            const next = tidy(() => {
              const b = batch.size;
              let h: Stacked | null = null;
              for (let li = 0; li < layers.length; li++) {
                const layer = layers[li]!;
                if (layer instanceof Flatten) {
                  if (h?.layout === 'image') h = { layout: 'dense', t: reshape(permute(reshape(h.t, [b, kk, -1]), [1, 0, 2]), [kk, b, -1]) };
                } else if (layer instanceof ReLU) {
                  h = { ...h!, t: relu(h!.t) };
                } else if (layer instanceof GELU) {
                  h = { ...h!, t: gelu(h!.t, layer.approximate) };
                } else if (layer instanceof MaxPool2d) {
                  h = { ...h!, t: maxPool2d(h!.t, layer.kernel, layer.stride, layer.padding) };
                } else if (layer === first && first instanceof Linear) {
                  const [base, p1, p2] = cached ? cached[bi]! : firstProducts(batch.x);
                  const fuseRelu = layers[li + 1] instanceof ReLU;
                  const y = combine(base, p1, p2, alphaK, betaK, first.bias ? stacked(first.bias()) : null, kk, fuseRelu);
                  h = { layout: 'dense', t: reshape(y, [kk, b, first.outFeatures]) };
                  if (fuseRelu) li++; // the ReLU is done
                } else if (layer === first && first instanceof Conv2d) {
                  const w = stacked(first.weight());
                  const bias = first.bias ? reshape(stacked(first.bias()), [-1]) : null;
                  h = { layout: 'image', t: conv2d(batch.x, reshape(w, [-1, ...w.shape.slice(2)]), bias, first.opts) };
                } else if (layer instanceof Linear) {
                  const y = matmul(h!.t, stacked(layer.weight()), { transB: true });
                  h = { layout: 'dense', t: layer.bias ? add(y, reshape(stacked(layer.bias()), [kk, 1, -1])) : y };
                } else if (layer instanceof Conv2d) {
                  const w = stacked(layer.weight());
                  const bias = layer.bias ? reshape(stacked(layer.bias()), [-1]) : null;
                  const groups = (layer.opts.groups ?? 1) * kk; // each point's channels are their own groups
                  h = { layout: 'image', t: conv2d(h!.t, reshape(w, [-1, ...w.shape.slice(2)]), bias, { ...layer.opts, groups }) };
                } else if (layer instanceof ViT) {
                  h = { layout: 'dense', t: vitRest(layer, h!.t, b, kk, stacked, named) };
                } else {
                  throw new Error(`batched evaluation: no stacked form for ${layer.constructor.name}`);
                }
              }
              if (h?.layout !== 'dense') throw new Error('batched evaluation: the model must end in a Linear layer');
              return add(acc, (data.metric ?? ((o, y) => pointSums(o, y, data.loss)))(h.t, batch.y));
            });
            acc.dispose();
            acc = next;
          });
          for (const st of memo.values()) st.dispose();
          return keep(acc);
        }),
      );
      const host = await sums.data();
      sums.dispose();
      results.push(...finish(host, data.samples, data.metric !== undefined || data.loss !== 'mse'));
    }
    return results;
  };
  return { evaluate, dispose: () => cached?.forEach((products) => products.forEach((t) => t?.dispose())) };
}
