// The training loop as a library function: seeded data order, a fused optimizer step per batch,
// a test-set evaluation each epoch, hooks that see the model and optimizer after chosen steps, and
// snapshots (weights, optimizer state, progress) handed to a TrainStore at each epoch's end and every
// N steps, from which a killed run resumes exactly, mid-epoch too. Where snapshots go is the caller's
// (files: src/node/train.ts). Progress goes to callbacks (the CLI draws a progress bar from them).
// Epochs are counted from 1 everywhere: epoch 1 is the first pass over the data.
import { backward, noGrad } from '../tensor/autograd.js';
import { fromArray, zeros } from '../tensor/creation.js';
import { add, eq, mul, toFloat } from '../tensor/elementwise.js';
import { assign, concat, reshape } from '../tensor/layout.js';
import { crossEntropy } from '../tensor/losses.js';
import { argmax, sum } from '../tensor/reduce.js';
import { getEngine } from '../tensor/runtime.js';
import { keep, tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { tensorsToHost } from './checkpoint.js';
import { batches, size, type Dataset } from './data.js';
import { FlatParameters } from './flat.js';
import type { Layer } from './layers.js';
import { checkModelTakes, createModel, type ModelConfig } from './models.js';
import { AdamW, clipGradNorm, SAM, SGD, type Optimizer } from './optim.js';
import type { HostTensor } from './safetensors.js';
import { learningRate, type Schedule } from './schedule.js';

export type OptimizerName = 'sgd' | 'adamw' | 'sam' | 'asam';

export interface TrainOptions {
  model: ModelConfig;
  optimizer: OptimizerName;
  lr: number;
  /** epochs to reach (a resumed run continues up to this count) */
  epochs: number;
  batchSize: number;
  seed: number;
  train: Dataset;
  test: Dataset;
  /** SGD momentum (also SAM/ASAM's base when it is SGD) */
  momentum?: number;
  weightDecay?: number;
  /** SAM / ASAM radius; ρ = 0 reproduces the base optimizer exactly */
  rho?: number;
  /** the optimizer SAM / ASAM wrap: SGD (default) or AdamW */
  samBase?: 'sgd' | 'adamw';
  schedule?: Schedule;
  warmupSteps?: number;
  clipNorm?: number;
  labelSmoothing?: number;
  cropPadding?: number;
  flip?: boolean;
  /** where snapshots go: the newest at each epoch's end (for resuming); none: nothing is saved */
  store?: TrainStore;
  /** also keep numbered snapshots every this many steps or epochs (a training path, for the trajectory plan), and one at step 0 */
  saveEvery?: { steps?: number; epochs?: number };
  /** continue from the store's last snapshot, if it has one */
  resume?: boolean;
  onProgress?: (p: Progress) => void;
  /** batches between progress reports (default 20): each reads the running sums back, a wait for the GPU */
  progressEvery?: number;
  onEpoch?: (e: EpochMetrics) => void | Promise<void>;
  /** after every optimizer step (and once before the first, at step 0): the model and optimizer as they are */
  onStep?: (s: StepInfo) => void | Promise<void>;
}

export interface Progress {
  /** 1-based */
  epoch: number;
  batch: number;
  batches: number;
  samples: number;
  loss: number;
  accuracy: number;
  samplesPerSecond: number;
}

export interface EpochMetrics {
  /** 1-based: epoch 1 is the first pass over the data */
  epoch: number;
  /** optimizer steps taken when the epoch ended */
  step: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  seconds: number;
  samplesPerSecond: number;
}

export interface StepInfo {
  /** optimizer steps taken so far */
  step: number;
  /** 1-based epoch the step belongs to, and the batches of it done */
  epoch: number;
  batch: number;
  model: Layer & { config: ModelConfig };
  flat: FlatParameters;
  optimizer: Optimizer;
}

/** What defines a run's numbers besides the model: a resumed run must have the same (JSON-safe). */
export interface TrainSettings {
  optimizer: OptimizerName;
  samBase: 'sgd' | 'adamw' | null;
  lr: number;
  batchSize: number;
  seed: number;
  dataset: string;
  trainSamples: number;
  momentum: number | null;
  weightDecay: number | null;
  rho: number | null;
  schedule: Schedule;
  warmupSteps: number;
  clipNorm: number | null;
  labelSmoothing: number;
  cropPadding: number;
  flip: boolean;
}

/** Where training stands, as a snapshot holds it (JSON-safe). */
export interface TrainMeta {
  /** epochs completed */
  epoch: number;
  /** batches of the next epoch already done (mid-epoch snapshots) */
  batch: number;
  step: number;
  history: EpochMetrics[];
  /** the unfinished epoch's running sums: loss, correct, samples, seconds */
  running: [number, number, number, number];
  settings: TrainSettings;
}

export interface TrainSnapshot {
  config: ModelConfig;
  weights: Array<[string, HostTensor]>;
  optimizerState: Array<[string, HostTensor]>;
  meta: TrainMeta;
}

/** Keeps snapshots: the newest one for resuming, and numbered ones (by step) for a training path. */
export interface TrainStore {
  load(): Promise<TrainSnapshot | null>;
  /** `numbered`: keep this one as well, named by its step (a `saveEvery` point) */
  save(s: TrainSnapshot, numbered: boolean): Promise<void>;
  /** where the newest snapshot is (a path), reported in results */
  readonly location: string;
  /** what load() reads (a path), named in errors about it */
  readonly stateName: string;
}

export interface TrainResult {
  model: Layer & { config: ModelConfig };
  flat: FlatParameters;
  history: EpochMetrics[];
  final: EpochMetrics;
  checkpoint: string | null;
}

function makeOptimizer(name: OptimizerName, flat: FlatParameters, o: TrainOptions): Optimizer {
  const momentum = o.momentum ?? 0.9;
  const adamw = () => new AdamW(flat, { lr: o.lr, weightDecay: o.weightDecay ?? 0.01 });
  const sgd = () => new SGD(flat, { lr: o.lr, momentum, weightDecay: o.weightDecay ?? 0 });
  const base = () => (o.samBase === 'adamw' ? adamw() : sgd());
  switch (name) {
    case 'sgd': return sgd();
    case 'adamw': return adamw();
    case 'sam': return new SAM(base(), { rho: o.rho ?? 0.05 });
    case 'asam': return new SAM(base(), { rho: o.rho ?? 0.5, adaptive: true });
  }
}

const OPTIMIZERS: OptimizerName[] = ['sgd', 'adamw', 'sam', 'asam'];

/** The settings of a run (what a resumed run must share with the one it continues). */
export function trainSettings(o: TrainOptions): TrainSettings {
  const sam = o.optimizer === 'sam' || o.optimizer === 'asam';
  return {
    optimizer: o.optimizer, samBase: sam ? (o.samBase ?? 'sgd') : null, lr: o.lr, batchSize: o.batchSize, seed: o.seed, dataset: o.train.name, trainSamples: size(o.train),
    momentum: o.momentum ?? null, weightDecay: o.weightDecay ?? null, rho: o.rho ?? null, schedule: o.schedule ?? { kind: 'constant' }, warmupSteps: o.warmupSteps ?? 0,
    clipNorm: o.clipNorm ?? null, labelSmoothing: o.labelSmoothing ?? 0, cropPadding: o.cropPadding ?? 0, flip: o.flip ?? false,
  };
}

/** Parses and checks the progress a training state's metadata holds; `where` names it in errors. */
export function parseTrainMeta(text: string | undefined, where: string): TrainMeta {
  const fail = (why: string) => new Error(`${where}: not a losscape training state: ${why}`);
  let m: TrainMeta;
  try {
    m = JSON.parse(text ?? '');
  } catch {
    throw fail('no progress ("meta") in its metadata');
  }
  const count = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (!m || typeof m !== 'object' || !count(m.epoch) || !count(m.batch) || !count(m.step)) throw fail('"meta" needs epoch, batch and step counts');
  if (!Array.isArray(m.history) || m.history.length !== m.epoch) throw fail(`"meta.history" must list the ${m.epoch} epoch(s) done`);
  if (!Array.isArray(m.running) || m.running.length !== 4 || !m.running.every((v) => typeof v === 'number' && Number.isFinite(v))) throw fail('"meta.running" must be four numbers');
  if (!m.settings || typeof m.settings !== 'object' || Array.isArray(m.settings)) throw fail('"meta.settings" is missing (written by an older losscape?)');
  return m;
}

/** Checks a dataset's arrays against its own shape: every message names the set. */
export function checkDataset(d: Dataset, what: string): void {
  const per = d.sampleShape.reduce((a, b) => a * b, 1);
  if (!d.sampleShape.length || !d.sampleShape.every((v) => Number.isInteger(v) && v >= 1)) throw new Error(`${what} (${d.name}): sample shape [${d.sampleShape}] is not a list of positive integers`);
  if (d.inputs.length !== size(d) * per) throw new Error(`${what} (${d.name}): ${d.inputs.length} input values for ${size(d)} samples of shape [${d.sampleShape}] (${size(d) * per} expected)`);
  if (!Number.isInteger(d.classes) || d.classes < 1) throw new Error(`${what} (${d.name}): classes must be a positive integer, got ${d.classes}`);
  const bad = d.labels.findIndex((l) => l < 0 || l >= d.classes);
  if (bad >= 0) throw new Error(`${what} (${d.name}): label ${d.labels[bad]} of sample ${bad} is outside 0..${d.classes - 1}`);
}

/** Checks training options before any work starts; every message names the option and what is wrong. */
export function checkTrainOptions(o: TrainOptions): void {
  if (!OPTIMIZERS.includes(o.optimizer)) throw new Error(`optimizer: expected one of ${OPTIMIZERS.join(', ')}, got "${o.optimizer}"`);
  const sam = o.optimizer === 'sam' || o.optimizer === 'asam';
  if (o.samBase !== undefined && !sam) throw new Error(`samBase: only SAM and ASAM wrap a base optimizer, not ${o.optimizer}`);
  if (o.samBase !== undefined && o.samBase !== 'sgd' && o.samBase !== 'adamw') throw new Error(`samBase: expected sgd or adamw, got "${o.samBase}"`);
  if (o.rho !== undefined && !sam) throw new Error(`rho: the radius of SAM and ASAM; ${o.optimizer} has none`);
  const base = sam ? (o.samBase ?? 'sgd') : o.optimizer;
  if (o.momentum !== undefined && base !== 'sgd') throw new Error(`momentum: SGD's (and SAM's over SGD); ${sam ? `${o.optimizer} over ` : ''}adamw has its betas instead`);
  if (o.resume && !o.store) throw new Error('resume: needs a store to resume from');
  const int = (name: string, v: number | undefined, min: number) => {
    if (v !== undefined && !(Number.isInteger(v) && v >= min)) throw new Error(`${name}: need an integer of at least ${min}, got ${v}`);
  };
  const real = (name: string, v: number | undefined, ok: (x: number) => boolean, what: string) => {
    if (v !== undefined && !(Number.isFinite(v) && ok(v))) throw new Error(`${name}: need ${what}, got ${v}`);
  };
  int('epochs', o.epochs, 1);
  int('batch size', o.batchSize, 1);
  int('seed', o.seed, 0);
  int('warmup', o.warmupSteps, 0);
  int('progress every', o.progressEvery, 1);
  int('save every (steps)', o.saveEvery?.steps, 1);
  int('save every (epochs)', o.saveEvery?.epochs, 1);
  real('lr', o.lr, (x) => x > 0, 'a number above 0');
  real('momentum', o.momentum, (x) => x >= 0 && x < 1, 'a number in [0, 1)');
  real('weight decay', o.weightDecay, (x) => x >= 0, 'a number of at least 0');
  real('rho', o.rho, (x) => x >= 0, 'a number of at least 0');
  real('clip', o.clipNorm, (x) => x > 0, 'a number above 0');
  real('label smoothing', o.labelSmoothing, (x) => x >= 0 && x < 1, 'a number in [0, 1)');
  int('crop padding', o.cropPadding, 0);
  const sc = o.schedule;
  if (sc !== undefined) {
    if (sc.kind === 'step') {
      int('schedule step size', sc.stepSize, 1);
      real('schedule gamma', sc.gamma, (x) => x > 0, 'a number above 0');
    } else if (sc.kind === 'cosine') {
      int('schedule total steps', sc.totalSteps, 1);
      real('schedule minimum lr', sc.minLr, (x) => x >= 0 && x < o.lr, `a number in [0, lr = ${o.lr})`);
    } else if (sc.kind !== 'constant') {
      throw new Error(`schedule: expected kind constant, step or cosine, got "${(sc as { kind: string }).kind}"`);
    }
  }
  checkDataset(o.train, 'training set');
  checkDataset(o.test, 'test set');
  if (JSON.stringify(o.train.sampleShape) !== JSON.stringify(o.test.sampleShape)) throw new Error(`test set: samples of shape [${o.test.sampleShape}], the training set's are [${o.train.sampleShape}]`);
  if (((o.cropPadding ?? 0) > 0 || o.flip) && o.train.sampleShape.length !== 3) throw new Error(`crop padding and flip: need images [C, H, W]; ${o.train.name} has samples of shape [${o.train.sampleShape}]`);
  if (size(o.train) < o.batchSize) throw new Error(`batch size: ${o.batchSize} is more than the ${size(o.train)} training samples (every epoch drops its last partial batch)`);
  if (size(o.test) === 0) throw new Error('test set: no samples');
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

/** Loads a snapshot into the model and optimizer; returns its meta. */
function restore(s: TrainSnapshot, o: TrainOptions, model: Layer, opt: Optimizer, where: string): TrainMeta {
  if (JSON.stringify(s.config) !== JSON.stringify(o.model)) throw new Error(`${where}: written for another model configuration (${JSON.stringify(s.config)}); resume with the same model`);
  const now = trainSettings(o);
  const differ = (Object.keys(now) as Array<keyof TrainSettings>).filter((k) => JSON.stringify(s.meta.settings[k]) !== JSON.stringify(now[k]));
  if (differ.length) throw new Error(`${where}: written by a run with other settings; resume with the same ${differ.map((k) => `${k} (${JSON.stringify(s.meta.settings[k])}, not ${JSON.stringify(now[k])})`).join(', ')}`);
  const upload = (entries: Array<[string, HostTensor]>) => new Map(entries.map(([n, t]) => [n, fromArray(t.data, t.shape, t.dtype)]));
  const weights = upload(s.weights);
  const state = upload(s.optimizerState);
  try {
    model.loadStateDict(weights, where);
    for (const [name, t] of Object.entries(opt.state())) {
      const saved = state.get(name);
      if (!saved) throw new Error(`${where}: no "${name}" optimizer state for ${o.optimizer}`);
      assign(t, saved);
    }
  } finally {
    for (const t of [...weights.values(), ...state.values()]) t.dispose();
  }
  opt.stepCount = s.meta.step;
  return s.meta;
}

/**
 * Trains a model from its config. The optimizer's buffers are freed at the end; the model and its
 * flat parameters are the caller's, unless training fails or a hook throws (a page's Stop): then
 * they are freed too.
 */
export async function train(o: TrainOptions): Promise<TrainResult> {
  checkTrainOptions(o);
  const model = createModel(o.model, o.seed);
  checkModelTakes(model, o.train, `training set (${o.train.name})`);
  const flat = FlatParameters.of(model);
  const opt = makeOptimizer(o.optimizer, flat, o);
  try {
    return await trainWith(o, model, flat, opt);
  } catch (e) {
    model.dispose();
    flat.dispose();
    throw e;
  } finally {
    opt.dispose();
  }
}

async function trainWith(o: TrainOptions, model: Layer & { config: ModelConfig }, flat: FlatParameters, opt: Optimizer): Promise<TrainResult> {
  const schedule = { schedule: o.schedule ?? { kind: 'constant' as const }, warmupSteps: o.warmupSteps ?? 0 };
  const saved = o.resume && o.store ? await o.store.load() : null;
  const meta: TrainMeta = saved
    ? restore(saved, o, model, opt, o.store!.stateName)
    : { epoch: 0, batch: 0, step: 0, history: [], running: [0, 0, 0, 0], settings: trainSettings(o) };
  const engine = getEngine();
  const batchesPerEpoch = Math.floor(size(o.train) / o.batchSize);
  const stepInfo = (): StepInfo => ({ step: opt.stepCount, epoch: meta.epoch + 1, batch: meta.batch, model, flat, optimizer: opt });
  const every = o.saveEvery ?? {};
  const numberedAt = (epochEnded: boolean) =>
    (every.steps !== undefined && opt.stepCount % every.steps === 0) || (epochEnded && every.epochs !== undefined && meta.epoch % every.epochs === 0);
  const snapshot = async (totals: Tensor | null, seconds: number, numbered: boolean) => {
    if (!o.store) return;
    const [l, c] = totals ? await totals.data() : [0, 0];
    const running: TrainMeta['running'] = [l!, c!, meta.batch * o.batchSize, seconds];
    await o.store.save({ config: o.model, weights: await tensorsToHost(model.stateDict()), optimizerState: await tensorsToHost(Object.entries(opt.state())), meta: { ...meta, history: [...meta.history], step: opt.stepCount, running } }, numbered);
  };
  if (!saved) {
    await o.onStep?.(stepInfo());
    if (every.steps !== undefined || every.epochs !== undefined) await snapshot(null, 0, true);
  }
  while (meta.epoch < o.epochs) {
    model.train();
    const [l0, c0, seen0, seconds0] = meta.running;
    const totals = keep(fromArray([l0, c0]));
    const t0 = performance.now() - seconds0 * 1e3;
    let seen = seen0;
    const epoch = meta.epoch + 1;
    for (const b of batches(o.train, { batchSize: o.batchSize, seed: o.seed, epoch: meta.epoch, cropPadding: o.cropPadding, flip: o.flip, dropLast: true, skip: meta.batch })) {
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
      meta.batch++;
      await o.onStep?.(stepInfo());
      if (meta.batch < batchesPerEpoch && numberedAt(false)) await snapshot(totals, (performance.now() - t0) / 1e3, true);
      // reading the running sums waits for the GPU: only now and then
      if (o.onProgress && (meta.batch % (o.progressEvery ?? 20) === 0 || meta.batch === batchesPerEpoch)) {
        const [l, c] = await totals.data();
        o.onProgress({ epoch, batch: meta.batch, batches: batchesPerEpoch, samples: seen, loss: l! / seen, accuracy: c! / seen, samplesPerSecond: seen / ((performance.now() - t0) / 1e3) });
      }
    }
    const [l, c] = await totals.data();
    totals.dispose();
    await engine.sync();
    const seconds = (performance.now() - t0) / 1e3;
    const test = await evaluate(model, o.test);
    const metrics: EpochMetrics = {
      epoch, step: opt.stepCount, trainLoss: l! / seen, trainAccuracy: c! / seen, testLoss: test.loss, testAccuracy: test.accuracy, seconds, samplesPerSecond: seen / seconds,
    };
    meta.history.push(metrics);
    meta.epoch = epoch;
    meta.batch = 0;
    meta.running = [0, 0, 0, 0];
    await o.onEpoch?.(metrics);
    await snapshot(null, 0, numberedAt(true));
  }
  // a resumed run that had already reached `epochs` ends at once, with what it had
  const final = meta.history.at(-1);
  if (!final) throw new Error(`train: no epoch trained (epochs ${o.epochs}, resumed after epoch ${meta.epoch})`);
  return { model, flat, history: meta.history, final, checkpoint: o.store?.location ?? null };
}
