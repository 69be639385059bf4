// Landscape benchmark: points per second of the batched and the sequential evaluator on MNIST
// models, at 21x21 and 51x51 planes with 1,000 and 10,000 evaluation samples, with the effective
// GFLOP/s against the adapter's FMA ceiling measured in the same run. The sequential evaluator is
// timed on a sample of the plane's points, the batched one for up to --seconds (rates do not depend
// on which points); results of the two are compared on the sample before anything is reported.
// The forward FLOPs and the per-layer profile come from the models themselves: one traced forward
// (module.ts's Interceptor sees every layer call).
// Usage: npx tsx bench/landscape.ts [--models mlp,cnn,vit-tiny,resnet8] [--samples 1000,10000] [--grids 21,51] [--seq-points 3] [--seconds 20]
//          [--baseline DIR [--rounds 3]] [--chunk K]
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  Conv2d, convOutSize, createModel, disposeEvalSet, Fused, gridPoints, init, intercept, keep, Linear, linspace, MultiheadAttention, noGrad, pair,
  prepareEvalSet, presetConfig, Sequential, take, tidy, Tensor, type BatchedEvaluator, type EvalSet, type FlatParameters, type Layer, type Module,
} from '../src/index.js';
import { mnist } from '../src/node/index.js';
import { arg, describe, fmaCeiling, stats } from './harness.js';

const sampleCounts = arg('samples', '1000,10000').split(',').map(Number);
const grids = arg('grids', '21,51').split(',').map(Number);
const seqPoints = Number(arg('seq-points', '3'));
const seconds = Number(arg('seconds', '20'));
const models = arg('models', 'mlp,cnn,vit-tiny,resnet8').split(',');
// --baseline DIR: the same evaluators from another checkout (the base commit of a change, say, in a
// `git worktree` with node_modules linked), timed in this process alternately with this checkout's,
// --rounds times (default 3), so that both see the same machine load: medians, (min-max).
const baseline = arg('baseline', '');
const rounds = Number(arg('rounds', baseline ? '3' : '1'));
// --chunk K: the batched evaluators' points per chunk, forced (both checkouts), instead of their own choice
const chunk = arg('chunk', '') ? Number(arg('chunk', '')) : undefined;

const engine = await init();
type Losscape = typeof import('../src/index.js');
const trees: Array<{ tree: string; L: Losscape }> = [{ tree: 'this', L: await import('../src/index.js') }];
if (baseline) {
  const L = (await import(pathToFileURL(resolve(baseline, 'src/index.ts')).href)) as Losscape;
  await L.init();
  trees.push({ tree: 'baseline', L });
}
console.log(`adapter: ${describe(engine)}`);
const ceiling = await fmaCeiling(engine);
console.log(`FMA ceiling: ${ceiling.toFixed(1)} GFLOP/s\n`);
console.log('model     samples  grid   evaluator    points/s   s/plane   GFLOP/s  of ceiling  speed-up');

/** A layer the forward called, with its input (views the caller disposes), for timing it alone. */
interface Unit {
  label: string;
  layer: Layer;
  input: Tensor;
  rest: unknown[];
}

/**
 * One forward pass over x, traced: the layers it calls, outermost first below the model (a
 * Sequential counts as its layers), each with its input (kept); and its multiply-adds, from the
 * Linear, Conv2d and attention calls (a fused group counts its Linear or Conv2d once).
 */
function trace(model: Layer, x: Tensor): { units: Unit[]; macs: number } {
  const paths = new Map<Module, string>(model.namedModules().map(([p, m]) => [m, p]));
  const label = (l: Module) => (l instanceof Fused ? `${paths.get(l.head)} ${l.label}` : paths.get(l) ?? l.constructor.name);
  const units: Unit[] = [];
  const calls: Module[] = [];
  let macs = 0;
  const count = (l: Module, input: Tensor) => {
    if (l instanceof Linear) macs += input.size * l.outFeatures;
    if (l instanceof Conv2d) {
      const [b, , h, w] = input.shape as [number, number, number, number];
      const [kh, kw] = pair(l.kernel);
      const size = (n: number, i: 0 | 1, k: number) => convOutSize(n, k, pair(l.opts.stride ?? 1)[i], pair(l.opts.padding ?? 0)[i], pair(l.opts.dilation ?? 1)[i]);
      macs += b * l.outChannels * size(h, 0, kh) * size(w, 1, kw) * (l.inChannels / (l.opts.groups ?? 1)) * kh * kw;
    }
    if (l instanceof MultiheadAttention) macs += 2 * input.size * input.shape.at(-2)!; // Q·Kᵀ and P·V: B·T²·W each
  };
  const outermost = () => !calls.some((c) => c !== model && !(c instanceof Sequential));
  noGrad(() => tidy(() => intercept({
    call(layer, forward, input, rest) {
      if (outermost() && layer !== model && !(layer instanceof Sequential)) {
        const held = (t: unknown) => (t instanceof Tensor ? keep(t.view(t.shape, 'profile')) : t);
        units.push({ label: label(layer), layer: layer as Layer, input: held(input) as Tensor, rest: rest.map(held) });
      }
      const parent = calls.at(-1);
      if (layer instanceof Fused) count(layer.head, input);
      else if (!(parent instanceof Fused && parent.head === layer)) count(layer, input);
      calls.push(layer);
      try {
        return forward.call(layer, input, ...rest);
      } finally {
        calls.pop();
      }
    },
    read: (_owner, _name, t) => t,
  }, () => void model.forward(x))));
  return { units, macs };
}

/** One checkout's model and evaluators, and the rates measured in each round. */
interface Side {
  tree: string;
  L: Losscape;
  model: Layer;
  flat: FlatParameters;
  d1: Tensor;
  d2: Tensor;
  set: EvalSet;
  batched: BatchedEvaluator;
  k: number;
  seq: number[];
  bat: number[];
}

const test = mnist('test');
const median = (v: number[]) => stats(v).median;
const digits = (rate: number) => (rate < 1 ? rate.toPrecision(2) : rate.toFixed(2));
const range = (v: number[]) => (v.length > 1 ? ` (${digits(Math.min(...v))}-${digits(Math.max(...v))})` : '');
for (const name of models) {
  for (const samples of sampleCounts) {
    // Rates do not depend on the grid: each evaluator is timed on points of the largest plane (the
    // sequential one on a spread sample, the batched one in whole chunks of its K, after the check
    // below has compiled its pipelines, until the plane is done or `seconds` have passed), and the
    // time for each plane size follows from the rate.
    const coords = linspace(-1, 1, Math.max(...grids));
    const plane = gridPoints(coords, coords);
    const sample = plane.filter((_, i) => i % Math.floor(plane.length / seqPoints) === 0).slice(0, seqPoints);
    const sides: Side[] = [];
    for (const { tree, L } of trees) {
      const model = L.createModel(L.presetConfig(name), 0) as Layer;
      const flat = L.FlatParameters.of(model);
      const [d1, d2] = [L.randomDirection(flat, { seed: 1 }), L.randomDirection(flat, { seed: 2 })];
      const set = L.prepareEvalSet(L.take(test, samples), name === 'mlp' ? 1000 : 250);
      const seq = await L.evaluateSequential(model, flat, d1, d2, sample, set);
      const batched = L.batchedEvaluator(model, flat, d1, d2, set, { chunk });
      (await batched.evaluate(sample)).forEach((r, i) => {
        if (Math.abs(r.loss - seq[i]!.loss) > 1e-5 * Math.abs(seq[i]!.loss)) throw new Error(`${tree}: batched and sequential differ at ${sample[i]}: ${r.loss} vs ${seq[i]!.loss}`);
      });
      sides.push({ tree, L, model, flat, d1, d2, set, batched, k: batched.chunkSize(plane.length), seq: [] as number[], bat: [] as number[] });
    }
    await engine.sync(); // the batched evaluators' dry runs (choosing K) are not timed

    for (let round = 0; round < rounds; round++) {
      for (const side of sides) {
        const t0 = performance.now();
        await side.L.evaluateSequential(side.model, side.flat, side.d1, side.d2, sample, side.set);
        side.seq.push(sample.length / ((performance.now() - t0) / 1e3));
        const t1 = performance.now();
        let done = 0;
        while (done < plane.length && (performance.now() - t1) / 1e3 < seconds) {
          await side.batched.evaluate(plane.slice(done, done + side.k));
          done = Math.min(plane.length, done + side.k);
        }
        side.bat.push(done / ((performance.now() - t1) / 1e3));
      }
    }
    const { units, macs } = trace(sides[0]!.model, sides[0]!.set.batches[0]!.x);
    units.forEach((u) => [u.input, ...u.rest].forEach((t) => t instanceof Tensor && t.dispose()));
    const flopsPerPoint = (2 * macs * samples) / sides[0]!.set.batches[0]!.size;
    for (const g of grids) {
      const points = g * g;
      const row = (ev: string, rates: number[], speedup: string) => {
        const rate = median(rates);
        console.log(
          `${name.padEnd(9)} ${String(samples).padStart(7)}  ${`${g}x${g}`.padEnd(6)} ${ev.padEnd(11)} ${digits(rate).padStart(9)} ${(points / rate).toFixed(1).padStart(9)} ${((rate * flopsPerPoint) / 1e9).toFixed(2).padStart(9)} ${((100 * rate * flopsPerPoint) / 1e9 / ceiling).toFixed(0).padStart(10)}% ${speedup.padStart(9)}${range(rates)}`,
        );
      };
      for (const side of sides) {
        const tree = side.tree === 'this' ? '' : `${side.tree} `;
        row(`${tree}sequential`, side.seq, '1.0x');
        row(`${tree}batched K=${side.k}`, side.bat, `${(median(side.bat) / median(side.seq)).toFixed(1)}x`);
      }
    }
    if (sides.length > 1) {
      const ratio = (f: (s: Side) => number[]) => (median(f(sides[0]!)) / median(f(sides[1]!))).toFixed(2);
      console.log(`${name.padEnd(9)} ${String(samples).padStart(7)}  this / baseline: sequential ${ratio((s) => s.seq)}x, batched ${ratio((s) => s.bat)}x`);
    }
    for (const side of sides) {
      side.batched.dispose();
      side.L.disposeEvalSet(side.set);
    }
  }
}
// Where the time goes: one forward pass over 1,000 samples, layer by layer as the model's forward
// calls them (each timed alone on its traced input, waiting for the GPU; per batch the fastest of
// three runs), as the sequential evaluator runs it for every point; "other" is the rest of the
// forward (the ViT's class token and position embedding).
console.log('\nper-layer forward time, 1,000 samples (the sequential evaluator\'s cost per point)');
const profileSet = prepareEvalSet(take(test, 1000), 250);
for (const name of models) {
  const model = createModel(presetConfig(name), 0).eval() as Layer;
  // per batch, the fastest of three timed runs (after one to warm up) of the forward and of each layer
  const times = new Map<string, number>();
  let total = 0;
  for (const batch of profileSet.batches) {
    const fastest = new Map<string, number>();
    const keepFastest = (label: string, ms: number) => fastest.set(label, Math.min(fastest.get(label) ?? Infinity, ms));
    for (let rep = 0; rep < 4; rep++) {
      const t0 = performance.now();
      noGrad(() => tidy(() => void model.forward(batch.x)));
      await engine.sync();
      if (rep > 0) keepFastest('forward', performance.now() - t0);
      const { units } = trace(model, batch.x);
      await engine.sync(); // the traced pass
      for (const u of units) {
        const t1 = performance.now();
        noGrad(() => tidy(() => void u.layer.forward(u.input, ...(u.rest as []))));
        await engine.sync();
        if (rep > 0) keepFastest(u.label, performance.now() - t1);
        [u.input, ...u.rest].forEach((t) => t instanceof Tensor && t.dispose());
      }
    }
    total += fastest.get('forward')!;
    fastest.delete('forward');
    for (const [label, ms] of fastest) times.set(label, (times.get(label) ?? 0) + ms);
  }
  const other = total - [...times.values()].reduce((a, b) => a + b, 0);
  if (other > 0.02 * total) times.set('other', other);
  console.log(`${name}: ${total.toFixed(0)} ms  ` + [...times].map(([l, t]) => `${l} ${((100 * t) / total).toFixed(0)}%`).join(', '));
}
disposeEvalSet(profileSet);
engine.destroy();
process.exit(0);
