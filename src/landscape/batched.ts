// The batched evaluator: K points θ + α_k·d₁ + β_k·d₂ per pass, for any model whose layers have a
// stacked form (nn/stack.ts: each layer's rule beside its forward; parameter-free layers and
// containers need none). Each parameter is stacked [K, ...] on the device once per chunk, and the
// first layer, linear in θ, is computed once for all points as shared products combined per point
// (first-layer.ts) where that is cheaper: the work left per point is what cannot be shared. K comes
// from a measured dry run. Only the per-point sums [Σ loss, Σ correct] are read back, once per chunk.
import { noGrad } from '../tensor/autograd.js';
import { fromArray, zeros } from '../tensor/creation.js';
import { add, mul } from '../tensor/elementwise.js';
import { broadcastTo, reshape, slice } from '../tensor/layout.js';
import { getEngine } from '../tensor/runtime.js';
import { keep, tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import type { FlatParameters } from '../nn/flat.js';
import { BatchNorm2d, type Conv2d, type Layer, Linear } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import { PointStats, runStacked, Stack, type Tail } from '../nn/stack.js';
import { type EvalSet, finish, pointSums, type PointResult } from './evaluate.js';
import { combineDense, combineImage, firstProducts, type Products } from './first-layer.js';

export interface BatchedOptions {
  /** K, points per pass (default: the most that fit `budgetBytes`, from dry runs: see chooseChunk) */
  chunk?: number;
  /** device memory a chunk may take, and the shared first-layer products kept across chunks (default 256 MiB) */
  budgetBytes?: number;
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
 * Below this many products per output (a Linear's inputs, a Conv2d's input channels per group ×
 * taps), recomputing the first layer per point costs no more than combining three shared products:
 * the combination reads three values per output and point, and on llvmpipe a load costs about what
 * 30 FMAs do, while a convolution's loads are amortized over its register tiles. Measured (medians
 * of 5 alternating rounds, points/s): the MNIST CNN's 1→8 3x3 conv (9 products), shared 4.40 and
 * per point 4.70 (sequential 4.35); the ViT's 7x7 patch embedding (49), 0.96 and 0.97; the MLP's
 * 784→128 layer is most of its work and sharing it makes the batched MLP 10-17x the sequential.
 */
export const SHARE_MIN = 32;

/** Whether the first layer is shared by default (see SHARE_MIN). */
export function sharesFirstLayer(first: Linear | Conv2d): boolean {
  const products = first instanceof Linear ? first.inFeatures : first.weight().size / first.outChannels;
  return products >= SHARE_MIN;
}

/**
 * Device memory of a chunk, measured (a dry run at 1 and 2 points): the peak bytes that grow with
 * K and those that do not, and the growth of the largest single buffer per point.
 */
export interface ChunkMemory {
  perPoint: number;
  fixed: number;
  largestPerPoint: number;
}

/**
 * The largest K (at most `points`) whose chunk fits the budget and whose largest buffer fits the
 * adapter's binding limit, by the measured growth per point (the evaluator then checks it with a
 * dry run at K).
 */
export function chooseChunk(memory: ChunkMemory, points: number, budgetBytes = 256 * 2 ** 20): number {
  const limit = getEngine().limits.maxStorageBufferBindingSize;
  const k = Math.min((budgetBytes - memory.fixed) / Math.max(1, memory.perPoint), limit / Math.max(1, memory.largestPerPoint));
  return Math.max(1, Math.floor(Math.min(points, k)));
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

/** fn with the model in eval mode (dropout off), the mode restored after. */
function inEval<T>(model: Layer, fn: () => T): T {
  const was = model.training;
  model.eval();
  try {
    return fn();
  } finally {
    model.train(was);
  }
}

/**
 * The batched evaluator as an object that keeps the shared first-layer products between calls, for
 * callers that evaluate a plane chunk by chunk (long runs, live views). The model's weights and the
 * directions must not change while it is in use. BatchNorm runs in eval mode (running statistics)
 * or, with batchNorm 'recalibrate', with statistics re-estimated per point and chunk. Throws
 * NoStackedFormError, naming the layer, if a layer has no stacked form.
 */
export function batchedEvaluator(model: Layer, flat: FlatParameters, d1: Tensor, d2: Tensor | null, data: EvalSet, opts: BatchedOptions = {}): BatchedEvaluator {
  const budget = opts.budgetBytes ?? 256 * 2 ** 20;
  const index = new Map(flat.module.parameters().map((p, i) => [p, i]));
  const view = (v: Tensor, p: Tensor) => v.subview(flat.offsets[index.get(p)!]!, p.shape);
  const dirs = (w: Tensor) => [view(d1, w), ...(d2 ? [view(d2, w)] : [])];
  const paths = new Map<Module, string>(model.namedModules().map(([path, m]) => [m, path]));
  const recalibrate = opts.batchNorm === 'recalibrate' && flat.module.namedModules().some(([, m]) => m instanceof BatchNorm2d);
  if (recalibrate && !opts.calibration) throw new Error("batched evaluation: batchNorm 'recalibrate' needs calibration batches");
  const firstBatch = data.batches[0];

  // One sample at one point: every layer has a stacked form (else NoStackedFormError), and the first
  // layer run on the input, with the size of its products per sample.
  const first: { layer: Linear | Conv2d | null; productFloats: number } = { layer: null, productFloats: 0 };
  if (firstBatch) {
    const trace = new Stack({
      k: 1, paths, param: (p) => reshape(p, [1, ...p.shape]),
      first: (layer, x) => {
        if (!first.layer) {
          const products = firstProducts(layer, x, dirs(layer.weight()));
          Object.assign(first, { layer, productFloats: products.reduce((n, t) => n + t.size, 0) });
          products.forEach((t) => t.dispose());
        }
        return null;
      },
    });
    inEval(model, () => noGrad(() => tidy(() => void runStacked(model, slice(firstBatch.x, [0], [1]), trace))));
  }
  const shared = first.layer && !recalibrate && (opts.shareFirstLayer ?? sharesFirstLayer(first.layer)) ? first.layer : null;
  // the shared products, kept for all chunks when they take at most half the budget (else made per
  // batch); the chunks get the rest
  const cachedBytes = shared ? first.productFloats * 4 * data.samples : 0;
  const cacheable = shared !== null && cachedBytes <= budget / 2;
  const chunkBudget = budget - (cacheable ? cachedBytes : 0);
  const cache: Products[] = [];

  /** The per-point sums [K, 2] of a chunk of points over `batches`; `cache` keeps the products it makes. */
  const chunkSums = (pts: Array<[number, number]>, batches: EvalSet['batches'], calibration: EvalSet['batches'], keepProducts: boolean): Tensor =>
    inEval(model, () => noGrad(() => tidy(() => {
      const kk = pts.length;
      const alpha = fromArray(pts.map(([a]) => a), [kk, 1]);
      const beta = fromArray(pts.map(([, b]) => b), [kk, 1]);
      const [alphaK, betaK] = [reshape(alpha, [kk]), reshape(beta, [kk])];
      // each parameter's stacked form [K, ...], built once per chunk and shared by its batches; a
      // buffer (not in θ) is the same at every point
      const memo = new Map<Tensor, Tensor>();
      const param = (p: Tensor) => {
        let st = memo.get(p);
        if (!st) {
          st = keep(tidy(() => {
            if (!index.has(p)) return broadcastTo(reshape(p, [1, ...p.shape]), [kk, ...p.shape]);
            const flatP = reshape(p, [1, p.size]);
            const s1 = add(flatP, mul(alpha, reshape(view(d1, p), [1, p.size])));
            return reshape(d2 ? add(s1, mul(beta, reshape(view(d2, p), [1, p.size]))) : s1, [kk, ...p.shape]);
          }));
          memo.set(p, st);
        }
        return st;
      };
      const transient: Products[] = [];
      /** One batch through the model at the chunk's points, as dense outputs [K, B, ·]. */
      const outputs = (x: Tensor, bi: number, stats: PointStats | null): Tensor => {
        // the first call of the shared layer takes the products (a second, on another input, runs its rule)
        let sharedUsed = false;
        const s: Stack = new Stack({
          k: kk, param, stats, paths,
          first: shared ? (layer: Linear | Conv2d, input: Tensor, tail: Tail) => {
            if (layer !== shared || sharedUsed) return null;
            sharedUsed = true;
            let products = cache[bi];
            if (!products) {
              products = firstProducts(layer, input, dirs(layer.weight()));
              if (keepProducts) cache[bi] = products;
              else transient.push(products);
            }
            if (layer instanceof Linear) {
              const y = combineDense(products, alphaK, betaK, layer.bias ? param(layer.bias()) : null, kk, tail.relu);
              return s.dense(reshape(y, [kk, ...input.shape.slice(0, -1), layer.outFeatures]));
            }
            return s.image(combineImage(layer, tail, products, alphaK, betaK, kk, param));
          } : undefined,
        });
        const out = runStacked(model, x, s);
        return s.layout(out) === 'image' ? s.imageToDense(out) : reshape(s.expand(out, 'dense'), [kk, x.shape[0]!, -1]);
      };
      // recalibration: each point's BatchNorm statistics from the calibration batches first
      const stats = recalibrate ? new PointStats(kk) : null;
      if (stats) {
        calibration.forEach((batch, i) => {
          stats.momentum = 1 / (i + 1);
          tidy(() => void outputs(batch.x, i, stats));
        });
        stats.momentum = null;
      }
      let acc = zeros([kk, 2]);
      batches.forEach((batch, bi) => {
        // one batch's activations are freed before the next batch runs
        const next = tidy(() => add(acc, (data.metric ?? ((o, y) => pointSums(o, y, data.loss)))(outputs(batch.x, bi, stats), batch.y)));
        acc.dispose();
        acc = next;
        transient.splice(0).forEach((p) => p.forEach((t) => t.dispose()));
      });
      for (const st of memo.values()) st.dispose();
      stats?.dispose();
      return keep(acc);
    })));

  // K from dry runs of the first batch: at 1 and 2 points, the peak device memory above what was
  // live before, split into what grows with K and what does not, and the largest buffer; then at the
  // K that this predicts, shrunk while it does not fit (buffer sizes round up to size classes)
  const limit = getEngine().limits.maxStorageBufferBindingSize;
  const dryRun = (k: number) => {
    const engine = getEngine();
    const before = engine.stats.bytesLive;
    engine.pool.resetPeak();
    const origin = Array.from({ length: k }, (): [number, number] => [0, 0]);
    chunkSums(origin, data.batches.slice(0, 1), opts.calibration?.batches.slice(0, 1) ?? [], false).dispose();
    return { bytes: engine.stats.peakBytesLive - before, largest: engine.stats.peakBufferBytes };
  };
  // what was measured: the growth per point (once), the largest K that fitted and the smallest that did not
  let memory: ChunkMemory | null = null;
  let [fits, fails] = [1, Infinity];
  const fit = (points: number): number => {
    if (!memory) {
      const [one, two] = [dryRun(1), dryRun(2)];
      memory = { perPoint: two.bytes - one.bytes, fixed: Math.max(0, 2 * one.bytes - two.bytes), largestPerPoint: two.largest - one.largest };
    }
    let k = Math.min(chooseChunk(memory, points, chunkBudget), fails - 1);
    for (let tries = 0; tries < 3 && k > fits; tries++) {
      const at = dryRun(k);
      if (at.bytes <= chunkBudget && at.largest <= limit) fits = k;
      else [fails, k] = [k, Math.max(fits, Math.min(k - 1, Math.floor(k * Math.min(chunkBudget / at.bytes, limit / at.largest))))];
    }
    return Math.min(k, fails - 1);
  };
  const chunkSize = (points: number) => opts.chunk ?? fit(points);

  const evaluate = async (points: Array<[number, number]>): Promise<PointResult[]> => {
    const k = chunkSize(points.length);
    const results: PointResult[] = [];
    for (let c0 = 0; c0 < points.length; c0 += k) {
      const sums = chunkSums(points.slice(c0, c0 + k), data.batches, opts.calibration?.batches ?? [], cacheable);
      const host = await sums.data();
      sums.dispose();
      results.push(...finish(host, data.samples, data.metric !== undefined || data.loss !== 'mse'));
    }
    return results;
  };
  return { evaluate, chunkSize, dispose: () => cache.forEach((p) => p.forEach((t) => t.dispose())) };
}
