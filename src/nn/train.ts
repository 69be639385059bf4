// The training loop as a library function: seeded data order, a fused optimizer step per batch,
// a test-set evaluation and a checkpoint each epoch (a killed run resumes from the last one), and
// final metrics. Progress goes to a callback (the CLI draws a progress bar from it).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { backward, noGrad } from '../tensor/autograd.js';
import { zeros } from '../tensor/creation.js';
import { add, eq, mul, toFloat } from '../tensor/elementwise.js';
import { assign, concat, reshape } from '../tensor/layout.js';
import { crossEntropy } from '../tensor/losses.js';
import { argmax, sum } from '../tensor/reduce.js';
import { getEngine } from '../tensor/runtime.js';
import { keep, tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { loadTensors, loadWeights, readSidecar, saveCheckpoint, saveTensors } from './checkpoint.js';
import { batches, size, type Dataset } from './data.js';
import { FlatParameters } from './flat.js';
import type { Layer } from './layers.js';
import { createModel, type ModelConfig } from './models.js';
import { AdamW, clipGradNorm, SAM, SGD, type Optimizer } from './optim.js';
import { learningRate, type Schedule } from './schedule.js';

export type OptimizerName = 'sgd' | 'adamw' | 'sam' | 'asam';

export interface TrainOptions {
  model: ModelConfig;
  optimizer: OptimizerName;
  lr: number;
  epochs: number;
  batchSize: number;
  seed: number;
  train: Dataset;
  test: Dataset;
  /** SGD momentum (also SAM/ASAM's base, which is SGD) */
  momentum?: number;
  weightDecay?: number;
  /** SAM / ASAM radius */
  rho?: number;
  schedule?: Schedule;
  warmupSteps?: number;
  clipNorm?: number;
  labelSmoothing?: number;
  cropPadding?: number;
  flip?: boolean;
  /** folder for the per-epoch checkpoint and the final metrics; none: nothing is written */
  outDir?: string;
  /** continue from outDir's checkpoint if there is one */
  resume?: boolean;
  onProgress?: (p: Progress) => void;
  onEpoch?: (e: EpochMetrics) => void;
}

export interface Progress {
  epoch: number;
  batch: number;
  batches: number;
  samples: number;
  loss: number;
  accuracy: number;
  samplesPerSecond: number;
}

export interface EpochMetrics {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  seconds: number;
  samplesPerSecond: number;
}

export interface TrainResult {
  model: Layer & { config: ModelConfig };
  history: EpochMetrics[];
  final: EpochMetrics;
  checkpoint: string | null;
}

function makeOptimizer(name: OptimizerName, flat: FlatParameters, o: TrainOptions): Optimizer {
  const momentum = o.momentum ?? 0.9;
  switch (name) {
    case 'sgd': return new SGD(flat, { lr: o.lr, momentum, weightDecay: o.weightDecay ?? 0 });
    case 'adamw': return new AdamW(flat, { lr: o.lr, weightDecay: o.weightDecay ?? 0.01 });
    case 'sam': return new SAM(new SGD(flat, { lr: o.lr, momentum, weightDecay: o.weightDecay ?? 0 }), { rho: o.rho ?? 0.05 });
    case 'asam': return new SAM(new SGD(flat, { lr: o.lr, momentum, weightDecay: o.weightDecay ?? 0 }), { rho: o.rho ?? 0.5, adaptive: true });
  }
}

/** Sums of loss and correct predictions over a data set, in eval mode; read back once. */
export async function evaluate(model: Layer, data: Dataset, batchSize = 256): Promise<{ loss: number; accuracy: number }> {
  const wasTraining = model.training;
  model.eval();
  const totals = keep(zeros([2]));
  noGrad(() => {
    for (const b of batches(data, { batchSize })) {
      tidy(() => assign(totals, add(totals, batchSums(model.forward(b.x), b.y))));
      b.x.dispose();
      b.y.dispose();
    }
  });
  const [lossSum, correct] = await totals.data();
  totals.dispose();
  model.train(wasTraining);
  return { loss: lossSum! / size(data), accuracy: correct! / size(data) };
}

/** [Σ loss, Σ correct] of a batch, as a 2-vector on the device. */
function batchSums(logits: Tensor, y: Tensor): Tensor {
  return tidy(() =>
    concat([
      reshape(mul(crossEntropy(logits, y), y.size), [1]),
      reshape(sum(eq(toFloat(argmax(logits, 1)), toFloat(y))), [1]),
    ]),
  );
}

const CHECKPOINT = 'checkpoint.safetensors';
const OPTIMIZER_STATE = 'optimizer.safetensors';

export async function train(o: TrainOptions): Promise<TrainResult> {
  const model = createModel(o.model, o.seed);
  const flat = FlatParameters.of(model);
  const opt = makeOptimizer(o.optimizer, flat, o);
  const schedule = { schedule: o.schedule ?? { kind: 'constant' as const }, warmupSteps: o.warmupSteps ?? 0 };
  const history: EpochMetrics[] = [];
  const ckpt = o.outDir ? path.join(o.outDir, CHECKPOINT) : null;
  let startEpoch = 0;
  if (ckpt && o.resume && existsSync(ckpt)) {
    const side = readSidecar(ckpt);
    if (JSON.stringify(side.config) !== JSON.stringify(o.model)) throw new Error(`${ckpt}: written for another model configuration; resume with the same --model`);
    loadWeights(model, ckpt);
    const { tensors, metadata } = loadTensors(path.join(o.outDir!, OPTIMIZER_STATE));
    for (const [name, t] of Object.entries(opt.state())) {
      const saved = tensors.get(name);
      if (!saved) throw new Error(`${OPTIMIZER_STATE}: no "${name}" state for ${o.optimizer}`);
      assign(t, saved);
    }
    for (const t of tensors.values()) t.dispose();
    opt.stepCount = Number(metadata.step);
    startEpoch = (side.meta.epoch as number) + 1;
    history.push(...((side.meta.history as EpochMetrics[]) ?? []));
  }
  if (o.outDir) mkdirSync(o.outDir, { recursive: true });
  const engine = getEngine();
  const batchesPerEpoch = Math.floor(size(o.train) / o.batchSize);
  for (let epoch = startEpoch; epoch < o.epochs; epoch++) {
    model.train();
    const totals = keep(zeros([2]));
    const t0 = performance.now();
    let seen = 0;
    let batch = 0;
    for (const b of batches(o.train, { batchSize: o.batchSize, seed: o.seed, epoch, cropPadding: o.cropPadding, flip: o.flip, dropLast: true })) {
      opt.lr = learningRate(o.lr, opt.stepCount, schedule);
      const forwardBackward = () =>
        tidy(() => {
          const logits = model.forward(b.x);
          const loss = crossEntropy(logits, b.y, { labelSmoothing: o.labelSmoothing ?? 0 });
          backward(loss);
          return keep(noGrad(() => batchSums(logits, b.y)));
        });
      let sums: Tensor;
      if (opt instanceof SAM) {
        sums = opt.stepWith(forwardBackward);
      } else {
        opt.zeroGrad();
        sums = forwardBackward();
        if (o.clipNorm) clipGradNorm(flat, o.clipNorm).dispose();
        opt.step();
      }
      tidy(() => assign(totals, add(totals, sums)));
      sums.dispose();
      b.x.dispose();
      b.y.dispose();
      seen += b.size;
      batch++;
      // reading the running sums waits for the GPU: only now and then
      if (o.onProgress && (batch % 20 === 0 || batch === batchesPerEpoch)) {
        const [l, c] = await totals.data();
        const secs = (performance.now() - t0) / 1e3;
        o.onProgress({ epoch, batch, batches: batchesPerEpoch, samples: seen, loss: l! / seen, accuracy: c! / seen, samplesPerSecond: seen / secs });
      }
    }
    const [l, c] = await totals.data();
    totals.dispose();
    await engine.sync();
    const seconds = (performance.now() - t0) / 1e3;
    const test = await evaluate(model, o.test);
    const metrics: EpochMetrics = {
      epoch, trainLoss: l! / seen, trainAccuracy: c! / seen, testLoss: test.loss, testAccuracy: test.accuracy, seconds, samplesPerSecond: seen / seconds,
    };
    history.push(metrics);
    o.onEpoch?.(metrics);
    if (ckpt) {
      await saveTensors(path.join(o.outDir!, OPTIMIZER_STATE), Object.entries(opt.state()), { step: String(opt.stepCount), optimizer: o.optimizer });
      await saveCheckpoint(ckpt, model, { epoch, history, optimizer: o.optimizer, lr: o.lr, batchSize: o.batchSize, seed: o.seed, dataset: o.train.name });
    }
  }
  const final = history.at(-1);
  if (!final) throw new Error(`train: nothing to do (epochs ${o.epochs}, resumed at epoch ${startEpoch})`);
  if (o.outDir) writeFileSync(path.join(o.outDir, 'metrics.json'), `${JSON.stringify({ final, history }, null, 2)}\n`);
  return { model, history, final, checkpoint: ckpt };
}
