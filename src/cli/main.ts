// The losscape command line. Each command is a thin shell over a library function. Every refusal,
// whether commander's (an unknown option, a bad number) or a check's (a missing file, contradicting
// options), is one line "losscape: SUBJECT: what is wrong" with exit code 1; the stack trace is
// for LOSSCAPE_DEBUG=1.
import { Command, CommanderError } from 'commander';
import { init } from '../index.js';
import { initTuned } from '../node/tune.js';
import { benchCommand, showcaseCommand } from './bench.js';
import { demoCommand } from './demo.js';
import { hessianCommand, sharpnessCommand } from './hessian.js';
import { landscapeCommand, mergeCommand } from './landscape.js';
import { profiled } from './profile.js';
import { renderCommand } from './render.js';
import { studyCommand } from './study.js';
import { trainCommand } from './train.js';
import { viewCommand } from './view.js';

function buildProgram(): Command {
  const program = new Command('losscape').description('Loss landscapes and optimizers on WebGPU').enablePositionalOptions();
  program
    .command('info')
    .description('print the WebGPU adapter losscape uses: names, limits, features (JSON)')
    .action(async () => {
      const engine = await init();
      console.log(JSON.stringify(engine.adapter, null, 2));
    });
  program.addCommand(benchCommand());
  program.addCommand(showcaseCommand());
  program
    .command('profile')
    .description('run a losscape command with the kernel profiler: GPU time by kernel and by layer, and a trace for Perfetto')
    .option('--trace <file>', 'where the trace goes (Chrome trace event JSON)', 'profile.json')
    .argument('<command...>', 'the command and its options, e.g. train --model cnn --epochs 1')
    .passThroughOptions()
    .action(async (args: string[], o: { trace: string }) => {
      await initTuned();
      await profiled(o.trace, () => buildProgram().parseAsync(['node', 'losscape', ...args]));
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
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (e) {
    // --help and --version end this way too, with exit code 0
    if (e instanceof CommanderError && e.exitCode === 0) return 0;
    console.error(`losscape: ${errorLine(e)}`);
    return 1;
  }
}
