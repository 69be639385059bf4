// `losscape train`: options, progress and the final metrics; the loop is train() (src/nn/train.ts)
// with its snapshots in a folder (src/node/train.ts): a checkpoint each epoch, numbered ones with
// --save-every, and --resume continuing a killed run from its last snapshot.
import { Command, InvalidArgumentError, Option } from 'commander';
import { blobs, size, spirals, take, type Dataset } from '../nn/data.js';
import { presetConfig, PRESETS, type ModelConfig } from '../nn/models.js';
import { checkTrainOptions, train, type OptimizerName, type TrainOptions } from '../nn/train.js';
import { imageDataset } from '../node/data.js';
import { checkpointDir, holdsTrainState } from '../node/train.js';
import { initTuned } from '../node/tune.js';
import { folder, integer, real, refuseIdle } from './options.js';
import { profiled } from './profile.js';
import { progressBar } from './progress.js';

interface TrainCliOptions {
  model: string;
  optimizer: OptimizerName;
  samBase: 'sgd' | 'adamw';
  dataset: string;
  lr: number;
  epochs: number;
  batchSize: number;
  seed: number;
  momentum: number;
  weightDecay?: number;
  rho?: number;
  schedule: 'constant' | 'cosine' | 'step';
  warmup: number;
  clip?: number;
  labelSmoothing: number;
  trainSubset?: number;
  testSubset?: number;
  augment: boolean;
  out?: string;
  saveEvery?: { steps?: number; epochs?: number };
  resume: boolean;
  profile?: string;
}

/** The train and test sets of a named dataset (synthetic ones split 5,000 / 1,000). */
export function trainTestSets(name: string, seed: number): [Dataset, Dataset] {
  const split = (d: Dataset, per: number): [Dataset, Dataset] => [take(d, 5000), { ...d, inputs: d.inputs.slice(5000 * per), labels: d.labels.slice(5000) }];
  switch (name) {
    case 'mnist': case 'fashion-mnist': return [imageDataset(name, 'train'), imageDataset(name, 'test')];
    case 'blobs': return split(blobs(6000, 4, 16, seed), 16);
    case 'spirals': return split(spirals(6000, 3, seed), 2);
    default: throw new Error(`unknown dataset "${name}"; choose mnist, fashion-mnist, blobs or spirals`);
  }
}

/** The preset for a dataset: the MLP's input and output sizes follow the data; the image models take 28x28 images only. */
function modelFor(name: string, dataset: string, synthetic: Dataset | null): ModelConfig {
  const config = presetConfig(name);
  if (!synthetic) return config;
  if (config.kind !== 'mlp') throw new Error(`--model: ${name} takes 28x28 images (mnist, fashion-mnist), not ${dataset}; use --model mlp`);
  return { ...config, sizes: [synthetic.sampleShape.reduce((a, b) => a * b, 1), ...config.sizes.slice(1, -1), synthetic.classes] };
}

/** "500" or "500s": every 500 optimizer steps; "2e": every 2 epochs. */
function saveEvery(v: string): { steps?: number; epochs?: number } {
  const m = /^(\d+)(s|e)?$/.exec(v.trim());
  const n = m ? Number(m[1]) : 0;
  if (!m || n < 1) throw new InvalidArgumentError('expected N (steps), Ns (steps) or Ne (epochs), N at least 1');
  return m[2] === 'e' ? { epochs: n } : { steps: n };
}

export function trainCommand(): Command {
  return new Command('train')
    .description('train a model; a checkpoint each epoch, final metrics as JSON')
    .addOption(new Option('--model <name>', 'model preset').choices(Object.keys(PRESETS)).default('cnn'))
    .addOption(new Option('--optimizer <name>', 'optimizer').choices(['adamw', 'sgd', 'sam', 'asam']).default('adamw'))
    .addOption(new Option('--sam-base <name>', 'the optimizer SAM / ASAM wrap').choices(['sgd', 'adamw']).default('sgd'))
    .addOption(new Option('--dataset <name>', 'data').choices(['mnist', 'fashion-mnist', 'blobs', 'spirals']).default('mnist'))
    .option('--lr <x>', 'learning rate', real({ above: 0 }), 1e-3)
    .option('--epochs <n>', 'epochs (a resumed run continues up to this count)', integer(1), 3)
    .option('--batch-size <n>', 'batch size', integer(1), 64)
    .option('--seed <n>', 'seed for initialization and data order', integer(0), 0)
    .option('--momentum <x>', 'SGD momentum (SGD, and SAM/ASAM over SGD)', real({ atLeast: 0, below: 1 }), 0.9)
    .option('--weight-decay <x>', 'weight decay (AdamW: decoupled; default 0.01 for AdamW, 0 otherwise)', real({ atLeast: 0 }))
    .option('--rho <x>', 'SAM/ASAM radius (default 0.05 / 0.5; 0 reproduces the base optimizer)', real({ atLeast: 0 }))
    .addOption(new Option('--schedule <kind>', 'learning-rate schedule').choices(['constant', 'cosine', 'step']).default('constant'))
    .option('--warmup <steps>', 'linear warm-up steps', integer(0), 0)
    .option('--clip <norm>', 'clip gradients to this global norm', real({ above: 0 }))
    .option('--label-smoothing <x>', 'label smoothing', real({ atLeast: 0, below: 1 }), 0)
    .option('--train-subset <n>', 'use the first n training samples', integer(1))
    .option('--test-subset <n>', 'use the first n test samples', integer(1))
    .option('--augment', 'random crops (padding 2) for image data', false)
    .option('--out <dir>', 'folder for checkpoints and metrics (created)', folder)
    .option('--save-every <n>', 'also keep numbered checkpoints (and one at step 0) every N steps ("500", "500s") or N epochs ("2e"), for the trajectory plan', saveEvery)
    .option('--resume', 'continue from the last snapshot in --out', false)
    .option('--profile <file>', 'profile the run: GPU time by kernel and by layer, and a trace for Perfetto in FILE')
    .action(async (o: TrainCliOptions, cmd: Command) => {
      // contradictions and files first, before any data loads or the GPU starts
      if (o.resume && !o.out) throw new Error('--resume: needs --out (the folder of the run to continue)');
      if (o.saveEvery && !o.out) throw new Error('--save-every: needs --out (the folder to keep the checkpoints in)');
      const sam = o.optimizer === 'sam' || o.optimizer === 'asam';
      const base = sam ? o.samBase : o.optimizer;
      const images = o.dataset === 'mnist' || o.dataset === 'fashion-mnist';
      refuseIdle(cmd, [
        ['samBase', '--sam-base', !sam && `only sam and asam wrap a base optimizer, not --optimizer ${o.optimizer}`],
        ['rho', '--rho', !sam && `the radius of sam and asam; --optimizer ${o.optimizer} has none`],
        ['momentum', '--momentum', base === 'adamw' && `SGD's momentum; ${sam ? `${o.optimizer} over ` : ''}adamw has none`],
        ['augment', '--augment', !images && `random crops need images (mnist, fashion-mnist), not ${o.dataset}`],
      ]);
      if (o.out && !o.resume && holdsTrainState(o.out)) throw new Error(`--out: ${o.out} holds a run (train-state.safetensors); continue it with --resume, or choose another folder`);
      let [trainSet, testSet] = trainTestSets(o.dataset, o.seed);
      const config = modelFor(o.model, o.dataset, images ? null : trainSet);
      for (const [flag, n, d] of [['--train-subset', o.trainSubset, trainSet], ['--test-subset', o.testSubset, testSet]] as const) {
        if (n !== undefined && n > size(d)) throw new Error(`${flag}: ${n} is more than the ${size(d)} samples of ${d.name}`);
      }
      if (o.trainSubset) trainSet = take(trainSet, o.trainSubset);
      if (o.testSubset) testSet = take(testSet, o.testSubset);
      const batchesPerEpoch = Math.floor(trainSet.labels.length / o.batchSize);
      const schedule =
        o.schedule === 'cosine' ? { kind: 'cosine' as const, totalSteps: Math.max(1, o.epochs * batchesPerEpoch) }
        : o.schedule === 'step' ? { kind: 'step' as const, stepSize: Math.max(1, batchesPerEpoch), gamma: 0.5 }
        : { kind: 'constant' as const };
      const bar = progressBar('epoch {epoch} {bar} {value}/{total} batches | loss {loss} | acc {acc} | {rate} samples/s | ETA {eta_formatted}');
      let barEpoch = 0;
      const options: TrainOptions = {
        model: config, optimizer: o.optimizer, samBase: sam ? o.samBase : undefined, lr: o.lr, epochs: o.epochs, batchSize: o.batchSize, seed: o.seed,
        train: trainSet, test: testSet, momentum: base === 'sgd' ? o.momentum : undefined, weightDecay: o.weightDecay, rho: o.rho, schedule,
        warmupSteps: o.warmup, clipNorm: o.clip, labelSmoothing: o.labelSmoothing,
        cropPadding: o.augment ? 2 : 0, store: o.out ? checkpointDir(o.out) : undefined, saveEvery: o.saveEvery, resume: o.resume,
        onProgress: (p) => {
          const fields = { epoch: String(p.epoch), loss: p.loss.toFixed(4), acc: p.accuracy.toFixed(4), rate: p.samplesPerSecond.toFixed(0) };
          if (p.epoch !== barEpoch) bar.start(p.batches, p.batch, fields);
          barEpoch = p.epoch;
          bar.update(p.batch, fields);
        },
        onEpoch: (m) => {
          bar.stop();
          barEpoch = 0;
          console.error(`epoch ${m.epoch}/${o.epochs}: train loss ${m.trainLoss.toFixed(4)} acc ${m.trainAccuracy.toFixed(4)} | test loss ${m.testLoss.toFixed(4)} acc ${m.testAccuracy.toFixed(4)} | ${m.seconds.toFixed(1)} s, ${m.samplesPerSecond.toFixed(0)} samples/s`);
        },
      };
      checkTrainOptions(options);
      const engine = await initTuned();
      const optimizerName = sam ? `${o.optimizer} over ${o.samBase}` : o.optimizer;
      console.error(`losscape train: ${o.model} with ${optimizerName} on ${trainSet.name} (${trainSet.labels.length} samples), adapter ${engine.adapter.description}`);
      if (o.resume && !holdsTrainState(o.out!)) console.error(`losscape train: nothing to resume in ${o.out}; starting from the beginning`);
      const result = await profiled(o.profile, () => train(options));
      console.log(JSON.stringify({ model: o.model, optimizer: o.optimizer, dataset: o.dataset, final: result.final, checkpoint: result.checkpoint }, null, 2));
    });
}
