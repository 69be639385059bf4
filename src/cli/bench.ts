// `losscape bench [filter...]` and `losscape showcase`: thin shells over bench/bench.ts (the suite,
// its table and JSON); bench/report.ts turns the JSON into bench/RESULTS.md's tables.
import { Command, InvalidArgumentError } from 'commander';
import { MATMUL_VERSIONS } from '../tensor/matmul.js';
import { initTuned, parseKernelChoice } from '../node/tune.js';
import { integer, list, oneOf } from './options.js';
import { profiled } from './profile.js';

interface BenchCliOptions {
  json?: string;
  quick: boolean;
  repeats?: number;
  maxCase?: number;
  kernel?: Record<string, string[]>;
  peers: boolean;
  profile?: string;
  list: boolean;
}

const kernelChoice = (v: string) => {
  try {
    return parseKernelChoice(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
};

export function benchCommand(): Command {
  return new Command('bench')
    .description('time ops, kernels, training steps and landscape evaluators on this adapter, against its measured FMA ceiling and peer engines (tfjs-webgpu, PyTorch); prints a table, writes JSON')
    .argument('[filter...]', 'run the cases whose "group/name" contains one of these (e.g. matmul, "conv2d/MNIST", landscape)')
    .option('--json <file>', 'write the report as JSON (npx tsx bench/report.ts FILE prints its Markdown)')
    .option('--quick', 'small shapes and 3 repeats: a smoke run', false)
    .option('--repeats <n>', 'timed samples per variant, alternating (default 7, quick 3)', integer(1, 1000))
    .option('--max-case <seconds>', 'after 3 rounds, stop a case\'s rounds once its timing has taken this long (default 90)', integer(1))
    .option('--kernel <list>', 'also time these kernel versions, forced by name and checked first: family=version,... (e.g. matmul=v2,matmul=v8,conv2d=v3)', kernelChoice)
    .option('--no-peers', 'skip tfjs-webgpu and PyTorch')
    .option('--profile <file>', 'profile the run: GPU time by kernel and by layer, and a trace for Perfetto in FILE')
    .option('--list', 'list the cases (after the filter) and their variants, and exit', false)
    .action(async (filter: string[], o: BenchCliOptions) => {
      const { benchCases, runBench } = await import('../../bench/bench.js');
      const options = { filter, quick: o.quick, repeats: o.repeats, maxCase: o.maxCase, kernels: o.kernel, peers: o.peers, json: o.json };
      await initTuned();
      if (o.list) {
        for (const c of benchCases(options)) console.log(`${c.group}/${c.name}: ${c.variants.map((v) => v.name).join(', ')}`);
        return;
      }
      const report = await profiled(o.profile, () => runBench(options));
      if (!o.json) console.log(JSON.stringify(report));
    });
}

export function showcaseCommand(): Command {
  return new Command('showcase')
    .description('time the matmul kernel versions side by side against the adapter\'s own FMA ceiling (losscape bench matmul, square sizes)')
    .option('--sizes <list>', 'square sizes, 1 to 4096', list(integer(1, 4096)), [256, 512, 1024])
    .option('--versions <list>', `kernel versions (kernels/matmul*.wgsl): ${MATMUL_VERSIONS.join(', ')}`, list(oneOf(MATMUL_VERSIONS)), ['v2', 'v6', 'v8'])
    .action(async (o: { sizes: number[]; versions: string[] }) => {
      const { runBench } = await import('../../bench/bench.js');
      await initTuned();
      // the table is showcase's output: stdout
      await runBench({ filter: o.sizes.map((s) => `matmul/${s}x${s}x${s}`), squares: o.sizes, kernels: { matmul: o.versions }, peers: false, log: (line) => console.log(line) });
    });
}
