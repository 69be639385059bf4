// Hessian-vector product benchmark: exact products (double backward) per second over an evaluation
// set, against gradients per second (one forward/backward pass over the same set), for the MNIST
// CNN and the ViT presets. Before timing, each model's products are checked for symmetry,
// vᵀ(Hw) = wᵀ(Hv). Timings alternate between the two measurements in each repeat; medians with
// min–max. Prints the CPU model, the adapter and the commit.
// Usage: npx tsx bench/hessian.ts [--models cnn,vit-tiny] [--samples 1000] [--batch-size 250] [--repeats 5]
import { execSync } from 'node:child_process';
import { cpus } from 'node:os';
import { createModel, disposeEvalSet, FlatParameters, HessianOperator, init, lossAndGradient, mul, noGrad, prepareEvalSet, presetConfig, randomVector, sum, take, Generator, type Layer, type Tensor } from '../src/index.js';
import { mnist } from '../src/node/index.js';
import { arg, describe } from './harness.js';

const models = arg('models', 'cnn,vit-tiny').split(',');
const samples = Number(arg('samples', '1000'));
const batchSize = Number(arg('batch-size', '250'));
const repeats = Number(arg('repeats', '5'));

const engine = await init();
const commit = execSync('git rev-parse --short HEAD').toString().trim();
console.log(`CPU: ${cpus()[0]?.model} (${cpus().length} threads); adapter: ${describe(engine)}; commit ${commit}`);
console.log(`${samples} MNIST test samples in batches of ${batchSize}; ${repeats} alternating repeats, median (min–max)\n`);
console.log('model      parameters   H·v per s              gradients per s        H·v / gradient time');

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s.at(-1)! };
};
const rate = (seconds: number[]) => {
  const r = stats(seconds.map((t) => 1 / t));
  return `${r.median.toFixed(3)} (${r.min.toFixed(3)}–${r.max.toFixed(3)})`;
};

const set = prepareEvalSet(take(mnist('test'), samples), batchSize);
for (const name of models) {
  const model = createModel(presetConfig(name), 0) as Layer;
  const flat = FlatParameters.of(model);
  const op = new HessianOperator(model, flat, set, { method: 'exact' });
  const g = new Generator(1);
  const [v, w] = [randomVector(op.mask, g, 'gaussian'), randomVector(op.mask, g, 'gaussian')];
  // check: the products are symmetric
  const [hv, hw] = [op.apply(v), op.apply(w)];
  const dot = async (a: Tensor, b: Tensor) => {
    const t = noGrad(() => sum(mul(a, b)));
    const x = await t.item();
    t.dispose();
    return x;
  };
  const [whv, vhw] = [await dot(w, hv), await dot(v, hw)];
  if (!(Math.abs(whv - vhw) <= 1e-3 * Math.max(Math.abs(whv), Math.abs(vhw)))) throw new Error(`${name}: wᵀHv = ${whv} but vᵀHw = ${vhw}`);
  hv.dispose();
  hw.dispose();
  const timeOf = async (work: () => Tensor[]) => {
    const t0 = performance.now();
    const out = work();
    await engine.sync();
    const seconds = (performance.now() - t0) / 1e3;
    out.forEach((t) => t.dispose());
    return seconds;
  };
  const hvpTimes: number[] = [];
  const gradTimes: number[] = [];
  for (let r = 0; r < repeats; r++) {
    hvpTimes.push(await timeOf(() => [op.apply(v)]));
    gradTimes.push(await timeOf(() => Object.values(lossAndGradient(model, flat, set, op.group))));
  }
  const ratio = stats(hvpTimes).median / stats(gradTimes).median;
  console.log(`${name.padEnd(10)} ${String(op.dimension).padStart(10)}   ${rate(hvpTimes).padEnd(22)} ${rate(gradTimes).padEnd(22)} ${ratio.toFixed(2)}x`);
  for (const t of [v, w]) t.dispose();
  op.dispose();
}
disposeEvalSet(set);
