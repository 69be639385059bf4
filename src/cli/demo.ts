// `losscape demo`: AdamW and SAM from one initialization, their landscapes on one scale, the
// training curves, a table and report.html (src/node/demo.ts); prints the table at the end.
import { Command } from 'commander';
import { DEMO_DEFAULTS, DEMO_SMOKE, runDemo, type DemoSettings } from '../node/demo.js';
import { textTable } from '../node/study.js';
import { initTuned } from '../node/tune.js';
import { studyEvents, studySettingsOptions } from './study-events.js';

export function demoCommand(): Command {
  const d = DEMO_DEFAULTS;
  const cmd = new Command('demo')
    .description('train a model with AdamW and with SAM from one initialization and compare their loss landscapes (writes a folder with figures, a table and report.html)')
    .option('--out <dir>', 'output folder', d.out);
  return studySettingsOptions(cmd, d)
    .action(async (o: DemoSettings & { smoke: boolean }) => {
      const { smoke, ...given } = o;
      const settings: DemoSettings = { ...DEMO_DEFAULTS, ...given, ...(smoke ? DEMO_SMOKE : {}) };
      if (settings.batchSize > settings.trainSamples) throw new Error(`--batch-size ${settings.batchSize} is more than --train-samples ${settings.trainSamples}`);
      const engine = await initTuned();
      const events = studyEvents('demo');
      console.error(`losscape demo: ${settings.model} on ${settings.dataset}, AdamW and SAM, adapter ${engine.adapter.description}; writing ${settings.out}/`);
      const t0 = performance.now();
      const result = await runDemo(settings, events);
      events.stop();
      console.log(`\n${textTable(result.columns, result.rows)}\n`);
      console.log(`losscape demo: done in ${((performance.now() - t0) / 1e3).toFixed(0)} s; open ${settings.out}/report.html (figures: ${settings.out}/landscape-3d.png, landscape-contour.png, training.png)`);
    });
}
