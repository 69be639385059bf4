// `losscape landscape` and `losscape merge`: options, progress and the summary; the job itself is
// landscapeFromFiles (src/node/landscape.ts) over prepareLandscape (src/landscape/job.ts).
import { Command, Option } from 'commander';
import type { Shard } from '../landscape/run.js';
import type { SurfaceSummary } from '../landscape/surface.js';
import { landscapeFromFiles, mergeFiles } from '../node/landscape.js';
import { integer, outputPath, range, refuseIdle, shard } from './options.js';
import { profiled } from './profile.js';
import { progressBar } from './progress.js';

interface LandscapeCliOptions {
  checkpoint: string[];
  plan: 'line' | 'plane' | 'interp' | 'plane3' | 'trajectory';
  range?: [number, number];
  yrange?: [number, number];
  steps: number;
  norm: 'filter' | 'layer' | 'model' | 'weight' | 'none';
  keep1d: boolean;
  ignore1d?: boolean;
  only?: string;
  seed: number;
  dataset: 'mnist' | 'fashion-mnist';
  samples: number;
  batchSize: number;
  evaluator: 'auto' | 'batched' | 'sequential';
  out: string;
  chunk?: number;
  shard?: Shard;
  batchNorm: 'eval' | 'recalibrate';
  calibration: number;
  directions?: string[];
  resume: boolean;
  profile?: string;
}

const fmt = (v: number | null) => (v === null ? 'n/a' : v.toPrecision(5));

/** One line a person reads at the end of a run. */
export function summaryLine(s: SurfaceSummary, pointsPerSecond: number | null): string {
  const at = (x: number, y: number | null) => (y === null ? `x=${fmt(x)}` : `(${fmt(x)}, ${fmt(y)})`);
  return [
    `centre ${at(s.centre.x, s.centre.y)}: loss ${fmt(s.centre.loss)}`,
    s.minimum ? `minimum ${fmt(s.minimum.loss)} at ${at(s.minimum.x, s.minimum.y)}` : 'no finite point',
    `edge max ${fmt(s.edgeMax)}`,
    `${s.nonFinite} of ${s.points} point(s) not finite`,
    ...(pointsPerSecond ? [`${pointsPerSecond.toFixed(2)} points/s`] : []),
  ].join(' | ');
}

export function landscapeCommand(): Command {
  return new Command('landscape')
    .description('evaluate a loss surface; writes OUT.json, OUT.csv and OUT.vtk')
    .requiredOption('--checkpoint <file...>', 'checkpoint(s): one for line/plane, two for interp, three for plane3, the path (in order) for trajectory')
    .addOption(new Option('--plan <kind>', 'what to evaluate').choices(['line', 'plane', 'interp', 'plane3', 'trajectory']).default('plane'))
    .option('--range <min:max>', 'coordinates along d1 (default -1:1; interp -0.5:1.5, where 0 is the first checkpoint and 1 the second; plane3 and trajectory: the checkpoints with a quarter margin)', range)
    .option('--yrange <min:max>', 'coordinates along d2 (default: --range, or the checkpoints\' span)', range)
    .option('--steps <n>', 'points per axis, ends included', integer(2, 1001), 21)
    .addOption(new Option('--norm <kind>', 'direction normalization').choices(['filter', 'layer', 'model', 'weight', 'none']).default('filter'))
    .option('--keep-1d', 'move biases and norm weights too', false)
    .option('--ignore-1d', 'keep biases and norm weights fixed, as Li et al. (the default)')
    .option('--only <regex>', 'move only parameters whose names match')
    .option('--seed <n>', 'seed of the random directions', integer(0), 0)
    .option('--directions <files...>', 'line/plane: use these directions (safetensors keyed by parameter name, e.g. from another tool) instead of random ones, used as given, not normalized; or "hessian": the sharpest directions (unit eigenvectors of the loss\'s Hessian on the evaluation samples, largest eigenvalues; --seed seeds Lanczos; the range is then a distance in parameter space)')
    .addOption(new Option('--dataset <name>', 'evaluation data (test split)').choices(['mnist', 'fashion-mnist']).default('mnist'))
    .option('--samples <n>', 'evaluation samples from the test split (every one is used)', integer(1, 10000), 1000)
    .option('--batch-size <n>', 'evaluation batch size', integer(1), 500)
    .addOption(new Option('--evaluator <kind>', 'batched (K points per pass) or sequential; auto: batched where every layer has a stacked form, else sequential with a warning').choices(['auto', 'batched', 'sequential']).default('auto'))
    .option('--out <path>', 'output path without extension (folders are created)', outputPath, 'surface')
    .addOption(new Option('--batch-norm <mode>', 'BatchNorm at each point: running statistics, or re-estimated from training batches').choices(['eval', 'recalibrate']).default('eval'))
    .option('--calibration <n>', 'training samples for --batch-norm recalibrate', integer(1, 60000), 1000)
    .option('--chunk <n>', 'points per pass and per save (default: the batched evaluator\'s K, at most a tenth of the grid but at least 8; sequential 4)', integer(1))
    .option('--shard <i/n>', 'evaluate only points i, i+n, i+2n, ... (merge the shards with losscape merge)', shard)
    .option('--resume', 'continue from OUT.partial.json (a killed run loses at most one chunk)', false)
    .option('--profile <file>', 'profile the run: GPU time by kernel and by layer, and a trace for Perfetto in FILE (the GPU starts before the files are checked)')
    .action(async (o: LandscapeCliOptions, cmd: Command) => {
      if (o.keep1d && o.ignore1d) throw new Error('--keep-1d: contradicts --ignore-1d');
      const random = o.plan === 'line' || o.plan === 'plane';
      if (o.directions && !random) throw new Error(`--directions: plan ${o.plan} makes its own directions from the checkpoints`);
      const hessian = o.directions?.length === 1 && o.directions[0] === 'hessian';
      const notRandom = !random ? `plan ${o.plan} makes its own directions from the checkpoints` : hessian ? 'the Hessian\'s eigenvectors are unit vectors' : o.directions ? '--directions are used as given' : false;
      refuseIdle(cmd, [
        ['norm', '--norm', notRandom], ['seed', '--seed', !hessian && notRandom], ['only', '--only', notRandom], ['keep1d', '--keep-1d', notRandom], ['ignore1d', '--ignore-1d', notRandom],
        ['calibration', '--calibration', o.batchNorm !== 'recalibrate' && 'only --batch-norm recalibrate uses calibration samples'],
      ]);
      const bar = progressBar('landscape {bar} {value}/{total} points | {rate} points/s | ETA {eta_formatted}');
      const t0 = performance.now();
      let evaluated = 0;
      let resumed = 0;
      const result = await profiled(o.profile, () => landscapeFromFiles({
        checkpoints: o.checkpoint, plan: o.plan, range: o.range, yrange: o.yrange, steps: o.steps,
        directions: o.plan !== 'line' && o.plan !== 'plane' ? undefined
          : hessian ? { kind: 'hessian', seed: o.seed } : o.directions ? { kind: 'given', files: o.directions } : { kind: 'random', seed: o.seed, normalization: o.norm, oneD: o.keep1d ? 'keep' : 'ignore', only: o.only },
        dataset: o.dataset, samples: o.samples, batchSize: o.batchSize, evaluator: o.evaluator, batchNorm: o.batchNorm, calibration: o.calibration,
        out: o.out, chunk: o.chunk, shard: o.shard, resume: o.resume,
      }, {
        onWarning: (message) => console.error(`losscape landscape: warning: ${message}`),
        onStart: (done, total) => {
          resumed = done;
          bar.start(total, done, { rate: '-' });
        },
        onChunk: (chunk, done) => {
          evaluated += chunk.length;
          bar.update(done, { rate: (evaluated / ((performance.now() - t0) / 1e3)).toFixed(2) });
        },
      }));
      bar.stop();
      const seconds = (performance.now() - t0) / 1e3;
      if (result.summary) {
        const timings = result.surface!.provenance.timings as { pointsPerSecond: number | null };
        console.error(`losscape landscape: ${summaryLine(result.summary, timings.pointsPerSecond)}`);
      }
      console.log(JSON.stringify({ out: result.files, evaluator: result.job.evaluator, points: result.job.points, resumed, seconds, ...(result.summary ? { summary: result.summary } : { shard: `${o.shard!.index}/${o.shard!.count}` }) }));
    });
}

export function mergeCommand(): Command {
  return new Command('merge')
    .description('join the partial files of a sharded landscape run into OUT.json, OUT.csv and OUT.vtk')
    .requiredOption('--out <path>', 'output path without extension', outputPath)
    .argument('<parts...>', 'partial files (one per shard)')
    .action((parts: string[], o: { out: string }) => {
      const { files, summary, surface } = mergeFiles(parts, o.out);
      console.error(`losscape merge: ${summaryLine(summary, (surface.provenance.timings as { pointsPerSecond: number | null }).pointsPerSecond)}`);
      console.log(JSON.stringify({ out: files, points: summary.points, nonFinite: summary.nonFinite, summary }));
    });
}
