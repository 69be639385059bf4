// `losscape demo`: AdamW and SAM from one initialization, their landscapes on one scale, the
// training curves, a table and report.html (src/node/demo.ts); prints the table at the end.
import { Command, Option } from 'commander';
import { PRESETS } from '../nn/models.js';
import { DEMO_DEFAULTS, DEMO_SMOKE, runDemo, type DemoSettings } from '../node/demo.js';
import { textTable } from '../node/study.js';
import { init } from '../tensor/runtime.js';
import { integer, real } from './options.js';
import { studyEvents } from './study-events.js';

export function demoCommand(): Command {
  const d = DEMO_DEFAULTS;
  return new Command('demo')
    .description('train a model with AdamW and with SAM from one initialization and compare their loss landscapes (writes a folder with figures, a table and report.html)')
    .addOption(new Option('--model <name>', 'model preset').choices(Object.keys(PRESETS)).default(d.model))
    .addOption(new Option('--dataset <name>', 'data').choices(['mnist', 'fashion-mnist']).default(d.dataset))
    .option('--epochs <n>', 'epochs per run', integer(1), d.epochs)
    .option('--train-samples <n>', 'the first n training images', integer(1, 60000), d.trainSamples)
    .option('--test-samples <n>', 'the first n test images, for the per-epoch test metrics', integer(1, 10000), d.testSamples)
    .option('--batch-size <n>', 'training batch size', integer(1), d.batchSize)
    .option('--lr <x>', 'AdamW learning rate (both runs)', real({ above: 0 }), d.lr)
    .option('--rho <x>', 'SAM radius', real({ above: 0 }), d.rho)
    .option('--seed <n>', 'initialization and data order (both runs)', integer(0), d.seed)
    .option('--direction-seed <n>', 'seed of the random directions (both landscapes)', integer(0), d.directionSeed)
    .option('--steps <n>', 'landscape points per axis', integer(2, 501), d.steps)
    .option('--range <x>', 'landscape coordinates from -x to x (filter-normalized)', real({ above: 0 }), d.range)
    .option('--samples <n>', 'test images per landscape point', integer(1, 10000), d.samples)
    .option('--out <dir>', 'output folder', d.out)
    .option('--smoke', 'tiny sizes (a few seconds): checks that every piece runs', false)
    .option('--resume', 'continue the runs and landscapes of a killed demo in --out', false)
    .action(async (o: DemoSettings & { smoke: boolean }) => {
      const { smoke, ...given } = o;
      const settings: DemoSettings = { ...DEMO_DEFAULTS, ...given, ...(smoke ? DEMO_SMOKE : {}) };
      if (settings.batchSize > settings.trainSamples) throw new Error(`--batch-size ${settings.batchSize} is more than --train-samples ${settings.trainSamples}`);
      const engine = await init();
      const events = studyEvents('demo');
      console.error(`losscape demo: ${settings.model} on ${settings.dataset}, AdamW and SAM, adapter ${engine.adapter.description}; writing ${settings.out}/`);
      const t0 = performance.now();
      const result = await runDemo(settings, events);
      events.stop();
      console.log(`\n${textTable(result.columns, result.rows)}\n`);
      console.log(`losscape demo: done in ${((performance.now() - t0) / 1e3).toFixed(0)} s; open ${settings.out}/report.html (figures: ${settings.out}/landscape-3d.png, landscape-contour.png, training.png)`);
    });
}
