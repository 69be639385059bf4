// The batched evaluator: K points θ + α_k·d₁ + β_k·d₂ per pass. Each layer's weights are stacked
// [K, ...] on the device (stacked.ts), and the first layer, linear in θ, is computed once for all
// points as shared products combined per point (first-layer.ts): the work left per point is what
// cannot be shared. MLPs, CNNs (BatchNorm in eval mode included), ResNets and ViTs.
// Only the per-point sums [Σ loss, Σ correct] are read back, once per chunk of points.
import { noGrad } from '../tensor/autograd.js';
import { fromArray, zeros } from '../tensor/creation.js';
import { add, gelu, mul, relu } from '../tensor/elementwise.js';
import { reshape } from '../tensor/layout.js';
import { matmul } from '../tensor/matmul.js';
import { convOutSize, pair } from '../tensor/conv.js';
import { maxPool2d } from '../tensor/pool.js';
import { getEngine } from '../tensor/runtime.js';
import { keep, tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import type { FlatParameters } from '../nn/flat.js';
import { BatchNorm2d, Conv2d, convTail, Flatten, GELU, Layer, Linear, MaxPool2d, poolTail, ReLU } from '../nn/layers.js';
import { ResNet } from '../nn/resnet.js';
import { CNN, MLP } from '../nn/simple.js';
import { ViT } from '../nn/vit.js';
import { type EvalSet, finish, pointSums, type PointResult } from './evaluate.js';
import { combineDense, combineImage, firstProducts, type Products } from './first-layer.js';
import { imageToDense, PointStats, type Stacked, stackedBatchNorm, stackedConv, stackedLinear, stackedResNetBody, stackedVitBody } from './stacked.js';

/** Whether the batched evaluator can run this model (else the sequential evaluator does). */
export function hasStackedForm(model: Layer): boolean {
  return model instanceof MLP || model instanceof CNN || model instanceof ViT || model instanceof ResNet;
}

/**
 * Layers of a model in the order the batched evaluator runs them. A ViT's and a ResNet's bodies
 * are one entry each (the model itself, run by stacked.ts) after the layers of their stems.
 */
function stackableLayers(model: Layer): Layer[] {
  if (model instanceof MLP) return model.layers.layers;
  if (model instanceof CNN) return [...model.features.layers, ...model.classifier.layers];
  if (model instanceof ViT) return [model.patch_embed.proj, model];
  if (model instanceof ResNet) {
    const pool = model.config.stem === 'imagenet' ? [new MaxPool2d(3, 2, 1)] : [];
    return [model.conv1, model.bn1, new ReLU(), ...pool, model];
  }
  throw new Error(`batched evaluation supports MLP, CNN, ResNet and ViT models (got ${model.constructor.name}); use the sequential evaluator`);
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
      const [k, s, p] = [pair(l.kernel), pair(l.stride ?? l.kernel), pair(l.padding)];
      h = convOutSize(h, k[0], s[0], p[0], 1);
      w = convOutSize(w, k[1], s[1], p[1], 1);
    } else if (l instanceof Linear) {
      widest = Math.max(widest, l.outFeatures);
    } else if (l instanceof ViT) {
      const tokens = (l.config.imageSize / l.config.patchSize) ** 2 + 1;
      widest = Math.max(widest, tokens * Math.max(3 * l.config.width, Math.round(l.config.width * l.config.mlpRatio)));
    } else if (l instanceof ResNet) {
      // a stage's first block keeps its input, its two convs' outputs and the shortcut alive
      widest = Math.max(widest, 4 * l.config.widths[0]! * h * w);
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

export interface BatchedOptions {
  /** K, points per pass (default: the most that fit, chooseChunk) */
  chunk?: number;
  /**
   * compute the first layer once for all points (its products with θ, d₁ and d₂, combined per
   * point) or run it per point on the shared input like the other layers; by default it is shared
   * when each of its outputs sums at least SHARE_MIN products (see sharesFirstLayer)
   */
  shareFirstLayer?: boolean;
  /**
   * BatchNorm at each point: 'eval' (default) with the model's running statistics; 'recalibrate'
   * with statistics re-estimated per point from `calibration` (a cumulative average over its
   * batches, as the sequential evaluator does). Recalibration runs the first layer per point.
   */
  batchNorm?: 'eval' | 'recalibrate';
  calibration?: EvalSet;
}

/**
 * Below this many products per output (a Linear's inputs, a Conv2d's input channels × taps),
 * recomputing the first layer per point costs no more than combining three shared products: the
 * combination reads three values per output and point, and on llvmpipe a load costs about what 30
 * FMAs do, while a convolution's loads are amortized over its register tiles. Measured (medians of
 * 5 alternating rounds, points/s): the MNIST CNN's 1→8 3x3 conv (9 products), shared 4.40 and per
 * point 4.70 (sequential 4.35); the ViT's 7x7 patch embedding (49), 0.96 and 0.97; the MLP's
 * 784→128 layer is most of its work and sharing it makes the batched MLP 10-17x the sequential.
 */
export const SHARE_MIN = 32;

/** Whether the first layer is shared by default (see SHARE_MIN); grouped convs always are. */
export function sharesFirstLayer(first: Linear | Conv2d): boolean {
  if (first instanceof Conv2d && (first.opts.groups ?? 1) !== 1) return true;
  const products = first instanceof Linear ? first.inFeatures : first.weight().size / first.outChannels;
  return products >= SHARE_MIN;
}

/** K points per pass; agrees with evaluateSequential within float32 rounding. */
export async function evaluateBatched(model: Layer, flat: FlatParameters, d1: Tensor, d2: Tensor | null, points: Array<[number, number]>, data: EvalSet, opts: BatchedOptions = {}): Promise<PointResult[]> {
  const evaluator = batchedEvaluator(model, flat, d1, d2, data, opts);
  try {
    return await evaluator.evaluate(points);
  } finally {
    evaluator.dispose();
  }
}

export interface BatchedEvaluator {
  /** evaluates points (x, y) in chunks of K; call as often as needed */
  evaluate(points: Array<[number, number]>): Promise<PointResult[]>;
  /** K, the points per pass, for a call with this many points */
  chunkSize(points: number): number;
  /** frees the shared first-layer products */
  dispose(): void;
}

/**
 * The batched evaluator as an object that keeps the shared first-layer products between calls, for
 * callers that evaluate a plane chunk by chunk (long runs, live views). The model's weights and the
 * directions must not change while it is in use. BatchNorm runs in eval mode (running statistics)
 * or, with batchNorm 'recalibrate', with statistics re-estimated per point and chunk.
 */
export function batchedEvaluator(model: Layer, flat: FlatParameters, d1: Tensor, d2: Tensor | null, data: EvalSet, opts: BatchedOptions = {}): BatchedEvaluator {
  const { chunk } = opts;
  const layers = stackableLayers(model);
  const index = new Map(flat.module.parameters().map((p, i) => [p, i]));
  const view = (v: Tensor, p: Tensor) => v.subview(flat.offsets[index.get(p)!]!, p.shape);
  const first = layers.find((l) => !(l instanceof Flatten));
  if (!(first instanceof Linear || first instanceof Conv2d)) throw new Error('batched evaluation: the first layer must be Linear or Conv2d');
  const named = new Map(flat.module.namedParameters());
  const firstBatch = data.batches[0];
  const widest = Math.max(1, activationFloats(layers, firstBatch?.x.shape.slice(1) ?? []));

  const recalibrate = opts.batchNorm === 'recalibrate' && flat.module.namedModules().some(([, m]) => m instanceof BatchNorm2d);
  if (recalibrate && !opts.calibration) throw new Error("batched evaluation: batchNorm 'recalibrate' needs calibration batches");
  // a shared first conv folds its BatchNorm's running statistics into the per-point combination
  const share = recalibrate ? false : (opts.shareFirstLayer ?? sharesFirstLayer(first));
  if (!share && first instanceof Conv2d && (first.opts.groups ?? 1) !== 1) {
    throw new Error(`batched evaluation: a grouped first convolution is always shared (${recalibrate ? "batchNorm 'recalibrate'" : 'shareFirstLayer: false'} needs groups = 1)`);
  }
  // The shared products, kept for all chunks when they fit the budget (recomputed per chunk if not).
  const w0 = first.weight();
  const products = (x: Tensor) => firstProducts(first, x, [view(d1, w0), ...(d2 ? [view(d2, w0)] : [])]);
  const productFloats = activationFloats([first], firstBatch?.x.shape.slice(1) ?? []);
  const sharedBytes = data.batches.reduce((acc, b) => acc + 3 * 4 * b.size * productFloats, 0);
  const cached = share && sharedBytes <= 256 * 2 ** 20 ? data.batches.map((b) => noGrad(() => products(b.x))) : null;

  const chunkSize = (points: number) => chunk ?? chooseChunk(flat, widest, firstBatch?.size ?? 1, points);
  const evaluate = async (points: Array<[number, number]>): Promise<PointResult[]> => {
    const k = chunkSize(points.length);
    const results: PointResult[] = [];
    for (let c0 = 0; c0 < points.length; c0 += k) {
      const pts = points.slice(c0, c0 + k);
      const sums = noGrad(() =>
        tidy(() => {
          const kk = pts.length;
          const alpha = fromArray(pts.map(([a]) => a), [kk, 1]);
          const beta = fromArray(pts.map(([, b]) => b), [kk, 1]);
          // each parameter's stacked form [K, ...], built once per chunk and shared by its batches
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
          // recalibration: each point's BatchNorm statistics from the calibration batches first
          const stats = recalibrate ? new PointStats(kk) : null;
          if (stats) {
            opts.calibration!.batches.forEach((batch, i) => {
              stats.momentum = 1 / (i + 1);
              tidy(() => void runLayers(layers, first, batch.x, null, kk, alpha, beta, stacked, named, stats));
            });
            stats.momentum = null;
          }
          let acc = zeros([kk, 2]);
          data.batches.forEach((batch, bi) => {
            // one batch's activations are freed before the next batch runs
            const next = tidy(() => {
              const shared = !share ? null : cached ? cached[bi]! : products(batch.x);
              const out = runLayers(layers, first, batch.x, shared, kk, alpha, beta, stacked, named, stats);
              if (shared && !cached) shared.forEach((t) => t.dispose());
              return add(acc, (data.metric ?? ((o, y) => pointSums(o, y, data.loss)))(out, batch.y));
            });
            acc.dispose();
            acc = next;
          });
          for (const st of memo.values()) st.dispose();
          stats?.dispose();
          return keep(acc);
        }),
      );
      const host = await sums.data();
      sums.dispose();
      results.push(...finish(host, data.samples, data.metric !== undefined || data.loss !== 'mse'));
    }
    return results;
  };
  return { evaluate, chunkSize, dispose: () => cached?.forEach((p) => p.forEach((t) => t.dispose())) };
}

/**
 * One batch x through the stacked layers to outputs [K, B, ·], the first layer from its shared
 * products, or (shared null) run for the K points on x in one call.
 */
function runLayers(
  layers: Layer[], first: Linear | Conv2d, x: Tensor, shared: Products | null, kk: number,
  alpha: Tensor, beta: Tensor, stacked: (p: Tensor) => Tensor, named: Map<string, Tensor>, stats: PointStats | null,
): Tensor {
  const b = x.shape[0]!;
  const [alphaK, betaK] = [reshape(alpha, [kk]), reshape(beta, [kk])];
  let h: Stacked | null = null;
  for (let li = 0; li < layers.length; li++) {
    const layer = layers[li]!;
    if (layer instanceof Flatten) {
      if (h?.layout === 'image') h = { layout: 'dense', t: imageToDense(h.t, b, kk) };
    } else if (layer === first && !shared && first instanceof Linear) {
      // [B, F] against the K points' weights [K, out, F]: the batch axis broadcasts, giving [K, B, out]
      const bias = first.bias ? reshape(stacked(first.bias()), [kk, 1, -1]) : undefined;
      h = { layout: 'dense', t: matmul(reshape(x, [b, -1]), stacked(first.weight()), { transB: true, bias }) };
    } else if (layer === first && shared && first instanceof Linear) {
      const fuseRelu = layers[li + 1] instanceof ReLU;
      const y = combineDense(shared, alphaK, betaK, first.bias ? stacked(first.bias()) : null, kk, fuseRelu);
      h = { layout: 'dense', t: reshape(y, [kk, b, first.outFeatures]) };
      if (fuseRelu) li++; // the ReLU is done
    } else if (layer === first && shared && first instanceof Conv2d) {
      const tail = convTail(layers, li + 1);
      h = { layout: 'image', t: combineImage(first, tail, shared, alphaK, betaK, kk, stacked) };
      li += tail.length;
    } else if (layer instanceof ReLU && layers[li + 1] instanceof MaxPool2d) {
      // max-pool first, then ReLU on a quarter of the values (they commute: ReLU is monotone)
      const p = layers[++li] as MaxPool2d;
      h = { ...h!, t: relu(maxPool2d(h!.t, p.kernel, p.stride, p.padding)) };
    } else if (layer instanceof ReLU) {
      h = { ...h!, t: relu(h!.t) };
    } else if (layer instanceof GELU) {
      h = { ...h!, t: gelu(h!.t, layer.approximate) };
    } else if (layer instanceof MaxPool2d) {
      h = { ...h!, t: maxPool2d(h!.t, layer.kernel, layer.stride, layer.padding) };
    } else if (layer instanceof Linear) {
      h = { layout: 'dense', t: stackedLinear(h!.t, layer, kk, stacked) };
    } else if (layer instanceof Conv2d) {
      // a conv-[ReLU]-maxpool(2) stack in one kernel that never writes the full-size convolution; an
      // unshared first conv takes x for every point, the K points' weights stacked on output channels
      const tail = poolTail(layers, li + 1);
      const onInput = layer === first;
      h = { layout: 'image', t: stackedConv(onInput ? x : h!.t, layer, kk, stacked, tail, onInput) };
      if (tail) li += tail.length;
    } else if (layer instanceof BatchNorm2d) {
      h = { layout: 'image', t: stackedBatchNorm(h!.t, layer, kk, stacked, stats) };
    } else if (layer instanceof ViT) {
      h = { layout: 'dense', t: stackedVitBody(layer, h!.t, b, kk, stacked, named) };
    } else if (layer instanceof ResNet) {
      h = { layout: 'dense', t: stackedResNetBody(layer, h!.t, b, kk, stacked, stats) };
    } else {
      throw new Error(`batched evaluation: no stacked form for ${layer.constructor.name}`);
    }
  }
  if (h?.layout !== 'dense') throw new Error('batched evaluation: the model must end in a Linear layer');
  return h.t;
}
