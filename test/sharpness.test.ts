// Sharpness metrics on a model with a known quadratic loss (a linear model with MSE has a constant
// Hessian: SAM sharpness and ε-sharpness have closed forms), and basin widths on synthetic surfaces.
import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import { hostRng, SEED } from './helpers.js';
import * as M from './model-ref.js';
import * as A from './ref-autograd.js';
import * as R from './reference.js';

const seedNote = `seed ${SEED} (replay with LOSSCAPE_TEST_SEED=${SEED})`;
const rng = hostRng(SEED ^ 0x5a4d);
const uniform = (n: number, lo: number, hi: number) => Array.from({ length: n }, () => lo + (hi - lo) * rng());

/**
 * A linear model y = Wx + b (3 inputs, 2 outputs) with MSE over `inputs`, its evaluation set, and
 * the float64 loss, gradient and Hessian in the packed parameters [W, b].
 */
function quadratic(inputs: number[][]) {
  const n = inputs.length;
  const model = new L.Linear(3, 2, new L.Generator(SEED % 1000));
  const flat = L.FlatParameters.of(model);
  const targets = uniform(2 * n, -1, 1);
  const set = L.prepareEvalSet({ name: 'quadratic', sampleShape: [3], inputs: Float32Array.from(inputs.flat()), labels: new Int32Array(n), classes: 2 }, 4, 'mse', Float32Array.from(targets));
  const x = A.leaf(R.ref([n, 3], Float32Array.from(inputs.flat())));
  const t = A.leaf(R.ref([n, 2], Float32Array.from(targets)));
  const loss = (theta: A.V) => {
    const p = M.unpack(theta, flat);
    const d = A.sub(A.add(A.matmul(x, p('weight'), false, true), p('bias')), t);
    return A.mean(A.mul(d, d), [0, 1]);
  };
  return { model, flat, set, loss };
}

const hostVector = async (flat: L.FlatParameters) => R.ref([8], M.pack(await flat.values.data(), flat));
const value = (f: (t: A.V) => A.V, theta: R.Ref) => f(A.leaf(theta)).data[0]!;
const close = (got: number, want: number, what: string) => expect(Math.abs(got - want), `${what}: ${got} vs ${want}; ${seedNote}`).toBeLessThanOrEqual(1e-3 * Math.abs(want) + 1e-6);

describe('SAM sharpness and ε-sharpness on a quadratic loss', () => {
  it('SAM and ASAM: ρ‖g‖ + ½ρ²ĝᵀHĝ exactly, for a list of ρ', async () => {
    const q = quadratic(Array.from({ length: 7 }, () => uniform(3, -1, 1)));
    const theta = await hostVector(q.flat);
    const g = A.gradients(q.loss, [theta])[0]!;
    const h = A.hessian(q.loss, theta);
    const quad = (e: number[]) => e.reduce((s, ei, i) => s + ei * (g[i]! + 0.5 * e.reduce((u, ej, j) => u + h[i * 8 + j]! * ej, 0)), 0);
    const rho = [0.01, 0.05, 0.2];
    const sam = await L.samSharpness(q.model, q.flat, q.set, { rho });
    const gnorm = Math.hypot(...g);
    close(sam.gradientNorm, gnorm, 'SAM ‖g‖');
    close(sam.loss, value(q.loss, theta), 'loss');
    sam.rows.forEach((r, i) => close(r.sharpness, quad([...g].map((gi) => (rho[i]! * gi) / gnorm)), `SAM sharpness at ρ = ${rho[i]}`));
    expect(sam.definition).toMatch(/^SAM sharpness: L\(θ \+ ρ·g\/‖g‖\) − L\(θ\)/);
    // ASAM: e = ρ·T²g/‖Tg‖, T = |θ|
    const asam = await L.samSharpness(q.model, q.flat, q.set, { rho, adaptive: true });
    const tg = [...g].map((gi, i) => Math.abs(theta.data[i]!) * gi);
    asam.rows.forEach((r, i) => close(r.sharpness, quad(tg.map((v, k) => (rho[i]! * Math.abs(theta.data[k]!) * v) / Math.hypot(...tg))), `ASAM sharpness at ρ = ${rho[i]}`));
  });

  it('ε-sharpness: Keskar\'s metric at the box vertex, closed form for a diagonal Hessian; a lower bound of the vertex maximum otherwise', async () => {
    // inputs ±s·eₖ: Σx = 0 and Σxxᵀ diagonal, so H is diagonal and the box maximum is at δᵢ = wᵢ·sign(gᵢ)
    const scales = uniform(3, 0.5, 2);
    const q = quadratic(scales.flatMap((s, k) => [1, -1].map((sg) => [0, 1, 2].map((j) => (j === k ? sg * s : 0)))));
    const theta = await hostVector(q.flat);
    const epsilon = 0.02;
    const g = A.gradients(q.loss, [theta])[0]!;
    const h = A.hessian(q.loss, theta);
    const w = [...theta.data].map((v) => epsilon * (Math.abs(v) + 1));
    const l0 = value(q.loss, theta);
    const rise = w.reduce((s, wi, i) => s + Math.abs(g[i]!) * wi + 0.5 * h[i * 9]! * wi * wi, 0);
    const result = await L.epsilonSharpness(q.model, q.flat, q.set, { epsilon });
    close(result.loss, l0, 'loss');
    close(result.sharpness, (100 * rise) / (1 + l0), 'ε-sharpness');
    expect(result.definition).toMatch(/Keskar et al.'s ε-sharpness: 100·\(max L\(θ \+ δ\) − L\(θ\)\) \/ \(1 \+ L\(θ\)\)/);

    // a general quadratic: the maximum over a box is at a vertex; the ascent finds at most that
    const general = quadratic(Array.from({ length: 6 }, () => uniform(3, -1, 1)));
    const th = await hostVector(general.flat);
    const box = [...th.data].map((v) => epsilon * (Math.abs(v) + 1));
    let best = -Infinity;
    for (let mask = 0; mask < 256; mask++) {
      best = Math.max(best, value(general.loss, R.ref([8], th.data.map((v, i) => v + (mask & (1 << i) ? box[i]! : -box[i]!)))));
    }
    const found = await L.epsilonSharpness(general.model, general.flat, general.set, { epsilon });
    const l = value(general.loss, th);
    expect(found.maxLoss, seedNote).toBeLessThanOrEqual(best + 1e-5);
    expect(found.maxLoss, seedNote).toBeGreaterThan(l);
    // θ is restored
    close((await hostVector(general.flat)).data[0]!, th.data[0]!, 'θ restored');
  });

  it('bad input: negative ρ, ε ≤ 0, an empty evaluation set', async () => {
    const q = quadratic([[1, 0, 0], [0, 1, 0]]);
    await expect(L.samSharpness(q.model, q.flat, q.set, { rho: [0.05, -0.1] })).rejects.toThrow('SAM sharpness: ρ must be a non-negative number, got -0.1');
    await expect(L.samSharpness(q.model, q.flat, q.set, { rho: [] })).rejects.toThrow('SAM sharpness: needs at least one ρ');
    for (const epsilon of [0, -1e-3, NaN]) {
      await expect(L.epsilonSharpness(q.model, q.flat, q.set, { epsilon })).rejects.toThrow(`ε-sharpness: ε must be a positive number, got ${epsilon}`);
    }
    const empty: L.EvalSet = { batches: [], samples: 0, loss: 'mse' };
    await expect(L.samSharpness(q.model, q.flat, empty, { rho: [0.1] })).rejects.toThrow('SAM sharpness: the evaluation set is empty');
    await expect(L.epsilonSharpness(q.model, q.flat, empty, { epsilon: 1e-3 })).rejects.toThrow('ε-sharpness: the evaluation set is empty');
  });
});

describe('basin width on synthetic surfaces', () => {
  const surface = (x: number[], y: number[] | null, f: (a: number, b: number) => number | null): L.SurfaceFile => ({
    format: 'losscape-surface/1', x, y, loss: (y ?? [0]).map((b) => x.map((a) => f(a, b))), accuracy: [], nonFinite: [], provenance: {},
  });

  it('a line: both sides by linear interpolation, asymmetric, relative Δ, beyond range, an overflowed point', () => {
    const x = L.linspace(-1, 1, 21);
    const [cl, cr] = [4 * rng() + 1, 4 * rng() + 1];
    // piecewise linear in |x| with a kink at the centre: linear interpolation is exact
    const s = surface(x, null, (a) => 1 + (a < 0 ? -cl * a : cr * a));
    const delta = 0.3 + 0.5 * rng();
    const r = L.basinWidths(s, { delta });
    expect(r.centreLoss).toBe(1);
    const [axis] = r.axes;
    expect(axis!.left as number).toBeCloseTo(delta / cl, 12);
    expect(axis!.right as number).toBeCloseTo(delta / cr, 12);
    expect(axis!.width as number).toBeCloseTo(delta / cl + delta / cr, 12);
    expect(L.basinWidths(s, { delta, relative: true }).axes[0]!.right as number).toBeCloseTo(delta / cr, 12);
    const far = L.basinWidths(s, { delta: cl + cr + 1 }).axes[0]!;
    expect([far.left, far.right, far.width]).toEqual(['beyond range', 'beyond range', 'beyond range']);
    // an overflow (null) counts as a rise at its grid point
    const overflow = surface(x, null, (a) => (Math.abs(a - 0.8) < 1e-9 ? null : 1 + 0.01 * Math.abs(a)));
    expect(L.basinWidths(overflow, { delta: 1 }).axes[0]).toMatchObject({ left: 'beyond range', right: 0.8 });
  });

  it('a plane: x through y = 0 and y through x = 0, interpolating rows where y = 0 falls between grid lines', () => {
    const x = L.linspace(-1, 1, 21);
    const y = L.linspace(-0.9, 1.1, 11); // 0 lies halfway between −0.1 and 0.1
    const [a, b] = [2 + rng(), 3 + rng()];
    const s = surface(x, y, (u, v) => 1 + a * Math.abs(u) + b * Math.abs(v));
    const delta = 0.2;
    const r = L.basinWidths(s, { delta });
    expect(r.centreLoss).toBeCloseTo(1 + 0.1 * b, 12);
    const [ax, ay] = r.axes;
    expect(ax).toMatchObject({ axis: 'x', through: 'y = 0' });
    expect(ax!.left as number).toBeCloseTo(delta / a, 12);
    expect(ax!.right as number).toBeCloseTo(delta / a, 12);
    expect(ay).toMatchObject({ axis: 'y', through: 'x = 0' });
    // along y the centre's interpolated loss is reached again at ±0.1, then rises with slope b
    expect(ay!.right as number).toBeCloseTo(0.1 + delta / b, 12);
    expect(ay!.left as number).toBeCloseTo(0.1 + delta / b, 12);
  });

  it('bad input: Δ ≤ 0, a grid without the centre, a non-surface', () => {
    const x = L.linspace(0.1, 1, 10);
    const s = surface(x, null, (a) => a);
    expect(() => L.basinWidths(s, { delta: 0.1 })).toThrow('basin width: the grid [0.1, 1] does not contain the centre 0');
    expect(() => L.basinWidths(surface(L.linspace(-1, 1, 5), null, () => 1), { delta: 0 })).toThrow('basin width: Δ must be a positive number, got 0');
    expect(() => L.basinWidths({ ...s, format: 'other' } as unknown as L.SurfaceFile, { delta: 1 })).toThrow(/not a losscape-surface\/1 file/);
  });
});
