import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import { FlatParameters } from '../src/nn/flat.js';
import { Module } from '../src/nn/module.js';
import { AdamW, clipGradNorm, SAM, SGD, type Optimizer } from '../src/nn/optim.js';
import { learningRate } from '../src/nn/schedule.js';
import { assertClose, F32, normRelative, type Tolerance } from './compare.js';
import { hostRng, SEED, seedNote as note } from './helpers.js';

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

/**
 * Each parameter's scale over the steps so far: Σ over steps of |new value| + |update|, the sizes
 * every step's roundings are relative to (a step's arithmetic is a few pointwise operations).
 */
function track(w: Float64Array[], mag: Float64Array[], step: (w: Float64Array[]) => void): void {
  const before = w.map((v) => Float64Array.from(v));
  step(w);
  w.forEach((v, k) => v.forEach((p, i) => (mag[k]![i]! += Math.abs(p) + Math.abs(p - before[k]![i]!))));
}

async function expectParams(flat: FlatParameters, w: Float64Array[], mag: Float64Array[], what: string, tol: Tolerance = F32.pointwise): Promise<void> {
  const params = flat.module.parameters();
  for (let i = 0; i < params.length; i++) assertClose(await params[i]!.data(), w[i]!, tol, `${what}: parameter ${i}`, { scale: mag[i]! });
}

/** The bound for optimizers against torch.optim: ≤ 1e-6 relative per tensor. */
async function expectWithin(flat: FlatParameters, w: Float64Array[], what: string): Promise<void> {
  const params = flat.module.parameters();
  for (let i = 0; i < params.length; i++) expect(normRelative(await params[i]!.data(), w[i]!), `${what}: parameter ${i}; ${note}`).toBeLessThanOrEqual(1e-6);
}

async function run(make: (flat: FlatParameters) => Optimizer, reference: (w: Float64Array[], g: Float64Array[], step: number) => void, what: string) {
  const { flat, w } = setup();
  const mag = w.map((v) => v.map(Math.abs));
  const opt = make(flat);
  for (let step = 0; step < 5; step++) {
    const g = [randomArray(5), randomArray(21)];
    opt.zeroGrad();
    setGrads(flat, g);
    opt.step();
    track(w, mag, (wt) => reference(wt, g, step));
    await expectParams(flat, w, mag, `${what} step ${step + 1}`);
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
      const mag = w.map((v) => v.map(Math.abs));
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
        // the perturbation carries the f32 rounding of the global norm (a sum of squares)
        const magPerturbed = mag.map((mk, k) => mk.map((m, i) => m + Math.abs(perturbed[k]![i]!) + Math.abs(perturbed[k]![i]! - w[k]![i]!)));
        await expectParams(flat, perturbed, magPerturbed, `first step ${step}`, F32.accumulate);
        sam.zeroGrad();
        setGrads(flat, g2);
        sam.secondStep();
        // restored by subtracting the perturbation (e and its rounding, hence magPerturbed), then the SGD step
        mag.forEach((mk, k) => mk.set(magPerturbed[k]!));
        track(w, mag, (wt) => wt.forEach((wk, k) => wk.forEach((p, i) => {
          const d = g2[k]![i]!;
          buf[k]![i] = step === 0 ? d : 0.9 * buf[k]![i]! + d;
          wk[i] = p - 0.1 * buf[k]![i]!;
        })));
        await expectParams(flat, w, mag, `second step ${step}`, F32.accumulate);
      }
    });
  }

  it('clips gradients by global norm as clip_grad_norm_', async () => {
    const { flat } = setup();
    const g = [randomArray(5, -3, 3), randomArray(21, -3, 3)];
    setGrads(flat, g);
    const norm = Math.sqrt(g.flat().reduce((s, v) => s + [...v].reduce((a, x) => a + x * x, 0), 0));
    const reported = await clipGradNorm(flat, 1).item();
    assertClose([reported], [norm], F32.accumulate, 'clipGradNorm: the norm before');
    const coef = Math.min(1, 1 / (norm + 1e-6));
    const params = flat.module.parameters();
    // the coefficient carries the norm's rounding: each element relative to its own size
    for (let k = 0; k < 2; k++) assertClose(await params[k]!.grad!.data(), g[k]!.map((v) => v * coef), F32.accumulate, `clipGradNorm: gradient ${k}`);
  });
});

describe('learning-rate schedules', () => {
  // float64 both ways: the closed forms in src/nn/schedule.ts against torch.optim.lr_scheduler's
  // recursive (chainable) forms computed here step by step, within float64 rounding
  const F64_SCHEDULE: Tolerance = { rtol: 1e-12, atol: 1e-15, name: 'f64 schedule' };
  const steps = Array.from({ length: 130 }, (_, s) => s);

  /** linear warm-up from base/W to base over W steps, then `after(t)` for t = step − W */
  const withWarmup = (base: number, warmup: number, after: (t: number) => number) => (s: number) => (s < warmup ? (base * (s + 1)) / warmup : after(s - warmup));

  /** CosineAnnealingLR's recursion: η₀ = base; η_t = η_min + (η_{t−1} − η_min)·(1 + cos(πt/T)) / (1 + cos(π(t−1)/T)), held at η_min from T on */
  function cosineRecursive(base: number, min: number, T: number): (t: number) => number {
    const eta = [base];
    for (let t = 1; t <= T; t++) eta.push(t === T ? min : min + ((eta[t - 1]! - min) * (1 + Math.cos((Math.PI * t) / T))) / (1 + Math.cos((Math.PI * (t - 1)) / T)));
    return (t) => eta[Math.min(t, T)]!;
  }

  /** StepLR's recursion: multiply by γ every stepSize steps */
  function stepRecursive(base: number, stepSize: number, gamma: number): (t: number) => number {
    const eta = [base];
    for (let t = 1; t < 200; t++) eta.push(t % stepSize === 0 ? eta[t - 1]! * gamma : eta[t - 1]!);
    return (t) => eta[t]!;
  }

  const cases: Array<[string, Parameters<typeof learningRate>[2], (s: number) => number]> = [
    ['constant', { schedule: { kind: 'constant' } }, () => 0.1],
    ['constant, warm-up 4', { schedule: { kind: 'constant' }, warmupSteps: 4 }, withWarmup(0.1, 4, () => 0.1)],
    ['step 10 x 0.5', { schedule: { kind: 'step', stepSize: 10, gamma: 0.5 } }, stepRecursive(0.1, 10, 0.5)],
    ['step 7 x 0.3, warm-up 3', { schedule: { kind: 'step', stepSize: 7, gamma: 0.3 }, warmupSteps: 3 }, withWarmup(0.1, 3, stepRecursive(0.1, 7, 0.3))],
    ['cosine over 100', { schedule: { kind: 'cosine', totalSteps: 100 } }, cosineRecursive(0.1, 0, 100)],
    // the cosine spans the 96 steps after warm-up, from the base rate down to η_min
    ['cosine over 100, warm-up 4, η_min 0.01', { schedule: { kind: 'cosine', totalSteps: 100, minLr: 0.01 }, warmupSteps: 4 }, withWarmup(0.1, 4, cosineRecursive(0.1, 0.01, 96))],
    ['cosine over 37, warm-up 5', { schedule: { kind: 'cosine', totalSteps: 37 }, warmupSteps: 5 }, withWarmup(0.1, 5, cosineRecursive(0.1, 0, 32))],
  ];

  for (const [what, opts, expected] of cases) {
    it(`${what}: every step against the recursive form`, () => {
      assertClose(steps.map((s) => learningRate(0.1, s, opts)), steps.map(expected), F64_SCHEDULE, what);
    });
  }

  it('hits the landmarks exactly: the base rate after warm-up, the midpoint, η_min at the end', () => {
    const opts = { schedule: { kind: 'cosine', totalSteps: 100, minLr: 0.01 }, warmupSteps: 4 } as const;
    for (const [step, lr] of [[0, 0.025], [3, 0.1], [4, 0.1], [4 + 48, 0.055], [100, 0.01], [1000, 0.01]] as const) {
      expect(learningRate(0.1, step, opts), `step ${step}`).toBeCloseTo(lr, 15);
    }
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
      await expectWithin(flat, w, `AdamW step ${step}`);
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
        if (!adaptive || step > 1) await expectWithin(flat, perturbed, `SAM first step ${step}`);
        const g2 = [randomArray(5), randomArray(21)];
        sam.zeroGrad();
        setGrads(flat, g2);
        sam.secondStep();
        ref.step(w, g2);
        await expectWithin(flat, w, `SAM over AdamW step ${step}`);
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
      expect(normRelative(used.flatMap((g) => [...g]), g2.flatMap((g) => [...g])), `step ${step}: gradient at w + e(w); ${note}`).toBeLessThanOrEqual(1e-4);
      expect(normRelative(used.flatMap((g) => [...g]), g1.flatMap((g) => [...g])), `step ${step}: not the gradient at w; ${note}`).toBeGreaterThan(1e-3);
      // the optimizer: float64 AdamW on exactly those gradients, from zero. The bound is 1e-5 here, not
      // the 1e-6 the tests above hold AdamW to: the three bias gradients sum to zero (softmax minus
      // one-hot), so one is often tiny, and Adam's m/√v turns its f32 rounding into a step of up to lr
      // (seen: 1.9e-6 after 12 steps, seed 762154070); the tests above isolate the arithmetic
      ref.step(w, used);
      w.forEach((wk, k) => expect(normRelative(seen[step]!.w[k]!, wk), `train() SAM over AdamW step ${step}, parameter ${k}; ${note}`).toBeLessThanOrEqual(1e-5));
    }
    expect(step).toBe(26);
  });
});
