// What the demo and the studies share on the command line: the settings every study has (model,
// data, training, landscape), and progress on the terminal: a line per phase, a bar per training
// run and per landscape, each epoch's metrics.
import { Option, type Command } from 'commander';
import { PRESETS } from '../nn/models.js';
import type { StudyEvents, StudySettings } from '../node/study.js';
import { integer, real } from './options.js';
import { progressBar } from './progress.js';

/** The options of StudySettings every study (and the demo) takes, with these defaults. */
export function studySettingsOptions(cmd: Command, d: Omit<StudySettings, 'optimizer' | 'samBase' | 'out'>): Command {
  return cmd
    .addOption(new Option('--model <name>', 'model preset').choices(Object.keys(PRESETS)).default(d.model))
    .addOption(new Option('--dataset <name>', 'data').choices(['mnist', 'fashion-mnist']).default(d.dataset))
    .option('--epochs <n>', 'epochs per run', integer(1), d.epochs)
    .option('--train-samples <n>', 'the first n training images', integer(1, 60000), d.trainSamples)
    .option('--test-samples <n>', 'the first n test images, for the per-epoch test metrics', integer(1, 10000), d.testSamples)
    .option('--batch-size <n>', 'training batch size', integer(1), d.batchSize)
    .option('--lr <x>', 'learning rate, the same for every run (but the lr study\'s)', real({ above: 0 }), d.lr)
    .option('--rho <x>', 'SAM radius', real({ above: 0 }), d.rho)
    .option('--seed <n>', 'initialization and data order, the same for every run', integer(0), d.seed)
    .option('--direction-seed <n>', 'seed of the random directions, the same for every panel', integer(0), d.directionSeed)
    .option('--steps <n>', 'landscape points per axis', integer(2, 501), d.steps)
    .option('--range <x>', 'landscape coordinates from -x to x (filter-normalized)', real({ above: 0 }), d.range)
    .option('--samples <n>', 'test images per landscape point', integer(1, 10000), d.samples)
    .option('--smoke', 'tiny sizes (seconds): checks that every piece runs', false)
    .option('--resume', 'continue the runs and landscapes a killed run left in --out', false);
}

export function studyEvents(command: string): StudyEvents & { stop(): void } {
  const train = progressBar('{label} epoch {epoch} {bar} {value}/{total} batches | loss {loss} | {rate} samples/s | ETA {eta_formatted}');
  const land = progressBar('{label} {bar} {value}/{total} points | ETA {eta_formatted}');
  let epoch = 0;
  return {
    phase: (text) => console.error(`losscape ${command}: ${text}`),
    trainProgress: (label, p) => {
      const fields = { label, epoch: String(p.epoch), loss: p.loss.toFixed(4), rate: p.samplesPerSecond.toFixed(0) };
      if (p.epoch !== epoch) train.start(p.batches, p.batch, fields);
      epoch = p.epoch;
      train.update(p.batch, fields);
    },
    epoch: (label, m, epochs) => {
      train.stop();
      epoch = 0;
      console.error(`  ${label} epoch ${m.epoch}/${epochs}: train loss ${m.trainLoss.toFixed(4)} acc ${m.trainAccuracy.toFixed(4)} | test loss ${m.testLoss.toFixed(4)} acc ${m.testAccuracy.toFixed(4)} | ${m.seconds.toFixed(1)} s`);
    },
    landscapeStart: (label, done, total) => land.start(total, done, { label }),
    landscapeChunk: (label, done) => {
      land.update(done, { label });
    },
    stop: () => {
      train.stop();
      land.stop();
    },
  };
}
