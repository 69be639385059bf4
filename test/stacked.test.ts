// Stacked forms (src/nn/stack.ts): every layer class exported from src/nn run both ways, a user's
// model with a layer of its own, and the errors for layers without a stacked form.
import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import { LayerScale, MlpMixer } from '../examples/mlp-mixer.js';
import { assertClose, rmsScale } from './compare.js';
import { hostRng, SEED } from './helpers.js';

/** the stacked rule against the forward: the same sums in other kernels (batched, grouped) */
const STACKED = { rtol: 1e-5, atol: 0, name: 'stacked against forward' };
const note = `seed ${SEED} (replay with LOSSCAPE_TEST_SEED=${SEED})`;
const rng = hostRng(SEED ^ 0x57ac);
const random = (n: number) => Float32Array.from({ length: n }, () => rng() * 2 - 1);
const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const gen = () => new L.Generator(Math.floor(rng() * 1e6));

/** A layer and the forward shape [B, ...] of its input; stacked, a rank-4 input is an image [B, K·C, H, W], any other dense [K, B, ...]. */
interface Case {
  make: () => L.Layer;
  shape: number[];
  /** BatchNorm with each point's own batch statistics (a recalibration batch) against the forward in training mode */
  stats?: boolean;
}

/** Point k's part of a stacked tensor's values: dense [K, ...] its block, image [B, K·C, ...] its channels, shared all. */
function pointPart(data: Float32Array, shape: readonly number[], layout: L.Layout, k: number, kk: number): Float32Array {
  if (layout === 'shared') return data;
  if (layout === 'dense') {
    const n = data.length / kk;
    return data.subarray(k * n, (k + 1) * n);
  }
  const [b, kc] = shape as [number, number];
  const plane = numel(shape.slice(2));
  const c = kc / kk;
  const out = new Float32Array(b * c * plane);
  for (let i = 0; i < b; i++) out.set(data.subarray((i * kc + k * c) * plane, (i * kc + (k + 1) * c) * plane), i * c * plane);
  return out;
}

/**
 * Runs the layer stacked for K points (each point's parameters drawn around the layer's own) on a
 * shared or a stacked input, and checks each point's part of the output against the layer's
 * forward with that point's parameters on that point's input.
 */
async function expectStackedMatchesForward(c: Case, input: 'shared' | 'stacked', what: string) {
  const kk = 3;
  const layer = c.make().eval();
  for (const [name, t] of layer.namedBuffers()) {
    if (name.endsWith('running_mean')) L.assign(t, L.fromArray(random(t.size)));
    if (name.endsWith('running_var')) L.assign(t, L.fromArray(Float32Array.from({ length: t.size }, () => 0.5 + rng())));
  }
  const params = layer.parameters();
  const values = new Map<L.Tensor, Float32Array>();
  for (const p of params) {
    const own = (await p.toArray()) as Float32Array;
    values.set(p, Float32Array.from({ length: kk * p.size }, (_, i) => own[i % p.size]! * (1 + 0.5 * (rng() * 2 - 1)) + 0.1 * (rng() * 2 - 1)));
  }
  const stackedParams = new Map(params.map((p) => [p, L.fromArray(values.get(p)!, [kk, ...p.shape])]));
  const [b, ch, ...rest] = c.shape as [number, number, ...number[]];
  const inLayout: L.Layout = input === 'shared' ? 'shared' : c.shape.length === 4 ? 'image' : 'dense';
  const xShape = inLayout === 'shared' ? c.shape : inLayout === 'image' ? [b, kk * ch, ...rest] : [kk, ...c.shape];
  const xData = random(numel(xShape));
  const x = L.fromArray(xData, xShape);
  const stats = c.stats ? new L.PointStats(kk) : null;
  if (stats) stats.momentum = 1;
  const paths = new Map<L.Module, string>(layer.namedModules().map(([path, m]) => [m, path]));
  const s = new L.Stack({ k: kk, param: (p) => stackedParams.get(p) ?? L.broadcastTo(L.reshape(p, [1, ...p.shape]), [kk, ...p.shape]), stats, paths });
  const y = L.noGrad(() => L.runStacked(layer, x, s, inLayout));
  const outLayout = s.layout(y);
  const yData = (await y.toArray()) as Float32Array;
  if (c.stats) layer.train();
  for (let k = 0; k < kk; k++) {
    for (const p of params) L.assign(p, L.fromArray(values.get(p)!.subarray(k * p.size, (k + 1) * p.size), p.shape));
    const want = await L.noGrad(() => layer.forward(L.fromArray(pointPart(xData, xShape, inLayout, k, kk), c.shape))).toArray();
    const got = pointPart(yData, y.shape, outLayout, k, kk);
    expect(got.length, `${what}: point ${k}'s output (${outLayout} [${y.shape}]); ${note}`).toBe(want.length);
    // each element within 1e-5 of its own size plus the output's RMS (independent of src/)
    assertClose(got, want, STACKED, `${what}: point ${k}'s output`, { scale: rmsScale(want) });
  }
  stats?.dispose();
}

const vitConfig = { ...L.VIT_DEFAULTS, imageSize: 8, patchSize: 4, width: 8, depth: 1, heads: 2, mlpRatio: 2, classes: 3 };
const resnet = (stem: 'cifar' | 'imagenet'): L.ResNetConfig => ({ kind: 'resnet', blocks: [1, 1], widths: [4, 6], channels: 1, classes: 3, stem });

/** Every Layer class exported from src/nn, by name; each case runs on a shared and on a stacked input. */
const cases: Record<string, Case[]> = {
  Linear: [{ make: () => new L.Linear(7, 5, gen()), shape: [3, 7] }, { make: () => new L.Linear(6, 4, gen()), shape: [2, 3, 6] }],
  Conv2d: [
    { make: () => new L.Conv2d(2, 3, 3, gen(), { padding: 1 }), shape: [2, 2, 5, 5] },
    { make: () => new L.Conv2d(4, 6, 3, gen(), { stride: 2, groups: 2, bias: false }), shape: [2, 4, 7, 7] },
  ],
  LayerNorm: [{ make: () => new L.LayerNorm(6), shape: [2, 3, 6] }],
  BatchNorm2d: [{ make: () => new L.BatchNorm2d(3), shape: [4, 3, 5, 5] }, { make: () => new L.BatchNorm2d(3), shape: [4, 3, 5, 5], stats: true }],
  ReLU: [{ make: () => new L.ReLU(), shape: [2, 3, 5] }, { make: () => new L.ReLU(), shape: [2, 3, 4, 4] }],
  GELU: [{ make: () => new L.GELU('tanh'), shape: [2, 5] }],
  Flatten: [{ make: () => new L.Flatten(), shape: [2, 3, 4, 4] }, { make: () => new L.Flatten(), shape: [2, 3, 4] }],
  MaxPool2d: [{ make: () => new L.MaxPool2d(3, 2, 1), shape: [2, 3, 7, 7] }],
  AdaptiveAvgPool2d: [{ make: () => new L.AdaptiveAvgPool2d(2), shape: [2, 3, 5, 5] }],
  Dropout: [{ make: () => new L.Dropout(0.5, gen()), shape: [2, 6] }],
  Mlp: [{ make: () => new L.Mlp(6, 10, gen()), shape: [2, 3, 6] }],
  MultiheadAttention: [{ make: () => new L.MultiheadAttention(8, 2, gen()), shape: [2, 5, 8] }],
  Sequential: [{ make: () => new L.Sequential(new L.Conv2d(1, 3, 3, gen(), { padding: 1 }), new L.ReLU(), new L.MaxPool2d(2), new L.Flatten(), new L.Linear(48, 4, gen())), shape: [2, 1, 8, 8] }],
  Fused: [
    { make: () => new L.Fused(new L.Conv2d(2, 3, 3, gen(), { padding: 1 }), null, true, new L.MaxPool2d(2)), shape: [2, 2, 6, 6] },
    { make: () => new L.Fused(new L.Conv2d(2, 3, 3, gen(), { padding: 1 }), new L.BatchNorm2d(3), true, new L.MaxPool2d(3, 2, 1)), shape: [2, 2, 7, 7] },
    { make: () => new L.Fused(new L.Linear(7, 5, gen()), null, true, null), shape: [3, 7] },
  ],
  PatchEmbed: [{ make: () => new L.PatchEmbed({ channels: 2, width: 6, patchSize: 3 }, gen()), shape: [2, 2, 6, 6] }],
  MLP: [{ make: () => new L.MLP({ kind: 'mlp', sizes: [12, 8, 3] }, 1), shape: [3, 12] }],
  CNN: [{ make: () => new L.CNN({ kind: 'cnn', imageSize: 8, channels: 1, widths: [3, 4], hidden: 6, classes: 3 }, 2), shape: [2, 1, 8, 8] }],
  ViT: [{ make: () => new L.ViT(vitConfig, 3), shape: [2, 1, 8, 8] }],
  ResNet: [{ make: () => new L.ResNet(resnet('cifar'), 4), shape: [2, 1, 8, 8] }, { make: () => new L.ResNet(resnet('imagenet'), 5), shape: [2, 1, 16, 16] }],
};

describe('stacked forms', () => {
  it('every layer class exported from src/nn has a case here', () => {
    const layers = Object.entries(L).filter(([, v]) => typeof v === 'function' && v.prototype instanceof L.Layer).map(([name]) => name);
    expect(layers.filter((name) => !(name in cases))).toEqual([]);
  });

  for (const [name, list] of Object.entries(cases)) {
    it(`${name}: the stacked result for point k is the forward with point k's parameters`, async () => {
      for (const [i, c] of list.entries()) {
        for (const input of ['shared', 'stacked'] as const) await expectStackedMatchesForward(c, input, `${name} case ${i} on a ${input} input`);
      }
    });
  }

  it("a user's layer with its own rule (LayerScale, examples/mlp-mixer.ts), one that only reads a buffer, and the user's model", async () => {
    await expectStackedMatchesForward({ make: () => new LayerScale(6, 0.5), shape: [2, 3, 6] }, 'stacked', 'LayerScale');
    /** A fixed offset per channel: a buffer is the same at every point, so the forward serves as it is. */
    class Offset extends L.Layer {
      constructor(n: number) {
        super();
        this.buffer('offset', L.fromArray(random(n)));
      }
      forward(x: L.Tensor): L.Tensor {
        return L.add(x, this.own('offset'));
      }
    }
    await expectStackedMatchesForward({ make: () => new Offset(6), shape: [2, 3, 6] }, 'stacked', 'Offset');
    const mixer = () => new MlpMixer({ imageSize: 8, patchSize: 2, channels: 1, width: 6, depth: 2, tokenHidden: 5, channelHidden: 8, classes: 3 }, 6);
    await expectStackedMatchesForward({ make: mixer, shape: [2, 1, 8, 8] }, 'shared', 'MlpMixer');
  });
});

/** n random 8x8 images of `classes` classes with `channels` channels. */
const images = (n: number, classes: number, channels = 1): L.Dataset => ({
  name: 'images', sampleShape: [channels, 8, 8], classes,
  inputs: random(n * channels * 64),
  labels: Int32Array.from({ length: n }, (_, i) => i % classes),
});

const grid = (n: number, lo: number, hi: number) => {
  const c = Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
  return c.flatMap((y) => c.map((x): [number, number] => [x, y]));
};

/** Both evaluators on a 3x3 plane, the batched one with its first layer shared and per point: every point within 1e-5 relative. */
async function expectAgree(model: L.Layer, data: L.Dataset, what: string) {
  const flat = L.FlatParameters.of(model);
  const d1 = L.randomDirection(flat, { seed: 41, oneD: 'keep' });
  const d2 = L.randomDirection(flat, { seed: 42, oneD: 'keep' });
  const set = L.prepareEvalSet(data, 8);
  const points = grid(3, -0.5, 0.5);
  const seq = await L.evaluateSequential(model, flat, d1, d2, points, set);
  for (const opts of [{ shareFirstLayer: true, chunk: 4 }, { shareFirstLayer: false, chunk: 4 }, {}]) {
    const bat = await L.evaluateBatched(model, flat, d1, d2, points, set, opts);
    points.forEach((p, i) => {
      expect(Math.abs(bat[i]!.loss - seq[i]!.loss) / seq[i]!.loss, `${what} at ${p}, ${JSON.stringify(opts)}; ${note}`).toBeLessThan(1e-5);
      expect(Math.abs(bat[i]!.accuracy - seq[i]!.accuracy) * L.size(data), `${what} at ${p}`).toBeLessThanOrEqual(1);
    });
  }
  L.disposeEvalSet(set);
}

/** A layer with a parameter and no stacked rule. */
class Gate extends L.Layer {
  constructor(n: number) {
    super();
    this.param('weight', L.ones([n]));
  }
  forward(x: L.Tensor): L.Tensor {
    return L.mul(x, this.own('weight'));
  }
}

/** A Linear whose forward does something else than the rule it inherits. */
class Shifted extends L.Linear {
  override forward(x: L.Tensor): L.Tensor {
    return L.add(super.forward(x), 1);
  }
}

describe('batched evaluation of any model', () => {
  it("a user's model (an MLP-Mixer with its own LayerScale, defined in examples/): batched and sequential agree on every point", async () => {
    const model = new MlpMixer({ imageSize: 8, patchSize: 2, channels: 1, width: 8, depth: 2, tokenHidden: 6, channelHidden: 12, classes: 3 }, SEED % 1000);
    await expectAgree(model, images(19, 3), 'MLP-Mixer');
  });

  it('a grouped first convolution, its products shared or run per point', async () => {
    const g = new L.Generator(7);
    const model = new L.Sequential(new L.Conv2d(4, 6, 3, g, { padding: 1, groups: 2 }), new L.ReLU(), new L.MaxPool2d(2), new L.Flatten(), new L.Linear(96, 3, g));
    await expectAgree(model, images(13, 3, 4), 'grouped conv');
  });

  it('names the layer without a stacked form by its path; auto falls back to the sequential evaluator with a warning, batched refuses', async () => {
    const g = new L.Generator(1);
    const set = L.prepareEvalSet(images(4, 3), 4);
    const gated = new L.Sequential(new L.Flatten(), new L.Sequential(new L.Linear(64, 8, g), new Gate(8)), new L.Linear(8, 3, g));
    const flat = L.FlatParameters.of(gated);
    const d = L.randomDirection(flat, { seed: 1 });
    const make = () => L.batchedEvaluator(gated, flat, d, null, set);
    expect(make).toThrow(L.NoStackedFormError);
    expect(make).toThrow(/layer 1\.1 \(Gate\) has no stacked form: its forward reads weight/);
    const auto = L.batchedOrFallback('auto', make);
    expect(auto.evaluator).toBeNull();
    expect(auto.warnings.join()).toMatch(/evaluator auto: layer 1\.1 \(Gate\) has no stacked form.*sequential evaluator/);
    expect(() => L.batchedOrFallback('batched', make)).toThrow(/layer 1\.1 \(Gate\)/);
    // other errors are not a reason to fall back
    expect(() => L.batchedOrFallback('auto', () => { throw new Error('out of memory'); })).toThrow(/out of memory/);

    const shifted = new L.Sequential(new L.Flatten(), new Shifted(64, 3, g));
    const flat2 = L.FlatParameters.of(shifted);
    expect(() => L.batchedEvaluator(shifted, flat2, L.randomDirection(flat2, { seed: 2 }), null, set)).toThrow(/layer 1 \(Shifted\) has no stacked form: its class overrides forward below the stacked rule it inherits/);
  });

  it('chooses K from a measured dry run, within the memory budget', async () => {
    const model = new L.CNN({ kind: 'cnn', imageSize: 8, channels: 1, widths: [3, 4], hidden: 6, classes: 3 }, 2);
    const flat = L.FlatParameters.of(model);
    const d1 = L.randomDirection(flat, { seed: 1 });
    const set = L.prepareEvalSet(images(40, 3), 20);
    const engine = L.getEngine();
    const peak = async (opts: L.BatchedOptions, points: Array<[number, number]>) => {
      const evaluator = L.batchedEvaluator(model, flat, d1, null, set, opts);
      const k = evaluator.chunkSize(points.length);
      const before = engine.stats.bytesLive;
      engine.pool.resetPeak();
      await evaluator.evaluate(points);
      evaluator.dispose();
      return { k, bytes: engine.stats.peakBytesLive - before };
    };
    const points = Array.from({ length: 40 }, (_, i): [number, number] => [i / 40, 0]);
    const one = await peak({ chunk: 1 }, points.slice(0, 1));
    const budgetBytes = 5 * one.bytes;
    const measured = await peak({ budgetBytes }, points);
    expect(measured.k, note).toBeGreaterThanOrEqual(2);
    expect(measured.bytes, `K = ${measured.k}; ${note}`).toBeLessThanOrEqual(budgetBytes);
  });
});
