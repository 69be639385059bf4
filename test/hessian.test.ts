// Hessian-vector products over an evaluation set, spectra and traces (src/sharpness/), against the
// float64 reference: H·v of each model kind's loss by central differences of reference gradients,
// and a small MLP's full Hessian eigen-decomposed on the host (Jacobi).
import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import { assertClose, F32, rmsScale } from './compare.js';
import { hostRng, SEED } from './helpers.js';
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
    assertClose(got, expected, F32.secondOrder, `${what}: H·v`, { scale: rmsScale(expected) });
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
    // the two sharpest directions of the block, as landscape directions: unit, orthogonal, zero off the group
    const { d1, d2, eigen } = await L.hessianDirections(op, { seed: SEED });
    eigen.values.forEach((v, i) => expect(Math.abs(v - exact[i]!), `block λ${i + 1}; ${seedNote}`).toBeLessThanOrEqual(0.01 * Math.abs(exact[i]!)));
    const [a, b] = [M.pack(await d1.data(), f.flat), M.pack(await d2.data(), f.flat)];
    const dot = (u: number[], w: number[]) => u.reduce((s, x, i) => s + x * w[i]!, 0);
    expect(dot(a, a)).toBeCloseTo(1, 4);
    expect(dot(b, b)).toBeCloseTo(1, 4);
    expect(Math.abs(dot(a, b))).toBeLessThan(1e-4);
    expect(a.slice(0, n - block).every((x) => x === 0)).toBe(true);
    for (const t of [d1, d2]) t.dispose();
    op.dispose();
  });
});

/** Two-layer perceptron with the given activation, the same weights for the same seed. */
function smallNet(activation: L.Layer): L.Sequential {
  const g = new L.Generator(7);
  return new L.Sequential(new L.Flatten(), new L.Linear(5, 6, g), activation, new L.Linear(6, 3, g));
}

/** tanh whose backward runs kernels that record nothing: right gradients, no second-order rule. */
class OpaqueTanh extends L.Layer {
  forward(x: L.Tensor): L.Tensor {
    const y = L.noGrad(() => L.tanh(x));
    return L.record('opaqueTanh', [x], y, (g, [ys]) => [L.noGrad(() => L.mul(g, L.sub(1, L.square(ys!))))], [y]);
  }
}
class Tanh extends L.Layer {
  forward(x: L.Tensor): L.Tensor {
    return L.tanh(x);
  }
}

function randomSet(n: number, batchSize: number): L.EvalSet {
  return L.prepareEvalSet({ name: 'random', sampleShape: [5], inputs: uniform(5 * n, -2, 2), labels: Int32Array.from({ length: n }, () => Math.floor(rng() * 3)), classes: 3 }, batchSize);
}

describe('the central-difference fallback', () => {
  it('agrees with the exact path, and is chosen automatically (with a note) for an op without a second-order rule', async () => {
    const set = randomSet(16, 8);
    const exactNet = smallNet(new Tanh());
    const exactFlat = L.FlatParameters.of(exactNet);
    const exact = new L.HessianOperator(exactNet, exactFlat, set);
    const forced = new L.HessianOperator(exactNet, exactFlat, set, { method: 'finite-difference' });
    const opaqueNet = smallNet(new OpaqueTanh());
    const auto = new L.HessianOperator(opaqueNet, L.FlatParameters.of(opaqueNet), set);
    const v = L.mul(L.fromArray(uniform(exactFlat.size, -1, 1)), exact.mask);
    const [he, hf, ha] = await Promise.all([exact.apply(v), forced.apply(v), auto.apply(v)].map((t) => t.data()));
    // central differences of f32 gradients: truncation and cancellation error, about 2.4e-5 measured
    const fallback = { rtol: 1e-3, atol: 0, name: 'finite-difference H·v' };
    assertClose(hf!, he!, fallback, 'forced fallback vs exact', { scale: rmsScale(he!) });
    assertClose(ha!, he!, fallback, 'automatic fallback vs exact', { scale: rmsScale(he!) });
    expect([exact.method, forced.method, auto.method]).toEqual(['exact', 'finite-difference', 'finite-difference']);
    expect(exact.note).toBeNull();
    expect(forced.note).toMatch(/as asked/);
    expect(auto.note).toMatch(/central differences of gradients.*opaqueTanh: its backward rule has no second-order rule/);
    // the parameters are restored after the perturbed gradients
    expect([...(await exactFlat.values.data())]).toEqual([...(await L.FlatParameters.of(smallNet(new Tanh())).values.data())]);
    // and asking for the exact path where there is none is an error
    expect(() => new L.HessianOperator(opaqueNet, auto.flat, set, { method: 'exact' }).apply(v)).toThrow(/opaqueTanh/);
  });
});

describe('bad input', () => {
  it('more eigenvalues than parameters, Lanczos that does not converge, an empty evaluation set', async () => {
    const set = randomSet(8, 8);
    const net = smallNet(new Tanh());
    const flat = L.FlatParameters.of(net);
    const op = new L.HessianOperator(net, flat, set, { group: L.selectParameters(flat, /^3\.bias$/) });
    expect(op.dimension).toBe(3);
    await expect(L.topEigen(op, { k: 4 })).rejects.toThrow('top-k: the number of eigenvalues (the group has 3 parameters) must be an integer in [1, 3], got 4');
    expect(() => L.selectParameters(flat, /^nothing/)).toThrow(/no parameter name matches \/\^nothing\//);

    const whole = new L.HessianOperator(net, flat, set);
    const error = await L.topEigen(whole, { k: 2, maxSteps: 2, tol: 1e-6 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(L.ConvergenceError);
    expect((error as Error).message).toMatch(/Lanczos did not converge in 2 steps: λ1 = .* has residual ‖Hv − λv‖ = /);
    expect((error as L.ConvergenceError).result.residuals.length).toBe(2);
    const flagged = await L.topEigen(whole, { k: 2, maxSteps: 2, tol: 1e-6, allowUnconverged: true });
    expect(flagged.converged).toContain(false);
    expect(flagged.residuals.every((r) => r > 0)).toBe(true);
    flagged.vectors.forEach((t) => t.dispose());

    expect(() => new L.HessianOperator(net, flat, { batches: [], samples: 0, loss: 'crossEntropy' })).toThrow('Hessian: the evaluation set is empty');
    await expect(L.hutchinsonTrace(whole, { samples: 1 })).rejects.toThrow(/at least 2/);
  });
});
