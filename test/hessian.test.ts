// Hessian-vector products over an evaluation set, spectra and traces (src/sharpness/), against the
// float64 reference: H·v of each model kind's loss by central differences of reference gradients,
// and a small MLP's full Hessian eigen-decomposed on the host (Jacobi).
import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import { hostRng, relativeError, SEED } from './helpers.js';
import * as M from './model-ref.js';
import * as A from './ref-autograd.js';
import * as R from './reference.js';

const seedNote = `seed ${SEED} (replay with LOSSCAPE_TEST_SEED=${SEED})`;
const rng = hostRng(SEED ^ 0x4e55);
const uniform = (n: number, lo: number, hi: number) => Float32Array.from({ length: n }, () => lo + (hi - lo) * rng());

interface Fixture {
  model: L.Layer;
  flat: L.FlatParameters;
  set: L.EvalSet;
  /** the loss as a float64 function of the packed parameters */
  loss: (theta: A.V) => A.V;
  theta: R.Ref;
}

/**
 * A model with random parameters (and BatchNorm statistics), n random samples of `sampleShape`
 * in batches of `batchSize` (the last one short), and its reference loss.
 */
async function fixture(config: L.ModelConfig, sampleShape: number[], n: number, batchSize: number, forward: (p: M.Params, x: A.V) => A.V, scale = 0.5): Promise<Fixture> {
  const model = L.createModel(config, 0);
  const flat = L.FlatParameters.of(model);
  const packed = uniform(M.pack(new Float32Array(flat.size), flat).length, -scale, scale);
  L.assign(flat.values, L.fromArray(M.unpackToFlat(packed, flat)));
  for (const [name, t] of model.namedBuffers()) {
    if (name.endsWith('running_mean')) L.assign(t, L.fromArray(uniform(t.size, -0.2, 0.2)));
    if (name.endsWith('running_var')) L.assign(t, L.fromArray(uniform(t.size, 0.5, 1.5)));
  }
  const per = R.size(sampleShape);
  const classes = 3;
  const data: L.Dataset = { name: 'random', sampleShape, inputs: uniform(n * per, -1, 1), labels: Int32Array.from({ length: n }, () => Math.floor(rng() * classes)), classes };
  const set = L.prepareEvalSet(data, batchSize);
  const x = A.leaf(R.ref([n, ...sampleShape], data.inputs));
  const labels = [...data.labels];
  return { model, flat, set, theta: R.ref([packed.length], packed), loss: (theta) => A.crossEntropy(forward(M.unpack(theta, flat), x), labels) };
}

/** The reference H·v at a random v (another v where the reference steps over a kink), and the GPU's. */
async function compareHvp(f: Fixture, what: string): Promise<void> {
  const op = new L.HessianOperator(f.model, f.flat, f.set);
  for (let attempt = 0; ; attempt++) {
    const v = R.ref(f.theta.shape, uniform(f.theta.data.length, -1, 1));
    let expected: Float64Array;
    try {
      expected = A.hvp(f.loss, [f.theta], [v])[0]!;
    } catch (e) {
      if (e instanceof A.KinkError && attempt < 3) continue;
      throw e;
    }
    const vt = L.fromArray(M.unpackToFlat(v.data, f.flat));
    const hv = op.apply(vt);
    const got = M.pack(await hv.data(), f.flat);
    const err = relativeError(got, expected);
    expect(err, `${what}: H·v relative error ${err.toExponential(2)}; ${seedNote}`).toBeLessThan(1e-4);
    expect(op.method).toBe('exact');
    expect(op.note).toBeNull();
    for (const t of [vt, hv]) t.dispose();
    break;
  }
  op.dispose();
}

describe('exact Hessian-vector products of whole models over an evaluation set', () => {
  it('MLP and CNN (ReLU, linear with bias epilogue, conv, max pooling, flatten, cross-entropy)', async () => {
    await compareHvp(await fixture({ kind: 'mlp', sizes: [12, 7, 5, 3] }, [3, 4], 7, 3, (p, x) => M.mlp(p, x, 3)), 'MLP');
    await compareHvp(await fixture({ kind: 'cnn', imageSize: 8, channels: 2, widths: [3, 4], hidden: 6, classes: 3 }, [2, 8, 8], 5, 3, M.cnn), 'CNN');
  });

  it('ResNet (BatchNorm in eval mode, strided projection shortcut, adaptive average pooling)', async () => {
    const config: L.ResNetConfig = { kind: 'resnet', blocks: [1, 1], widths: [3, 4], channels: 1, classes: 3, stem: 'cifar' };
    let stats = new Map<string, Float32Array>();
    const f = await fixture(config, [1, 6, 6], 4, 3, (p, x) => M.resnet(p, x, 2, stats));
    stats = new Map(await Promise.all(f.model.namedBuffers().filter(([n]) => n.includes('running')).map(async ([n, t]) => [n, await t.data()] as [string, Float32Array])));
    await compareHvp(f, 'ResNet');
  });

  it('ViT (layer norm, GELU, fused attention, class token, position embedding)', async () => {
    const config: L.ViTConfig = { kind: 'vit', imageSize: 4, patchSize: 2, channels: 1, width: 8, depth: 1, heads: 2, mlpRatio: 2, classes: 3, eps: 1e-6, dropout: 0 };
    await compareHvp(await fixture(config, [1, 4, 4], 4, 3, (p, x) => M.vit(p, x, config)), 'ViT');
  });
});
