// Landscape benchmark: points per second of the batched and the sequential evaluator on MNIST
// models, at 21x21 and 51x51 planes with 1,000 and 10,000 evaluation samples, with the effective
// GFLOP/s against the adapter's FMA ceiling measured in the same run. The sequential evaluator is
// timed on a sample of the plane's points, the batched one for up to --seconds (rates do not depend
// on which points); results of the two are compared on the sample before anything is reported.
// Usage: npx tsx bench/landscape.ts [--models mlp,cnn,vit-tiny,resnet8] [--samples 1000,10000] [--grids 21,51] [--seq-points 3] [--seconds 20]
import { adaptiveAvgPool2d, add, forwardLayers, batchedEvaluator, relu, ResNet, broadcastTo, CNN, concat, createModel, disposeEvalSet, evaluateSequential, MLP, noGrad, reshape, slice, ViT, type Tensor, FlatParameters, gridPoints, init, linspace, prepareEvalSet, presetConfig, randomDirection, take, type Layer } from '../src/index.js';
import { mnist } from '../src/node/index.js';
import { arg, describe, fmaCeiling } from './harness.js';

const sampleCounts = arg('samples', '1000,10000').split(',').map(Number);
const grids = arg('grids', '21,51').split(',').map(Number);
const seqPoints = Number(arg('seq-points', '3'));
const seconds = Number(arg('seconds', '20'));
const models = arg('models', 'mlp,cnn,vit-tiny,resnet8').split(',');

const engine = await init();
console.log(`adapter: ${describe(engine)}`);
const ceiling = await fmaCeiling(engine);
console.log(`FMA ceiling: ${ceiling.toFixed(1)} GFLOP/s\n`);
console.log('model     samples  grid   evaluator    points/s   s/plane   GFLOP/s  of ceiling  speed-up');

/** Forward multiply-adds per sample (x2 = FLOPs), from the parameter count of dense layers and conv taps. */
function forwardFlops(name: string): number {
  switch (name) {
    case 'mlp': return 2 * (784 * 128 + 128 * 10);
    case 'cnn': return 2 * (28 * 28 * 8 * 9 + 14 * 14 * 16 * 8 * 9 + 784 * 64 + 64 * 10);
    case 'vit-tiny': return 2 * (16 * 64 * 49 + 4 * (17 * 64 * 192 + 2 * 17 * 17 * 64 + 17 * 64 * 64 + 2 * 17 * 64 * 128) + 64 * 10);
    // stem 1->16 at 28x28; stages of one block: 16ch at 28x28, 32ch at 14x14 and 64ch at 7x7 (each a
    // strided conv, a conv and a 1x1 shortcut); fc
    case 'resnet8': return 2 * (784 * 16 * 9 + 2 * 784 * 16 * 16 * 9 + 196 * 32 * (16 * 9 + 32 * 9 + 16) + 49 * 64 * (32 * 9 + 64 * 9 + 32) + 64 * 10);
    default: return NaN;
  }
}

const test = mnist('test');
for (const name of models) {
  const model = createModel(presetConfig(name), 0) as Layer;
  const flat = FlatParameters.of(model);
  const d1 = randomDirection(flat, { seed: 1 });
  const d2 = randomDirection(flat, { seed: 2 });
  for (const samples of sampleCounts) {
    const set = prepareEvalSet(take(test, samples), name === 'mlp' ? 1000 : 250);
    // Rates do not depend on the grid: each evaluator is timed on points of the largest plane (the
    // sequential one on a spread sample, the batched one in whole chunks of its K, after the check
    // below has compiled its pipelines, until the plane is done or `seconds` have passed), and the
    // time for each plane size follows from the rate.
    const coords = linspace(-1, 1, Math.max(...grids));
    const plane = gridPoints(coords, coords);
    const sample = plane.filter((_, i) => i % Math.floor(plane.length / seqPoints) === 0).slice(0, seqPoints);
    const t0 = performance.now();
    const seq = await evaluateSequential(model, flat, d1, d2, sample, set);
    const seqRate = sample.length / ((performance.now() - t0) / 1e3);
    const batched = batchedEvaluator(model, flat, d1, d2, set);
    const check = await batched.evaluate(sample);
    check.forEach((r, i) => {
      if (Math.abs(r.loss - seq[i]!.loss) > 1e-5 * Math.abs(seq[i]!.loss)) throw new Error(`batched and sequential differ at ${sample[i]}: ${r.loss} vs ${seq[i]!.loss}`);
    });
    const t1 = performance.now();
    let done = 0;
    const k = batched.chunkSize(plane.length);
    while (done < plane.length && (performance.now() - t1) / 1e3 < seconds) {
      await batched.evaluate(plane.slice(done, done + k));
      done = Math.min(plane.length, done + k);
    }
    const batRate = done / ((performance.now() - t1) / 1e3);
    batched.dispose();
    const flopsPerPoint = forwardFlops(name) * samples;
    for (const g of grids) {
      const points = g * g;
      const row = (ev: string, rate: number, speedup: string) =>
        console.log(
          `${name.padEnd(9)} ${String(samples).padStart(7)}  ${`${g}x${g}`.padEnd(6)} ${ev.padEnd(11)} ${rate.toFixed(2).padStart(9)} ${(points / rate).toFixed(1).padStart(9)} ${((rate * flopsPerPoint) / 1e9).toFixed(2).padStart(9)} ${((100 * rate * flopsPerPoint) / 1e9 / ceiling).toFixed(0).padStart(10)}% ${speedup.padStart(9)}`,
        );
      row('sequential', seqRate, '1.0x');
      row(`batched K=${k}`, batRate, `${(batRate / seqRate).toFixed(1)}x`);
    }
    disposeEvalSet(set);
  }
}
// Where the time goes: one forward pass over 1,000 samples, layer by layer (waiting for the GPU after
// each), as the sequential evaluator runs it for every point.
console.log('\nper-layer forward time, 1,000 samples (the sequential evaluator\'s cost per point)');
const profileSet = prepareEvalSet(take(test, 1000), 250);
for (const name of models) {
  const model = createModel(presetConfig(name), 0).eval() as Layer;
  const parts = layerParts(model);
  const times = new Map<string, number>();
  for (let rep = 0; rep < 2; rep++) {
    for (const batch of profileSet.batches) {
      let h = batch.x;
      for (const [label, f] of parts) {
        const t0 = performance.now();
        const next = noGrad(() => f(h));
        await engine.sync();
        if (rep === 1) times.set(label, (times.get(label) ?? 0) + performance.now() - t0);
        if (h !== batch.x) h.dispose();
        h = next;
      }
      h.dispose();
    }
  }
  const total = [...times.values()].reduce((a, b) => a + b, 0);
  console.log(`${name}: ${total.toFixed(0)} ms  ` + [...times].map(([l, t]) => `${l} ${((100 * t) / total).toFixed(0)}%`).join(', '));
}
disposeEvalSet(profileSet);
engine.destroy();
process.exit(0);

/** A model's forward as named steps, for profiling. */
function layerParts(model: Layer): Array<[string, (x: Tensor) => Tensor]> {
  if (model instanceof MLP) return model.layers.layers.map((l, i) => [`${i}:${l.constructor.name}`, (x) => l.forward(x)]);
  if (model instanceof ResNet) {
    return [
      ['stem', (x) => relu(model.bn1.forward(model.conv1.forward(x)))],
      ...model.stages.flat().map((blk, i): [string, (x: Tensor) => Tensor] => [`block${i}`, (x) => blk.forward(x)]),
      ['pool+fc', (x) => model.fc.forward(reshape(adaptiveAvgPool2d(x, 1), [x.shape[0]!, -1]))],
    ];
  }
  if (model instanceof CNN) {
    // as Sequential runs them under noGrad: each conv-ReLU-pool is one fused kernel
    const [f, c] = [model.features.layers, model.classifier.layers];
    return [
      ['conv1+ReLU+pool', (x) => forwardLayers(f.slice(0, 3), x)],
      ['conv2+ReLU+pool', (x) => forwardLayers(f.slice(3), x)],
      ...c.map((l, i): [string, (x: Tensor) => Tensor] => [`${i}:${l.constructor.name}`, (x) => l.forward(x)]),
    ];
  }
  if (model instanceof ViT) {
    return [
      ['patch_embed', (x) => model.patch_embed.forward(x)],
      ['tokens', (x) => {
        const [b, , w] = x.shape as [number, number, number];
        return add(concat([broadcastTo(model.parameters()[0]!, [b, 1, w]), x], 1), model.parameters()[1]!);
      }],
      ...model.blocks.map((blk, i): [string, (x: Tensor) => Tensor] => [`block${i}`, (x) => blk.forward(x)]),
      ['norm+head', (x) => model.head.forward(reshape(slice(model.norm.forward(x), [0, 0], [x.shape[0]!, 1]), [x.shape[0]!, -1]))],
    ];
  }
  return [['forward', (x) => model.forward(x)]];
}
