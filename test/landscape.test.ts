import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import { combineDense } from '../src/landscape/first-layer.js';
import * as N from '../src/node/index.js';
import { F32 } from './compare.js';
import { expectClose, hostRng, randomPair, SEED } from './helpers.js';

const note = `seed ${SEED} (replay with LOSSCAPE_TEST_SEED=${SEED})`;
const rng = hostRng(SEED ^ 0x1a5);

function grid(n: number, lo = -1, hi = 1): Array<[number, number]> {
  const c = Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
  return c.flatMap((y) => c.map((x): [number, number] => [x, y]));
}

describe('landscape evaluation', () => {
  it('a linear model with MSE: both evaluators give the exact quadratic surface at every point', async () => {
    const [n, din, dout] = [37, 5, 3];
    const inputs = Float32Array.from({ length: n * din }, () => rng() * 2 - 1);
    const targets = Float32Array.from({ length: n * dout }, () => rng() * 2 - 1);
    const data: L.Dataset = { name: 'linear', sampleShape: [din], inputs, labels: new Int32Array(n), classes: dout };
    const model = new L.MLP({ kind: 'mlp', sizes: [din, dout] }, SEED % 1000);
    const flat = L.FlatParameters.of(model);
    const d1 = L.randomDirection(flat, { seed: 1, normalization: 'none', oneD: 'keep' });
    const d2 = L.randomDirection(flat, { seed: 2, normalization: 'none', oneD: 'keep' });
    // host copies, float64
    const [w, b] = await Promise.all(model.parameters().map((p) => p.data()));
    const [d1w, d1b, d2w, d2b] = await Promise.all([...L.parameterViews(flat, d1), ...L.parameterViews(flat, d2)].map(([, v]) => v.data()));
    const exact = (a: number, c: number) => {
      let s = 0;
      for (let i = 0; i < n; i++) {
        for (let o = 0; o < dout; o++) {
          let y = b![o]! + a * d1b![o]! + c * d2b![o]!;
          for (let k = 0; k < din; k++) y += (w![o * din + k]! + a * d1w![o * din + k]! + c * d2w![o * din + k]!) * inputs[i * din + k]!;
          s += (y - targets[i * dout + o]!) ** 2;
        }
      }
      return s / n / dout;
    };
    const points = grid(7, -2, 2);
    const set = L.prepareEvalSet(data, 16, 'mse', targets);
    for (const evaluate of [L.evaluateSequential, L.evaluateBatched]) {
      const got = await evaluate(model, flat, d1, d2, points, set);
      points.forEach(([a, c], i) => {
        const e = exact(a, c);
        expect(Math.abs(got[i]!.loss - e) / e, `${evaluate.name} at (${a}, ${c}); ${note}`).toBeLessThan(1e-5);
      });
    }
    // the flat parameters are restored after the sequential sweep
    expect([...(await model.parameters()[0]!.data())]).toEqual([...w!]);
  });

  // first layer 24 wide: shared, its combination by combine_points
  it('batched and sequential agree on every point of a plane (MLP, cross-entropy), in chunks that do not divide the grid', async () => {
    const data = L.blobs(203, 5, 12, SEED, 2);
    const model = new L.MLP({ kind: 'mlp', sizes: [12, 24, 16, 5] }, 3);
    const flat = L.FlatParameters.of(model);
    const d1 = L.randomDirection(flat, { seed: 11 });
    const d2 = L.randomDirection(flat, { seed: 12 });
    L.orthogonalize(d2, d1);
    const set = L.prepareEvalSet(data, 64);
    const points = grid(5);
    const seq = await L.evaluateSequential(model, flat, d1, d2, points, set);
    for (const shareFirstLayer of [true, false]) {
      const bat = await L.evaluateBatched(model, flat, d1, d2, points, set, { chunk: 7, shareFirstLayer });
      points.forEach((p, i) => {
        expect(Math.abs(bat[i]!.loss - seq[i]!.loss) / seq[i]!.loss, `point ${p}, shared ${shareFirstLayer}; ${note}`).toBeLessThan(1e-5);
        expect(Math.abs(bat[i]!.accuracy - seq[i]!.accuracy) * 203, `point ${p}`).toBeLessThanOrEqual(1);
      });
    }
    // the centre is the model itself
    const centre = await L.evaluate(model, data, 64);
    expect(seq[12]!.loss / centre.loss).toBeCloseTo(1, 5);
    expect(seq[12]!.accuracy).toBe(centre.accuracy);
  });

  /** n random 8x8 one-channel images of `classes` classes. */
  const images = (n: number, classes: number): L.Dataset => ({
    name: 'images', sampleShape: [1, 8, 8], classes,
    inputs: Float32Array.from({ length: n * 64 }, () => rng() * 2 - 1),
    labels: Int32Array.from({ length: n }, (_, i) => i % classes),
  });

  /**
   * Both evaluators on a 3x3 grid, the batched one with its first layer shared and run per point:
   * losses within 1e-5 relative, accuracies within one sample (d₂ null: a line).
   */
  async function expectAgree(model: L.Layer, data: L.Dataset, batchSize: number, d2Opts: Partial<L.DirectionOptions> | null = {}) {
    const flat = L.FlatParameters.of(model);
    const d1 = L.randomDirection(flat, { seed: 21 });
    const d2 = d2Opts && L.randomDirection(flat, { seed: 22, ...d2Opts });
    const set = L.prepareEvalSet(data, batchSize);
    const points = grid(3, -0.5, 0.5);
    const seq = await L.evaluateSequential(model, flat, d1, d2, points, set);
    for (const shareFirstLayer of [true, false]) {
      const bat = await L.evaluateBatched(model, flat, d1, d2, points, set, { chunk: 4, shareFirstLayer });
      points.forEach((p, i) => {
        expect(Math.abs(bat[i]!.loss - seq[i]!.loss) / seq[i]!.loss, `point ${p}, shared ${shareFirstLayer}; ${note}`).toBeLessThan(1e-5);
        expect(Math.abs(bat[i]!.accuracy - seq[i]!.accuracy) * L.size(data), `point ${p}`).toBeLessThanOrEqual(1);
      });
    }
  }

  // a first Linear whose width (7, 3) is not a multiple of 4 takes combine (kernels/landscape.wgsl,
  // component reads) instead of combine_points, with ReLU after it and without, a plane and a line,
  // and K·n not a multiple of 4 (the last vec4 partly padding)
  it('batched and sequential agree on an MLP whose first layer is not 4-wide (the combine kernel, not combine_points)', async () => {
    expect(L.sharesFirstLayer(new L.Linear(64, 7, new L.Generator(1)))).toBe(true);
    await expectAgree(new L.MLP({ kind: 'mlp', sizes: [64, 7, 3] }, 5), images(23, 3), 8);
    await expectAgree(new L.MLP({ kind: 'mlp', sizes: [64, 7, 3] }, 6), images(23, 3), 8, null);
    await expectAgree(new L.MLP({ kind: 'mlp', sizes: [64, 3] }, 7), images(13, 3), 5);
  });

  // the first Linear's per-point combination (kernels/landscape.wgsl) against float64:
  // combine_points where F is a multiple of 4, combine (component reads) where it is not; with and
  // without d₂'s product, the bias and the ReLU after it
  for (const [rows, f, k, entry] of [[5, 8, 7, 'combine_points'], [1, 4, 1, 'combine_points'], [3, 7, 5, 'combine'], [2, 6, 3, 'combine']] as const) {
    it(`combineDense, ${rows} rows of F = ${f} at ${k} points, takes ${entry} and matches float64`, async () => {
      const engine = L.getEngine();
      for (const [two, withBias, relu] of [[true, true, true], [false, false, false], [true, false, false], [false, true, true]]) {
        const [[base, baseR], [p1, p1R], [p2, p2R], [alpha, alphaR], [beta, betaR], [bias, biasR]] =
          [[rows, f], [rows, f], [rows, f], [k], [k], [k, f]].map((s) => randomPair(s));
        const profiler = engine.profile()!;
        const y = combineDense(two ? [base!, p1!, p2!] : [base!, p1!], alpha!, beta!, withBias ? bias! : null, k, relu);
        engine.profile(null);
        await engine.sync();
        await profiler.done();
        expect(profiler.events.filter((e) => e.kernel === 'landscape').map((e) => e.entry)).toEqual([entry]); // (and the output's poisoning)
        profiler.destroy();
        const n = rows * f;
        // each output's terms, summed in float64; their magnitudes are the comparison's scale
        const terms = (e: number) => {
          const [pk, i] = [Math.floor(e / n), e % n];
          return [baseR!.data[i]!, alphaR!.data[pk]! * p1R!.data[i]!, two ? betaR!.data[pk]! * p2R!.data[i]! : 0, withBias ? biasR!.data[pk * f + (i % f)]! : 0];
        };
        const sum = (e: number) => terms(e).reduce((a, b) => a + b, 0);
        const expected = Float64Array.from({ length: k * n }, (_, e) => (relu ? Math.max(sum(e), 0) : sum(e)));
        const scale = Float64Array.from({ length: k * n }, (_, e) => terms(e).reduce((a, b) => a + Math.abs(b), 0));
        await expectClose(y, { shape: [k, n], data: expected }, F32.accumulate, `combineDense two=${two} bias=${withBias} relu=${relu}`, scale);
        [base, p1, p2, alpha, beta, bias, y].forEach((t) => t!.dispose());
      }
    });
  }

  it('shares the first layer by default where each output sums at least SHARE_MIN products', () => {
    const g = new L.Generator(1);
    expect(L.sharesFirstLayer(new L.Linear(784, 128, g))).toBe(true);
    expect(L.sharesFirstLayer(new L.Conv2d(1, 8, 3, g))).toBe(false); // 9 products
    expect(L.sharesFirstLayer(new L.Conv2d(1, 64, 7, g, { stride: 7 }))).toBe(true); // a patch embedding: 49
    expect(L.sharesFirstLayer(new L.Conv2d(4, 8, 3, g, { groups: 2 }))).toBe(false); // grouped: 2 input channels x 9 taps
    expect(L.sharesFirstLayer(new L.Conv2d(8, 8, 3, g, { groups: 2 }))).toBe(true); // 4 x 9
  });

  it('batched and sequential agree on a CNN (first conv fused with ReLU and pool; grouped convolutions), on a plane and a line', async () => {
    const cnn = () => new L.CNN({ kind: 'cnn', imageSize: 8, channels: 1, widths: [3, 4], hidden: 6, classes: 3 }, 2);
    await expectAgree(cnn(), images(41, 3), 16);
    await expectAgree(cnn(), images(23, 3), 8, null);
  });

  /** Random running statistics, so that eval-mode BatchNorm is not the identity. */
  async function randomizeStats(model: L.Layer) {
    for (const [name, t] of model.namedBuffers()) {
      if (name.endsWith('running_mean')) L.assign(t, L.fromArray(Float32Array.from({ length: t.size }, () => rng() - 0.5)));
      if (name.endsWith('running_var')) L.assign(t, L.fromArray(Float32Array.from({ length: t.size }, () => 0.5 + rng())));
    }
  }

  for (const stem of ['cifar', 'imagenet'] as const) {
    it(`batched and sequential agree on a ResNet (${stem} stem; eval-mode BatchNorm folded into the shared first conv, or per point)`, async () => {
      const net = new L.ResNet({ kind: 'resnet', blocks: [1, 1], widths: [4, 6], channels: 1, classes: 3, stem }, 3);
      await randomizeStats(net);
      await expectAgree(net, images(29, 3), 16, { oneD: 'keep' }); // d₂ moves the BatchNorm weights and biases too
    });
  }

  it('batched and sequential agree on a ViT (stacked blocks, attention over points x batch x heads)', async () => {
    const vit = new L.ViT({ ...L.VIT_DEFAULTS, imageSize: 8, patchSize: 4, width: 16, depth: 2, heads: 2, classes: 4 }, 4);
    await expectAgree(vit, images(19, 4), 8, { oneD: 'keep' }); // d₂ moves the norms' and biases' parameters too
  });

  it("BatchNorm 'recalibrate' re-estimates running statistics per point and leaves the model as it was", async () => {
    const model = L.createModel(L.presetConfig('resnet8'), 1);
    const flat = L.FlatParameters.of(model);
    const d = L.randomDirection(flat, { seed: 5 });
    const data = L.take(N.mnist('test'), 48);
    const set = L.prepareEvalSet(data, 16);
    const before = await Promise.all(model.stateDict().map(([, t]) => t.toArray()));
    const [plain] = await L.evaluateSequential(model, flat, d, null, [[0, 0]], set);
    const [again] = await L.evaluateSequential(model, flat, d, null, [[0, 0]], set, { batchNorm: 'eval' });
    expect(again!.loss).toBe(plain!.loss);
    // with fresh statistics from the evaluation batches themselves, at the origin
    const [recal] = await L.evaluateSequential(model, flat, d, null, [[0, 0]], set, { batchNorm: 'recalibrate', calibration: set });
    expect(recal!.loss).not.toBe(plain!.loss); // the untrained model's running statistics are the defaults
    const restored = await Promise.all(model.stateDict().map(([, t]) => t.toArray()));
    restored.forEach((v, i) => expect([...v], model.stateDict()[i]![0]).toEqual([...before[i]!]));
    // the reference: recalibrate by hand (reset, cumulative average over the batches), then evaluate
    const norms = model.namedModules().map(([, m]) => m).filter((m): m is L.BatchNorm2d => m instanceof L.BatchNorm2d);
    norms.forEach((bn) => bn.resetRunningStats());
    model.train();
    set.batches.forEach((b, i) => { norms.forEach((bn) => (bn.momentum = 1 / (i + 1))); L.tidy(() => L.noGrad(() => void model.forward(b.x))); });
    norms.forEach((bn) => (bn.momentum = 0.1));
    const byHand = await L.evaluate(model, data, 16);
    expect(recal!.loss / byHand.loss, note).toBeCloseTo(1, 5);
    await expect(L.evaluateSequential(model, flat, d, null, [[0, 0]], set, { batchNorm: 'recalibrate' })).rejects.toThrow(/needs calibration batches/);
    await expect(L.evaluateBatched(model, flat, d, null, [[0, 0]], set, { batchNorm: 'recalibrate' })).rejects.toThrow(/needs calibration batches/);
  });

  for (const stem of ['cifar', 'imagenet'] as const) {
    it(`batched BatchNorm 'recalibrate' (per-point statistics over K·C channels) agrees with the sequential one (${stem} stem)`, async () => {
      const net = new L.ResNet({ kind: 'resnet', blocks: [1, 1], widths: [4, 6], channels: 1, classes: 3, stem }, 3);
      await randomizeStats(net);
      const flat = L.FlatParameters.of(net);
      const d1 = L.randomDirection(flat, { seed: 31 });
      const d2 = L.randomDirection(flat, { seed: 32, oneD: 'keep' });
      const set = L.prepareEvalSet(images(21, 3), 8);
      const calibration = L.prepareEvalSet(images(27, 3), 10); // a partial last batch
      const points = grid(3, -0.5, 0.5);
      const opts = { batchNorm: 'recalibrate' as const, calibration };
      const seq = await L.evaluateSequential(net, flat, d1, d2, points, set, opts);
      const bat = await L.evaluateBatched(net, flat, d1, d2, points, set, { ...opts, chunk: 4 });
      const evalMode = await L.evaluateBatched(net, flat, d1, d2, points, set, { chunk: 4 });
      points.forEach((p, i) => {
        expect(Math.abs(bat[i]!.loss - seq[i]!.loss) / seq[i]!.loss, `point ${p}; ${note}`).toBeLessThan(1e-5);
        expect(bat[i]!.loss, `point ${p}: recalibrated differs from eval mode`).not.toBeCloseTo(evalMode[i]!.loss, 4);
      });
    });
  }

  it('takes a custom metric from library users', async () => {
    const data = L.blobs(30, 3, 4, SEED);
    const model = new L.MLP({ kind: 'mlp', sizes: [4, 3] }, 1);
    const flat = L.FlatParameters.of(model);
    const d = L.randomDirection(flat, { seed: 2, oneD: 'keep' });
    // sums of the squared outputs and of the largest output, per point
    const metric: L.MetricSums = (o, _y) => L.concat([L.sum(L.square(o), [1, 2], false).view([o.shape[0]!, 1]), L.sum(L.max(o, 2), 1, true)], 1);
    const set = { ...L.prepareEvalSet(data, 8), metric };
    const [seq] = await L.evaluateSequential(model, flat, d, null, [[0.5, 0]], set);
    const [bat] = await L.evaluateBatched(model, flat, d, null, [[0.5, 0]], set);
    L.assign(flat.values, L.add(flat.values, L.mul(d, 0.5)));
    const out = await L.noGrad(() => model.forward(L.fromArray(data.inputs, [30, 4]))).data();
    let sq = 0;
    let mx = 0;
    for (let i = 0; i < 30; i++) {
      const row = [...out.slice(3 * i, 3 * i + 3)];
      sq += row.reduce((s, v) => s + v * v, 0);
      mx += Math.max(...row);
    }
    expect(seq!.loss / (sq / 30)).toBeCloseTo(1, 5);
    expect(seq!.accuracy / (mx / 30)).toBeCloseTo(1, 5);
    expect(bat!.loss / seq!.loss).toBeCloseTo(1, 5);
  });

  it('refuses a model with a layer that has no stacked form, naming it, pointing to the sequential evaluator', async () => {
    class Scale extends L.Layer {
      constructor() {
        super();
        this.param('scale', L.ones([3]));
      }
      forward(x: L.Tensor): L.Tensor {
        return L.mul(x, this.own('scale'));
      }
    }
    const model = new L.Sequential(new L.Flatten(), new L.Linear(64, 3, new L.Generator(1)), new Scale());
    const flat = L.FlatParameters.of(model);
    const d = L.randomDirection(flat, { seed: 1 });
    const set = L.prepareEvalSet(images(4, 3), 4);
    await expect(L.evaluateBatched(model, flat, d, null, [[0, 0]], set)).rejects.toThrow(/layer 2 \(Scale\) has no stacked form.*or use the sequential evaluator/);
  });
});
