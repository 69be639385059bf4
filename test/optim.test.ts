import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import { FlatParameters } from '../src/nn/flat.js';
import { Module } from '../src/nn/module.js';
import { AdamW, clipGradNorm, SAM, SGD, type Optimizer } from '../src/nn/optim.js';
import { learningRate } from '../src/nn/schedule.js';
import { hostRng, relativeError, SEED } from './helpers.js';

const note = `seed ${SEED} (replay with LOSSCAPE_TEST_SEED=${SEED})`;
const rng = hostRng(SEED ^ 0x0f7);

/** Two parameters of odd sizes, so the flat vector has padding between them. */
class Toy extends Module {
  constructor(a: Float32Array, b: Float32Array) {
    super();
    this.param('a', L.fromArray(a, [a.length]));
    this.param('b', L.fromArray(b, [3, b.length / 3]));
  }
}

const randomArray = (n: number, lo = -1, hi = 1) => Float64Array.from({ length: n }, () => Math.fround(lo + (hi - lo) * rng()));

function setup(): { flat: FlatParameters; w: Float64Array[] } {
  const w = [randomArray(5), randomArray(21)];
  const flat = FlatParameters.of(new Toy(Float32Array.from(w[0]!), Float32Array.from(w[1]!)));
  return { flat, w };
}

/** Writes host gradients into the parameters' gradient views. */
function setGrads(flat: FlatParameters, gs: Float64Array[]): void {
  flat.module.parameters().forEach((p, i) => L.assign(p.grad!, L.fromArray(Float32Array.from(gs[i]!), p.shape)));
}

async function expectParams(flat: FlatParameters, w: Float64Array[], what: string, tol = 1e-6): Promise<void> {
  const params = flat.module.parameters();
  for (let i = 0; i < params.length; i++) {
    const err = relativeError(await params[i]!.data(), w[i]!);
    expect(err, `${what}: parameter ${i}; ${note}`).toBeLessThanOrEqual(tol);
  }
}

async function run(make: (flat: FlatParameters) => Optimizer, reference: (w: Float64Array[], g: Float64Array[], step: number) => void, what: string) {
  const { flat, w } = setup();
  const opt = make(flat);
  for (let step = 0; step < 5; step++) {
    const g = [randomArray(5), randomArray(21)];
    opt.zeroGrad();
    setGrads(flat, g);
    opt.step();
    reference(w, g, step);
    await expectParams(flat, w, `${what} step ${step + 1}`);
  }
}

describe('optimizers against torch.optim formulas in float64', () => {
  for (const [momentum, dampening, nesterov, wd] of [[0, 0, false, 0], [0.9, 0, false, 1e-2], [0.9, 0, true, 5e-4], [0.8, 0.3, false, 0]] as const) {
    it(`SGD momentum=${momentum} dampening=${dampening} nesterov=${nesterov} wd=${wd}`, async () => {
      const lr = 0.1;
      const bufs = [new Float64Array(5), new Float64Array(21)];
      await run((flat) => new SGD(flat, { lr, momentum, dampening, nesterov, weightDecay: wd }), (w, g, step) => {
        w.forEach((wi, k) => wi.forEach((p, i) => {
          let d = g[k]![i]! + wd * p;
          if (momentum) {
            bufs[k]![i] = step === 0 ? d : momentum * bufs[k]![i]! + (1 - dampening) * d;
            d = nesterov ? d + momentum * bufs[k]![i]! : bufs[k]![i]!;
          }
          wi[i] = p - lr * d;
        }));
      }, 'SGD');
    });
  }

  for (const amsgrad of [false, true]) {
    it(`AdamW (amsgrad ${amsgrad})`, async () => {
      const [lr, b1, b2, eps, wd] = [0.01, 0.9, 0.99, 1e-8, 0.05];
      const m = [new Float64Array(5), new Float64Array(21)];
      const v = [new Float64Array(5), new Float64Array(21)];
      const vmax = [new Float64Array(5), new Float64Array(21)];
      await run((flat) => new AdamW(flat, { lr, betas: [b1, b2], eps, weightDecay: wd, amsgrad }), (w, g, step) => {
        const t = step + 1;
        w.forEach((wi, k) => wi.forEach((p0, i) => {
          const p = p0 * (1 - lr * wd);
          const gi = g[k]![i]!;
          m[k]![i] = b1 * m[k]![i]! + (1 - b1) * gi;
          v[k]![i] = b2 * v[k]![i]! + (1 - b2) * gi * gi;
          vmax[k]![i] = Math.max(vmax[k]![i]!, v[k]![i]!);
          const vv = amsgrad ? vmax[k]![i]! : v[k]![i]!;
          wi[i] = p - (lr / (1 - b1 ** t)) * m[k]![i]! / (Math.sqrt(vv) / Math.sqrt(1 - b2 ** t) + eps);
        }));
      }, 'AdamW');
    });
  }

  for (const adaptive of [false, true]) {
    it(`${adaptive ? 'ASAM' : 'SAM'}: perturbation, restore, and the base step with the perturbed gradient`, async () => {
      const { flat, w } = setup();
      const rho = adaptive ? 0.5 : 0.05;
      const sam = new SAM(new SGD(flat, { lr: 0.1, momentum: 0.9 }), { rho, adaptive });
      const buf = [new Float64Array(5), new Float64Array(21)];
      for (let step = 0; step < 3; step++) {
        const g1 = [randomArray(5), randomArray(21)];
        const g2 = [randomArray(5), randomArray(21)];
        sam.zeroGrad();
        setGrads(flat, g1);
        sam.firstStep();
        // e = ρ·T²g/‖Tg‖ with the global norm over all parameters
        const t = (k: number, i: number) => (adaptive ? Math.abs(w[k]![i]!) : 1);
        let norm = 0;
        g1.forEach((gk, k) => gk.forEach((v, i) => (norm += (t(k, i) * v) ** 2)));
        norm = Math.sqrt(norm);
        const perturbed = w.map((wk, k) => wk.map((p, i) => p + (rho * t(k, i) ** 2 * g1[k]![i]!) / (norm + 1e-12)));
        await expectParams(flat, perturbed, `first step ${step}`);
        sam.zeroGrad();
        setGrads(flat, g2);
        sam.secondStep();
        w.forEach((wk, k) => wk.forEach((p, i) => {
          const d = g2[k]![i]!;
          buf[k]![i] = step === 0 ? d : 0.9 * buf[k]![i]! + d;
          wk[i] = p - 0.1 * buf[k]![i]!;
        }));
        await expectParams(flat, w, `second step ${step}`);
      }
    });
  }

  it('clips gradients by global norm as clip_grad_norm_', async () => {
    const { flat } = setup();
    const g = [randomArray(5, -3, 3), randomArray(21, -3, 3)];
    setGrads(flat, g);
    const norm = Math.sqrt(g.flat().reduce((s, v) => s + [...v].reduce((a, x) => a + x * x, 0), 0));
    const reported = await clipGradNorm(flat, 1).item();
    expect(reported / norm).toBeCloseTo(1, 5);
    const coef = Math.min(1, 1 / (norm + 1e-6));
    const params = flat.module.parameters();
    for (let k = 0; k < 2; k++) {
      expect(relativeError(await params[k]!.grad!.data(), g[k]!.map((v) => v * coef)), note).toBeLessThan(1e-6);
    }
  });
});

describe('learning-rate schedules', () => {
  it('constant, step, cosine, and linear warm-up', () => {
    expect(learningRate(0.1, 7, { schedule: { kind: 'constant' } })).toBe(0.1);
    expect(learningRate(0.1, 25, { schedule: { kind: 'step', stepSize: 10, gamma: 0.5 } })).toBeCloseTo(0.025);
    expect(learningRate(0.1, 0, { schedule: { kind: 'cosine', totalSteps: 100 } })).toBeCloseTo(0.1);
    expect(learningRate(0.1, 50, { schedule: { kind: 'cosine', totalSteps: 100 } })).toBeCloseTo(0.05);
    expect(learningRate(0.1, 100, { schedule: { kind: 'cosine', totalSteps: 100, minLr: 0.01 } })).toBeCloseTo(0.01);
    expect(learningRate(0.1, 0, { schedule: { kind: 'constant' }, warmupSteps: 4 })).toBeCloseTo(0.025);
    expect(learningRate(0.1, 3, { schedule: { kind: 'constant' }, warmupSteps: 4 })).toBeCloseTo(0.1);
    expect(learningRate(0.1, 4 + 48, { schedule: { kind: 'cosine', totalSteps: 100 }, warmupSteps: 4 })).toBeCloseTo(0.05);
  });
});

/** torch.optim.AdamW's documented algorithm in float64 (decoupled decay, bias-corrected moments). */
class ReferenceAdamW {
  readonly #m: Float64Array[];
  readonly #v: Float64Array[];
  #t = 0;
  constructor(sizes: number[], readonly o: { lr: number; betas: [number, number]; eps: number; weightDecay: number }) {
    this.#m = sizes.map((n) => new Float64Array(n));
    this.#v = sizes.map((n) => new Float64Array(n));
  }
  step(w: Float64Array[], g: Float64Array[]): void {
    const { lr, betas: [b1, b2], eps, weightDecay } = this.o;
    const t = ++this.#t;
    w.forEach((wk, k) => wk.forEach((p, i) => {
      const [m, v] = [this.#m[k]!, this.#v[k]!];
      m[i] = b1 * m[i]! + (1 - b1) * g[k]![i]!;
      v[i] = b2 * v[i]! + (1 - b2) * g[k]![i]! ** 2;
      const mHat = m[i]! / (1 - b1 ** t);
      const vHat = v[i]! / (1 - b2 ** t);
      wk[i] = p * (1 - lr * weightDecay) - (lr * mHat) / (Math.sqrt(vHat) + eps);
    }));
  }
}

// β₂ = 0.999 and parameters that start at zero: a parameter is then the sum of its steps, so a step
// length off by a relative δ shows as δ. (1 − β₂ formed in f32 on the GPU made every step 6.4e-6 too long.)
describe('AdamW and SAM over AdamW against float64 torch.optim.AdamW, 25 steps from zero, β₂ = 0.999', () => {
  const torchDefaults = { lr: 1e-3, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 1e-2 };
  const zeroToy = () => FlatParameters.of(new Toy(new Float32Array(5), new Float32Array(21)));
  const zeroW = () => [new Float64Array(5), new Float64Array(21)];

  it('AdamW (torch defaults) stays within 1e-6 per tensor at every step', async () => {
    const flat = zeroToy();
    const w = zeroW();
    const opt = new AdamW(flat, torchDefaults);
    const ref = new ReferenceAdamW([5, 21], torchDefaults);
    for (let step = 1; step <= 25; step++) {
      const g = [randomArray(5), randomArray(21)];
      opt.zeroGrad();
      setGrads(flat, g);
      opt.step();
      ref.step(w, g);
      await expectParams(flat, w, `AdamW step ${step}`);
    }
  });

  for (const adaptive of [false, true]) {
    it(`${adaptive ? 'ASAM' : 'SAM'} over AdamW (new SAM(new AdamW(…)${adaptive ? ', { adaptive: true }' : ''})): perturbation, exact restore, AdamW step with the perturbed gradient`, async () => {
      const flat = zeroToy();
      const w = zeroW();
      const rho = adaptive ? 0.5 : 0.05;
      const sam = new SAM(new AdamW(flat, torchDefaults), { rho, adaptive });
      const ref = new ReferenceAdamW([5, 21], torchDefaults);
      for (let step = 1; step <= 25; step++) {
        const g1 = [randomArray(5), randomArray(21)];
        sam.zeroGrad();
        setGrads(flat, g1);
        sam.firstStep();
        const t = (k: number, i: number) => (adaptive ? Math.abs(w[k]![i]!) : 1);
        const norm = Math.sqrt(g1.reduce((s, gk, k) => gk.reduce((a, v, i) => a + (t(k, i) * v) ** 2, s), 0));
        const perturbed = w.map((wk, k) => wk.map((p, i) => p + (rho * t(k, i) ** 2 * g1[k]![i]!) / (norm + 1e-12)));
        // ASAM's first step from zero weights does not move them; compare only where it does
        if (!adaptive || step > 1) await expectParams(flat, perturbed, `SAM first step ${step}`);
        const g2 = [randomArray(5), randomArray(21)];
        sam.zeroGrad();
        setGrads(flat, g2);
        sam.secondStep();
        ref.step(w, g2);
        await expectParams(flat, w, `SAM over AdamW step ${step}`);
      }
    });
  }

  it("train({ optimizer: 'sam', samBase: 'adamw' }): float64 AdamW on the perturbed gradients, which are the gradients at w + e(w)", async () => {
    // a linear softmax classifier (MLP [2, 3]: no ReLU kinks), its weights zeroed before the first step
    const [batchSize, rho, seed] = [8, 0.05, SEED % 1000];
    const data = L.spirals(26 * batchSize, 3, seed);
    const seen: Array<{ w: Float64Array[]; g: Float64Array[] }> = [];
    const host = async (ts: L.Tensor[]) => Promise.all(ts.map(async (t) => Float64Array.from(await t.data())));
    const result = await L.train({
      model: { kind: 'mlp', sizes: [2, 3] }, optimizer: 'sam', samBase: 'adamw', rho, lr: torchDefaults.lr, epochs: 1, batchSize, seed, train: data, test: data,
      onStep: async (s) => {
        if (s.step === 0) L.fillInPlace(s.flat.values, 0);
        const params = s.model.parameters();
        // after a step the gradient buffer still holds the one the base optimizer used (SAM's second pass)
        seen.push({ w: await host(params), g: s.step === 0 ? [] : await host(params.map((p) => p.grad!)) });
      },
    });
    result.model.dispose();
    // float64: logits = x·Wᵀ + b, mean cross-entropy; ∂W = (softmax − onehot)ᵀ·x / B, ∂b = Σ(softmax − onehot) / B
    const gradients = (w: Float64Array[], x: Float32Array, y: Int32Array): Float64Array[] => {
      const [W, b] = w as [Float64Array, Float64Array];
      const g = [new Float64Array(6), new Float64Array(3)];
      for (let r = 0; r < y.length; r++) {
        const z = [0, 1, 2].map((c) => W[2 * c]! * x[2 * r]! + W[2 * c + 1]! * x[2 * r + 1]! + b[c]!);
        const e = z.map((v) => Math.exp(v - Math.max(...z)));
        const sum = e.reduce((a, v) => a + v, 0);
        for (let c = 0; c < 3; c++) {
          const d = (e[c]! / sum - (y[r] === c ? 1 : 0)) / y.length;
          g[0]![2 * c] += d * x[2 * r]!;
          g[0]![2 * c + 1] += d * x[2 * r + 1]!;
          g[1]![c] += d;
        }
      }
      return g;
    };
    const w = [new Float64Array(6), new Float64Array(3)];
    const ref = new ReferenceAdamW([6, 3], torchDefaults);
    let step = 0;
    for (const b of L.batches(data, { batchSize, seed, epoch: 0, dropLast: true })) {
      const [x, y] = [(await b.x.toArray()) as Float32Array, (await b.y.toArray()) as Int32Array];
      b.x.dispose();
      b.y.dispose();
      step++;
      // the gradient used is the one at w + ρ·g/‖g‖ (within the f32 forward/backward's accuracy), not at w
      const before = seen[step - 1]!.w;
      const g1 = gradients(before, x, y);
      const norm = Math.sqrt(g1.reduce((s, gk) => gk.reduce((a, v) => a + v * v, s), 0));
      const g2 = gradients(before.map((wk, k) => wk.map((p, i) => p + (rho * g1[k]![i]!) / (norm + 1e-12))), x, y);
      const used = seen[step]!.g;
      expect(relativeError(used.flatMap((g) => [...g]), g2.flatMap((g) => [...g])), `step ${step}: gradient at w + e(w); ${note}`).toBeLessThanOrEqual(1e-4);
      expect(relativeError(used.flatMap((g) => [...g]), g1.flatMap((g) => [...g])), `step ${step}: not the gradient at w; ${note}`).toBeGreaterThan(1e-3);
      // the optimizer: float64 AdamW on exactly those gradients, from zero
      ref.step(w, used);
      w.forEach((wk, k) => expect(relativeError(seen[step]!.w[k]!, wk), `train() SAM over AdamW step ${step}, parameter ${k}; ${note}`).toBeLessThanOrEqual(1e-6));
    }
    expect(step).toBe(26);
  });
});
