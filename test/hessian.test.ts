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

describe('spectra and traces against the exact Hessian of a small MLP', () => {
  it('top eigenvalues within 1%, residuals small; Hutchinson trace within three standard errors; SLQ nodes', async () => {
    const f = await fixture({ kind: 'mlp', sizes: [5, 4, 3] }, [5], 8, 8, (p, x) => M.mlp(p, x, 2), 1);
    const n = f.theta.data.length;
    const exact = L.jacobiEigen(A.hessian(f.loss, f.theta), n).values.sort((a, b) => b - a);
    const op = new L.HessianOperator(f.model, f.flat, f.set);
    expect(op.dimension).toBe(n);

    const top = await L.topEigen(op, { k: 3, seed: SEED });
    top.values.forEach((v, i) => expect(Math.abs(v - exact[i]!), `λ${i + 1} = ${v} vs exact ${exact[i]}; ${seedNote}`).toBeLessThanOrEqual(0.01 * Math.abs(exact[i]!)));
    expect(top.converged).toEqual([true, true, true]);
    top.residuals.forEach((r) => expect(r).toBeLessThanOrEqual(1e-3 * top.scale));
    // the eigenvectors are unit vectors, orthogonal, zero on the padding of the flat layout
    const vs = await Promise.all(top.vectors.map((t) => t.data()));
    const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
    expect(Math.abs(dot(vs[0]!, vs[0]!) - 1)).toBeLessThan(1e-4);
    expect(Math.abs(dot(vs[0]!, vs[1]!))).toBeLessThan(1e-4);
    expect(M.pack(vs[0]!, f.flat).reduce((s, x) => s + x * x, 0)).toBeCloseTo(1, 4);
    top.vectors.forEach((t) => t.dispose());

    const exactTrace = exact.reduce((a, b) => a + b, 0);
    const tr = await L.hutchinsonTrace(op, { samples: 30, seed: SEED, groups: L.parameterGroups(f.flat, 'module') });
    expect(Math.abs(tr.trace - exactTrace), `trace ${tr.trace} ± ${tr.stderr} vs exact ${exactTrace}; ${seedNote}`).toBeLessThanOrEqual(3 * tr.stderr);
    // the modules' block traces add up to the whole (the same products)
    expect(tr.groups.map((g) => g.name)).toEqual(['layers.1', 'layers.3']);
    expect(tr.groups.reduce((s, g) => s + g.trace, 0)).toBeCloseTo(tr.trace, 4);

    // with as many steps as parameters, the quadrature nodes are the eigenvalues and the weights sum to 1
    const density = await L.spectralDensity(op, { steps: n, bins: 200, seed: SEED });
    const nodes = density.runs[0]!.nodes;
    expect(Math.max(...nodes.map((v, i) => Math.abs(v - exact[i]!)))).toBeLessThanOrEqual(1e-3 * Math.abs(exact[0]!));
    expect(density.runs[0]!.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    const step = density.grid[1]! - density.grid[0]!;
    expect(density.density.reduce((a, b) => a + b, 0) * step).toBeCloseTo(1, 6);
    op.dispose();
  });

  it('a restricted group: the eigenvalues of the diagonal block of its parameters', async () => {
    const f = await fixture({ kind: 'mlp', sizes: [5, 4, 3] }, [5], 8, 8, (p, x) => M.mlp(p, x, 2), 1);
    const n = f.theta.data.length;
    const h = A.hessian(f.loss, f.theta);
    // the last layer's parameters come last in the packed order: 4·3 weights and 3 biases
    const block = 15;
    const sub = Array.from({ length: block * block }, (_, e) => h[(n - block + Math.floor(e / block)) * n + n - block + (e % block)]!);
    const exact = L.jacobiEigen(sub, block).values.sort((a, b) => b - a);
    const op = new L.HessianOperator(f.model, f.flat, f.set, { group: L.selectParameters(f.flat, /^layers\.3\./) });
    expect(op.dimension).toBe(block);
    const top = await L.topEigen(op, { k: 2, seed: SEED });
    top.values.forEach((v, i) => expect(Math.abs(v - exact[i]!), `block λ${i + 1}; ${seedNote}`).toBeLessThanOrEqual(0.01 * Math.abs(exact[i]!)));
    top.vectors.forEach((t) => t.dispose());
    op.dispose();
  });
});
