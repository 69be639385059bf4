// `losscape train`: trains a model on a dataset with a progress bar (loss, accuracy, samples/s,
// ETA), evaluates on the test set and checkpoints each epoch (--resume continues a killed run),
// and prints the final metrics as JSON.
import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import { init } from '../tensor/runtime.js';
import { blobs, fashionMnist, mnist, spirals, take, type Dataset } from '../nn/data.js';
import { presetConfig, PRESETS } from '../nn/models.js';
import { train, type OptimizerName } from '../nn/train.js';

interface TrainCliOptions {
  model: string;
  optimizer: OptimizerName;
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
  resume: boolean;
}

function datasets(name: string, seed: number): [Dataset, Dataset] {
  switch (name) {
    case 'mnist': return [mnist('train'), mnist('test')];
    case 'fashion-mnist': return [fashionMnist('train'), fashionMnist('test')];
    case 'blobs': { const d = blobs(6000, 4, 16, seed); return [take(d, 5000), { ...d, inputs: d.inputs.slice(5000 * 16), labels: d.labels.slice(5000) }]; }
    case 'spirals': { const d = spirals(6000, 3, seed); return [take(d, 5000), { ...d, inputs: d.inputs.slice(5000 * 2), labels: d.labels.slice(5000) }]; }
    default: throw new Error(`unknown dataset "${name}"; choose mnist, fashion-mnist, blobs or spirals`);
  }
}

const num = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`not a number: ${v}`);
  return n;
};

export function trainCommand(): Command {
  return new Command('train')
    .description('train a model; a checkpoint each epoch, final metrics as JSON')
    .addOption(new Option('--model <name>', 'model preset').choices(Object.keys(PRESETS)).default('cnn'))
    .addOption(new Option('--optimizer <name>', 'optimizer').choices(['adamw', 'sgd', 'sam', 'asam']).default('adamw'))
    .addOption(new Option('--dataset <name>', 'data').choices(['mnist', 'fashion-mnist', 'blobs', 'spirals']).default('mnist'))
    .option('--lr <x>', 'learning rate', num, 1e-3)
    .option('--epochs <n>', 'epochs', num, 3)
    .option('--batch-size <n>', 'batch size', num, 64)
    .option('--seed <n>', 'seed for initialization and data order', num, 0)
    .option('--momentum <x>', 'SGD momentum (SGD, and SAM/ASAM\'s base SGD)', num, 0.9)
    .option('--weight-decay <x>', 'weight decay (AdamW: decoupled; default 0.01 for AdamW, 0 otherwise)', num)
    .option('--rho <x>', 'SAM/ASAM radius (default 0.05 / 0.5)', num)
    .addOption(new Option('--schedule <kind>', 'learning-rate schedule').choices(['constant', 'cosine', 'step']).default('constant'))
    .option('--warmup <steps>', 'linear warm-up steps', num, 0)
    .option('--clip <norm>', 'clip gradients to this global norm', num)
    .option('--label-smoothing <x>', 'label smoothing', num, 0)
    .option('--train-subset <n>', 'use the first n training samples', num)
    .option('--test-subset <n>', 'use the first n test samples', num)
    .option('--augment', 'random crops (padding 2) for image data', false)
    .option('--out <dir>', 'folder for checkpoints and metrics')
    .option('--resume', 'continue from the checkpoint in --out', false)
    .action(async (o: TrainCliOptions) => {
      const engine = await init();
      let [trainSet, testSet] = datasets(o.dataset, o.seed);
      if (o.trainSubset) trainSet = take(trainSet, o.trainSubset);
      if (o.testSubset) testSet = take(testSet, o.testSubset);
      const config = presetConfig(o.model);
      const batchesPerEpoch = Math.floor(trainSet.labels.length / o.batchSize);
      const schedule =
        o.schedule === 'cosine' ? { kind: 'cosine' as const, totalSteps: o.epochs * batchesPerEpoch }
        : o.schedule === 'step' ? { kind: 'step' as const, stepSize: batchesPerEpoch, gamma: 0.5 }
        : { kind: 'constant' as const };
      console.error(`losscape train: ${o.model} with ${o.optimizer} on ${trainSet.name} (${trainSet.labels.length} samples), adapter ${engine.adapter.description}`);
      const bar = new cliProgress.SingleBar({
        format: 'epoch {epoch} {bar} {value}/{total} | loss {loss} | acc {acc} | {rate} samples/s | ETA {eta_formatted}',
        stream: process.stderr, hideCursor: true, noTTYOutput: true, notTTYSchedule: 15000,
      }, cliProgress.Presets.shades_classic);
      const result = await train({
        model: config, optimizer: o.optimizer, lr: o.lr, epochs: o.epochs, batchSize: o.batchSize, seed: o.seed,
        train: trainSet, test: testSet, momentum: o.momentum, weightDecay: o.weightDecay, rho: o.rho, schedule,
        warmupSteps: o.warmup, clipNorm: o.clip, labelSmoothing: o.labelSmoothing,
        cropPadding: o.augment ? 2 : 0, outDir: o.out, resume: o.resume,
        onProgress: (p) => {
          if (p.batch <= 20) bar.start(p.batches, 0, { epoch: p.epoch + 1, loss: '-', acc: '-', rate: '-' });
          bar.update(p.batch, { epoch: p.epoch + 1, loss: p.loss.toFixed(4), acc: p.accuracy.toFixed(4), rate: p.samplesPerSecond.toFixed(0) });
        },
        onEpoch: (m) => {
          bar.stop();
          console.error(`epoch ${m.epoch + 1}: train loss ${m.trainLoss.toFixed(4)} acc ${m.trainAccuracy.toFixed(4)} | test loss ${m.testLoss.toFixed(4)} acc ${m.testAccuracy.toFixed(4)} | ${m.seconds.toFixed(1)} s, ${m.samplesPerSecond.toFixed(0)} samples/s`);
        },
      });
      console.log(JSON.stringify({ model: o.model, optimizer: o.optimizer, dataset: o.dataset, final: result.final, checkpoint: result.checkpoint }, null, 2));
    });
}
