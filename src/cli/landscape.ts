// `losscape landscape`: evaluates a loss surface around a checkpoint (line, plane), between
// checkpoints (interp, plane3) or on the plane of a training trajectory, and writes it as JSON,
// CSV and VTK, with a progress bar (points/s, ETA).
import { createHash } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import cliProgress from 'cli-progress';
import { Command, Option } from 'commander';
import { readSidecar, loadWeights } from '../nn/checkpoint.js';
import { fashionMnist, mnist, take } from '../nn/data.js';
import { FlatParameters } from '../nn/flat.js';
import { createModel } from '../nn/models.js';
import { CNN, MLP } from '../nn/simple.js';
import { ResNet } from '../nn/resnet.js';
import { ViT } from '../nn/vit.js';
import { loadDirection, orthogonalize, randomDirection, saveDirection, type Normalization } from '../landscape/directions.js';
import { batchedEvaluator } from '../landscape/batched.js';
import { evaluateSequential, prepareEvalSet } from '../landscape/evaluate.js';
import { gridPoints, linspace, planeThrough, trajectoryPlane } from '../landscape/plans.js';
import { mergePartials, parseShard, readPartial, runLandscape } from '../landscape/run.js';
import { sha256, surfaceCsv, surfaceVtk, type SurfaceFile } from '../landscape/surface.js';
import { clone, assign } from '../tensor/layout.js';
import { sub } from '../tensor/elementwise.js';
import { keep } from '../tensor/scope.js';
import { init } from '../tensor/runtime.js';
import type { Tensor } from '../tensor/tensor.js';

interface LandscapeCliOptions {
  checkpoint: string[];
  plan: 'line' | 'plane' | 'interp' | 'plane3' | 'trajectory';
  range: string;
  yrange?: string;
  steps: number;
  norm: Normalization;
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
  shard?: string;
  batchNorm: 'eval' | 'recalibrate';
  calibration: number;
  directions?: string[];
  resume: boolean;
}

function parseRange(text: string): [number, number] {
  const m = /^(-?[\d.e+-]+):(-?[\d.e+-]+)$/.exec(text);
  if (!m) throw new Error(`range: expected min:max, got "${text}"`);
  return [Number(m[1]), Number(m[2])];
}

export function landscapeCommand(): Command {
  return new Command('landscape')
    .description('evaluate a loss surface; writes OUT.json, OUT.csv and OUT.vtk')
    .requiredOption('--checkpoint <file...>', 'checkpoint(s): one for line/plane, two for interp, three for plane3, the path for trajectory')
    .addOption(new Option('--plan <kind>', 'what to evaluate').choices(['line', 'plane', 'interp', 'plane3', 'trajectory']).default('plane'))
    .option('--range <min:max>', 'coordinates along d1 (interp: 0 is the first checkpoint, 1 the second)', '-1:1')
    .option('--yrange <min:max>', 'coordinates along d2 (default: --range)')
    .option('--steps <n>', 'points per axis, ends included', Number, 21)
    .addOption(new Option('--norm <kind>', 'direction normalization').choices(['filter', 'layer', 'model', 'weight', 'none']).default('filter'))
    .option('--keep-1d', 'move biases and norm weights too', false)
    .option('--ignore-1d', 'keep biases and norm weights fixed, as Li et al. (the default)')
    .option('--only <regex>', 'move only parameters whose names match')
    .option('--seed <n>', 'seed of the random directions', Number, 0)
    .option('--directions <files...>', 'line/plane: use these directions (safetensors keyed by parameter name, e.g. from another tool) instead of random ones; they are used as given, not normalized')
    .addOption(new Option('--dataset <name>', 'evaluation data (test split)').choices(['mnist', 'fashion-mnist']).default('mnist'))
    .option('--samples <n>', 'evaluation samples (every one is used)', Number, 1000)
    .option('--batch-size <n>', 'evaluation batch size', Number, 500)
    .addOption(new Option('--evaluator <kind>', 'batched (K points per pass) or sequential').choices(['auto', 'batched', 'sequential']).default('auto'))
    .option('--out <path>', 'output path without extension', 'surface')
    .addOption(new Option('--batch-norm <mode>', 'BatchNorm at each point: running statistics, or re-estimated from training batches').choices(['eval', 'recalibrate']).default('eval'))
    .option('--calibration <n>', 'training samples for --batch-norm recalibrate', Number, 1000)
    .option('--chunk <n>', 'points per pass and per save (default: 64 batched, 4 sequential)', Number)
    .option('--shard <i/n>', 'evaluate only points i, i+n, i+2n, ... (merge the shards with losscape merge)')
    .option('--resume', 'continue from OUT.partial.json (a killed run loses at most one chunk)', false)
    .action(async (o: LandscapeCliOptions) => {
      const engine = await init();
      const started = performance.now();
      const files = o.checkpoint;
      const need = { line: 1, plane: 1, interp: 2, plane3: 3, trajectory: 3 }[o.plan];
      if (o.plan === 'trajectory' ? files.length < need : files.length !== need) {
        throw new Error(`--plan ${o.plan} needs ${o.plan === 'trajectory' ? 'at least ' : ''}${need} checkpoint(s), got ${files.length}`);
      }
      const side = readSidecar(files[0]!);
      let model: ReturnType<typeof createModel>;
      try {
        model = createModel(side.config, 0);
      } catch (e) {
        throw new Error(`${files[0]}.json: ${(e as Error).message}`);
      }
      const flat = FlatParameters.of(model);
      const thetaOf = (file: string): Tensor => {
        loadWeights(model, file);
        return keep(clone(flat.values));
      };
      let d1: Tensor;
      let d2: Tensor | null = null;
      let x: number[];
      let y: number[] | null = null;
      if (o.keep1d && o.ignore1d) throw new Error('--keep-1d and --ignore-1d contradict each other');
      const [lo, hi] = parseRange(o.range);
      const [ylo, yhi] = parseRange(o.yrange ?? o.range);
      let planInfo: Record<string, unknown> = { kind: o.plan };
      if (o.plan === 'line' || o.plan === 'plane') {
        loadWeights(model, files[0]!);
        const opts = { normalization: o.norm, oneD: o.keep1d ? ('keep' as const) : ('ignore' as const), only: o.only ? new RegExp(o.only) : undefined };
        const wanted = o.plan === 'plane' ? 2 : 1;
        if (o.directions && o.directions.length !== wanted) throw new Error(`--plan ${o.plan} takes ${wanted} direction file(s), got ${o.directions.length}`);
        d1 = o.directions ? loadDirection(o.directions[0]!, flat) : randomDirection(flat, { ...opts, seed: o.seed });
        if (o.plan === 'plane') {
          d2 = o.directions ? loadDirection(o.directions[1]!, flat) : randomDirection(flat, { ...opts, seed: o.seed + 1 });
          y = linspace(ylo, yhi, o.steps);
        }
        x = linspace(lo, hi, o.steps);
        planInfo = o.directions
          ? { ...planInfo, directions: o.directions.map((f) => ({ file: f, sha256: sha256(f) })) }
          : { ...planInfo, normalization: o.norm, oneD: opts.oneD, only: o.only ?? null, seed: o.seed };
        // the directions used, saved beside the output, so the surface can be reproduced or compared
        await saveDirection(`${o.out}.d1.safetensors`, flat, d1);
        if (d2) await saveDirection(`${o.out}.d2.safetensors`, flat, d2);
      } else if (o.plan === 'interp') {
        const a = thetaOf(files[0]!);
        const b = thetaOf(files[1]!);
        d1 = keep(sub(b, a));
        assign(flat.values, a);
        x = linspace(lo, hi, o.steps);
      } else {
        const thetas = files.map(thetaOf);
        const basis = o.plan === 'plane3' ? await planeThrough(thetas[0]!, thetas[1]!, thetas[2]!) : await trajectoryPlane(thetas);
        assign(flat.values, basis.origin);
        d1 = basis.d1;
        d2 = basis.d2;
        orthogonalize(d2, d1);
        // default ranges: the checkpoints' coordinates with a quarter of their span as margin
        const span = (k: 0 | 1) => {
          const c = basis.coords.map((p) => p[k]);
          const [mn, mx] = [Math.min(...c), Math.max(...c)];
          const m = 0.25 * (mx - mn || 1);
          return [mn - m, mx + m] as const;
        };
        x = o.range === '-1:1' ? linspace(...span(0), o.steps) : linspace(lo, hi, o.steps);
        y = o.yrange || o.range !== '-1:1' ? linspace(ylo, yhi, o.steps) : linspace(...span(1), o.steps);
        planInfo = { ...planInfo, coords: basis.coords, ...('explained' in basis ? { explained: basis.explained } : {}) };
      }
      const testSet = take(o.dataset === 'mnist' ? mnist('test') : fashionMnist('test'), o.samples);
      const set = prepareEvalSet(testSet, o.batchSize);
      const stackable = model instanceof MLP || model instanceof CNN || model instanceof ViT || model instanceof ResNet;
      const batched = o.evaluator === 'batched' || (o.evaluator === 'auto' && stackable);
      const calibration = o.batchNorm === 'recalibrate' ? prepareEvalSet(take(o.dataset === 'mnist' ? mnist('train') : fashionMnist('train'), o.calibration), o.batchSize) : undefined;
      const bnOpts = { batchNorm: o.batchNorm, calibration };
      // the batched evaluator keeps its shared first-layer products across the run's chunks
      const stacked = batched ? batchedEvaluator(model, flat, d1, d2, set, bnOpts) : null;
      const evaluate = (pts: Array<[number, number]>) => (stacked ? stacked.evaluate(pts) : evaluateSequential(model, flat, d1, d2, pts, set, bnOpts));
      const shard = o.shard ? parseShard(o.shard) : { index: 0, count: 1 };
      const provenance = {
        checkpoints: files.map((f) => ({ file: f, sha256: sha256(f) })),
        model: side.config,
        plan: planInfo,
        data: { dataset: o.dataset, split: 'test', samples: testSet.labels.length, batchNorm: o.batchNorm, ...(calibration ? { calibrationSamples: calibration.samples } : {}) },
        evaluator: batched ? 'batched' : 'sequential',
        adapter: engine.adapter.description,
        orientation: 'loss[iy][ix] is the value at (x[ix], y[iy]); x along d1',
      };
      // everything that defines the values (not the adapter or timings): resumed and merged parts must share it
      const fingerprint = createHash('sha256').update(JSON.stringify({ ...provenance, adapter: undefined, x, y })).digest('hex');
      const partialFile = shard.count > 1 ? `${o.out}.shard-${shard.index}-of-${shard.count}.json` : `${o.out}.partial.json`;
      const total = gridPoints(x, y).length;
      const bar = new cliProgress.SingleBar({
        format: 'landscape {bar} {value}/{total} points | {rate} points/s | ETA {eta_formatted}', stream: process.stderr, noTTYOutput: true, notTTYSchedule: 15000,
      }, cliProgress.Presets.shades_classic);
      const t0 = performance.now();
      let evaluated = 0;
      bar.start(Math.ceil(total / shard.count), 0, { rate: '-' });
      const part = await runLandscape({
        x, y, fingerprint, provenance, shard, partialFile, resume: o.resume, chunk: o.chunk ?? (batched ? 64 : 4),
        evaluate,
        onChunk: (chunk, done) => {
          evaluated += chunk.length;
          bar.update(done, { rate: (evaluated / ((performance.now() - t0) / 1e3)).toFixed(2) });
        },
      });
      bar.stop();
      stacked?.dispose();
      const seconds = (performance.now() - t0) / 1e3;
      if (shard.count > 1) {
        console.log(JSON.stringify({ shard: `${shard.index}/${shard.count}`, partial: partialFile, points: Object.keys(part.results).length, seconds }));
        return;
      }
      const surface = mergePartials([part], [partialFile]);
      surface.provenance.timings = { seconds, pointsPerSecond: evaluated / seconds, totalSeconds: (performance.now() - started) / 1e3 };
      writeSurface(o.out, surface);
      rmSync(partialFile, { force: true });
      if (surface.nonFinite.length) console.error(`losscape landscape: ${surface.nonFinite.length} point(s) overflowed; stored as null and listed in nonFinite`);
      console.log(JSON.stringify({ out: [`${o.out}.json`, `${o.out}.csv`, `${o.out}.vtk`], points: total, seconds }));
    });
}

function writeSurface(out: string, surface: SurfaceFile): void {
  writeFileSync(`${out}.json`, `${JSON.stringify(surface)}\n`);
  writeFileSync(`${out}.csv`, surfaceCsv(surface));
  writeFileSync(`${out}.vtk`, surfaceVtk(surface));
}

export function mergeCommand(): Command {
  return new Command('merge')
    .description('join the partial files of a sharded landscape run into OUT.json, OUT.csv and OUT.vtk')
    .requiredOption('--out <path>', 'output path without extension')
    .argument('<parts...>', 'partial files (one per shard)')
    .action((parts: string[], o: { out: string }) => {
      const surface = mergePartials(parts.map(readPartial), parts);
      writeSurface(o.out, surface);
      console.log(JSON.stringify({ out: [`${o.out}.json`, `${o.out}.csv`, `${o.out}.vtk`], points: surface.x.length * (surface.y?.length ?? 1), nonFinite: surface.nonFinite.length }));
    });
}
