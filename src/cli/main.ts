// The losscape command line. Each command is a thin shell over a library function. Every refusal,
// whether commander's (an unknown option, a bad number) or a check's (a missing file, contradicting
// options), is one line "losscape: SUBJECT: what is wrong" with exit code 1; the stack trace is
// for LOSSCAPE_DEBUG=1.
import { Command, CommanderError, Option } from 'commander';
import { init, MATMUL_VERSIONS, type MatmulVersion } from '../index.js';
import { demoCommand } from './demo.js';
import { hessianCommand, sharpnessCommand } from './hessian.js';
import { landscapeCommand, mergeCommand } from './landscape.js';
import { integer, list, oneOf } from './options.js';
import { renderCommand } from './render.js';
import { studyCommand } from './study.js';
import { trainCommand } from './train.js';
import { viewCommand } from './view.js';

function program(): Command {
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
    .option('--sizes <list>', 'square sizes, 1 to 4096', list(integer(1, 4096)), [256, 512, 1024])
    .addOption(new Option('--versions <list>', `kernel versions (kernels/matmul.wgsl): ${MATMUL_VERSIONS.join(', ')}`).argParser(list(oneOf(MATMUL_VERSIONS))).default(['v1', 'v2', 'v6']))
    .action(async (opts: { sizes: number[]; versions: MatmulVersion[] }) => {
      const { runMatmulBench } = await import('../../bench/matmul.js');
      await runMatmulBench({ sizes: opts.sizes, versions: opts.versions });
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
  // commander throws instead of exiting, and its messages come out in losscape's one style
  for (const c of [program, ...program.commands]) c.exitOverride().configureOutput({ writeErr: () => {} });
  return program;
}

/** One line for a person: commander's and the checks' messages as "SUBJECT: what is wrong". */
export function errorLine(e: unknown): string {
  if (e instanceof CommanderError) {
    const bad = /^error: option '(\S+)[^']*' argument '(.*)' is invalid\. (.*)$/s.exec(e.message);
    if (bad) return `${bad[1]}: ${bad[3]!.replace(/^Allowed choices are (.*)\.$/, 'expected one of $1')}, got "${bad[2]}"`;
    return e.message.replace(/^error: /, '');
  }
  const err = e instanceof Error ? e : new Error(String(e));
  if (process.env.LOSSCAPE_DEBUG) return err.stack ?? err.message;
  // a TypeError or RangeError from inside is a bug, not bad input: say so
  const internal = err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError;
  return internal ? `internal error: ${err.message} (LOSSCAPE_DEBUG=1 shows where)` : err.message;
}

/** Runs the command line (argv as process.argv: node, script, args...); returns the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv);
    return 0;
  } catch (e) {
    // --help and --version end this way too, with exit code 0
    if (e instanceof CommanderError && e.exitCode === 0) return 0;
    console.error(`losscape: ${errorLine(e)}`);
    return 1;
  }
}
