// The losscape command line. Each command is a thin shell over a library function.
import { Command } from 'commander';
import { init, type MatmulVersion } from '../index.js';
import { hessianCommand, sharpnessCommand } from './hessian.js';
import { landscapeCommand, mergeCommand } from './landscape.js';
import { renderCommand } from './render.js';
import { viewCommand } from './view.js';
import { demoCommand } from './demo.js';
import { studyCommand } from './study.js';
import { trainCommand } from './train.js';

const program = new Command('losscape').description('Loss landscapes and optimizers on WebGPU');

program
  .command('info')
  .description('print the WebGPU adapter losscape uses: names, limits, features (JSON)')
  .action(async () => {
    const engine = await init();
    console.log(JSON.stringify(engine.adapter, null, 2));
  });

program
  .command('showcase')
  .description('benchmark the matmul kernels against the adapter\'s own FMA ceiling')
  .option('--sizes <list>', 'square sizes', '256,512,1024')
  .option('--versions <list>', 'kernel versions (kernels/matmul.wgsl)', 'v1,v2,v6')
  .action(async (opts: { sizes: string; versions: string }) => {
    const { runMatmulBench } = await import('../../bench/matmul.js');
    await runMatmulBench({ sizes: opts.sizes.split(',').map(Number), versions: opts.versions.split(',') as MatmulVersion[] });
  });

program.addCommand(demoCommand());
program.addCommand(studyCommand());
program.addCommand(trainCommand());
program.addCommand(landscapeCommand());
program.addCommand(mergeCommand());
program.addCommand(renderCommand());
program.addCommand(viewCommand());
program.addCommand(hessianCommand());
program.addCommand(sharpnessCommand());

try {
  await program.parseAsync();
  process.exit(0);
} catch (e) {
  // bad input is reported by the check that caught it, in words; the stack is for LOSSCAPE_DEBUG=1
  console.error(`losscape: ${process.env.LOSSCAPE_DEBUG ? (e as Error).stack : (e as Error).message}`);
  process.exit(1);
}
