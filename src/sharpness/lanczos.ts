// Spectra of the Hessian from Hessian-vector products (hvp.ts): Lanczos with full
// reorthogonalization (vectors on the GPU, the small tridiagonal matrix T on the host in float64,
// eigen-decomposed by Jacobi rotations), for the top eigenpairs with their residuals ‖Hv − λv‖,
// the two sharpest directions, and the eigenvalue density by stochastic Lanczos quadrature
// (Ghorbani, Krishnan & Xiao 2019; PyHessian's Gaussian broadening and grid).
import { noGrad } from '../tensor/autograd.js';
import { add, div, mul, sqrt, sub } from '../tensor/elementwise.js';
import { fromArray } from '../tensor/creation.js';
import { assign, concat, reshape, slice } from '../tensor/layout.js';
import { Generator } from '../tensor/random.js';
import { sum } from '../tensor/reduce.js';
import { keep, tidy } from '../tensor/scope.js';
import { getEngine } from '../tensor/runtime.js';
import { Tensor } from '../tensor/tensor.js';
import { jacobiEigen } from '../landscape/plans.js';
import { randomVector } from './groups.js';
import type { HessianOperator } from './hvp.js';

const dot = (a: Tensor, b: Tensor) => sum(mul(a, b));

/** T's coupling below this fraction of its largest entry: the Krylov space is invariant (exactly, up to f32). */
const BREAKDOWN = 1e-6;

/**
 * Orthonormal vectors of n values kept as the rows of [rows, n] blocks (each under the adapter's
 * binding limit), so that projecting a vector out of all of them, or combining them, is a few
 * dispatches per block whatever their number.
 */
class Basis {
  readonly #blocks: Tensor[] = [];
  readonly #perBlock: number;
  count = 0;

  constructor(readonly n: number, capacity: number) {
    this.#perBlock = Math.max(1, Math.min(capacity, Math.floor(getEngine().limits.maxStorageBufferBindingSize / (4 * n))));
  }

  push(q: Tensor): void {
    if (this.count % this.#perBlock === 0) this.#blocks.push(keep(Tensor.empty([this.#perBlock, this.n], 'f32', 'lanczos basis')));
    tidy(() => assign(this.row(this.count), q));
    this.count++;
  }

  /** A view of vector j (the caller's). */
  row(j: number): Tensor {
    return this.#blocks[Math.floor(j / this.#perBlock)]!.subview((j % this.#perBlock) * this.n, [this.n], 'lanczos basis');
  }

  /** The filled rows of each block, with the index of their first vector. */
  #filled(): Array<[Tensor, number]> {
    return this.#blocks.map((b, i): [Tensor, number] => [b.subview(0, [Math.min(this.#perBlock, this.count - i * this.#perBlock), this.n]), i * this.#perBlock]);
  }

  /** Σ_j c_j q_j for coefficients [count, 1] (a tensor) or numbers. */
  combine(c: Tensor | number[]): Tensor {
    const coef = c instanceof Tensor ? c : fromArray(c, [c.length, 1]);
    return this.#filled()
      .map(([rows, first]) => reshape(sum(mul(rows, slice(coef, [first], [first + rows.shape[0]!])), 0), [this.n]))
      .reduce((a, b) => add(a, b));
  }

  /** r − Σ_j (q_j·r) q_j. */
  project(r: Tensor): Tensor {
    const coef = concat(this.#filled().map(([rows]) => sum(mul(rows, reshape(r, [1, this.n])), 1, true)));
    return sub(r, this.combine(coef));
  }

  dispose(): void {
    for (const b of this.#blocks) b.dispose();
  }
}

/**
 * Lanczos iteration on H from a start vector: orthonormal q₀, q₁, ... spanning the Krylov space,
 * and T = Qᵀ H Q tridiagonal (alpha on the diagonal, beta beside it). Each new vector is
 * orthogonalized against all earlier ones twice (classical Gram–Schmidt, "twice is enough"), on
 * the GPU. Where the space closes up before filling the group (an invariant subspace), the next
 * vector is a fresh random one orthogonal to the basis and T decouples there (beta = 0).
 */
export class Lanczos {
  readonly alpha: number[] = [];
  /** beta[j] = ‖r_j‖, the residual after step j: T's entry between q_j and q_{j+1} */
  readonly beta: number[] = [];
  readonly #basis: Basis;
  #next: Tensor | null;

  /** `steps`: at most this many steps will be taken (the basis is allocated for them) */
  constructor(readonly op: HessianOperator, start: Tensor, readonly generator: Generator, steps: number) {
    this.#basis = new Basis(start.size, Math.min(steps, op.dimension));
    this.#next = noGrad(() => keep(tidy(() => normalize(mul(start, op.mask)))));
  }

  get steps(): number {
    return this.alpha.length;
  }

  /** One step (one Hessian-vector product); false once the basis spans the whole group. */
  async step(): Promise<boolean> {
    const q = this.#next;
    if (!q) return false;
    const j = this.#basis.count;
    this.#basis.push(q);
    const hq = this.op.apply(q);
    const [w, ab] = noGrad(() =>
      tidy(() => {
        const a = dot(hq, q);
        let r = sub(hq, mul(q, a));
        if (j > 0) r = sub(r, mul(this.#basis.row(j - 1), this.beta.at(-1)!));
        r = this.#basis.project(this.#basis.project(r));
        return [keep(r), keep(concat([reshape(a, [1]), reshape(sqrt(dot(r, r)), [1])]))];
      }),
    );
    hq.dispose();
    q.dispose();
    const [a, b] = await ab.data();
    ab.dispose();
    this.alpha.push(a!);
    this.beta.push(b!);
    if (this.#basis.count >= this.op.dimension) {
      w.dispose();
      this.#next = null;
      return false;
    }
    const scale = Math.max(...this.alpha.map(Math.abs), ...this.beta);
    if (!(b! > BREAKDOWN * scale)) {
      w.dispose();
      this.beta[this.beta.length - 1] = 0;
      this.#next = noGrad(() => keep(tidy(() => {
        const fresh = randomVector(this.op.mask, this.generator, 'gaussian');
        return normalize(this.#basis.project(this.#basis.project(fresh)));
      })));
    } else {
      this.#next = noGrad(() => keep(div(w, b!)));
      w.dispose();
    }
    return true;
  }

  /** Eigenpairs of T (Ritz values, largest first, and T's eigenvectors s, with s[j] the weight of q_j). */
  ritz(): Array<{ value: number; s: number[] }> {
    const m = this.steps;
    const t = new Array<number>(m * m).fill(0);
    for (let j = 0; j < m; j++) {
      t[j * m + j] = this.alpha[j]!;
      if (j + 1 < m) t[j * m + j + 1] = t[(j + 1) * m + j] = this.beta[j]!;
    }
    const { values, vectors } = jacobiEigen(t, m);
    return values.map((value, i) => ({ value, s: vectors.map((row) => row[i]!) })).sort((p, q) => q.value - p.value);
  }

  /** Σ_j s_j q_j: a Ritz vector in the flat layout (the caller's). */
  combine(s: number[]): Tensor {
    return noGrad(() => keep(tidy(() => this.#basis.combine(s))));
  }

  dispose(): void {
    this.#basis.dispose();
    this.#next?.dispose();
    this.#next = null;
  }
}

function normalize(v: Tensor): Tensor {
  return div(v, sqrt(dot(v, v)));
}

export interface EigenOptions {
  /** how many of the largest eigenvalues (default 1) */
  k?: number;
  /** Lanczos steps at most (default 100; never more than the group's dimension) */
  maxSteps?: number;
  /** converged when ‖Hv − λv‖ ≤ tol · max|λ| (default 1e-3) */
  tol?: number;
  seed?: number;
  /** return unconverged pairs flagged (converged: false) instead of throwing a ConvergenceError */
  allowUnconverged?: boolean;
}

export interface EigenResult {
  /** the k largest eigenvalues, largest first */
  values: number[];
  /** unit eigenvectors in the flat layout (the caller's to dispose) */
  vectors: Tensor[];
  /** ‖Hv − λv‖ of each pair, from one more Hessian-vector product each */
  residuals: number[];
  converged: boolean[];
  /** the tolerance's scale: the largest |Ritz value| */
  scale: number;
  steps: number;
  definition: string;
}

export class ConvergenceError extends Error {
  constructor(message: string, readonly result: Omit<EigenResult, 'vectors'>) {
    super(message);
  }
}

function checkInteger(what: string, v: number, min: number, max = Infinity): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`${what} must be an integer in [${min}, ${max}], got ${v}`);
}

/**
 * The k largest eigenvalues of H and their eigenvectors: Lanczos until the estimated residuals
 * |beta_m · s[m−1]| of the top k Ritz pairs are within tolerance (or maxSteps, or the whole group),
 * then each pair's true residual ‖Hv − λv‖ from one more product. A pair that misses the
 * tolerance is an error (ConvergenceError, which carries the values and residuals), or, with
 * allowUnconverged, returned with converged: false.
 */
export async function topEigen(op: HessianOperator, opts: EigenOptions = {}): Promise<EigenResult> {
  const { k = 1, maxSteps = 100, tol = 1e-3, seed = 0, allowUnconverged = false } = opts;
  checkInteger(`top-k: the number of eigenvalues (the group has ${op.dimension} parameters)`, k, 1, op.dimension);
  checkInteger('Lanczos steps', maxSteps, 1);
  if (!(tol > 0)) throw new Error(`eigenvalue tolerance must be positive, got ${tol}`);
  const generator = new Generator(seed);
  const start = randomVector(op.mask, generator, 'gaussian');
  const cap = Math.min(Math.max(maxSteps, k), op.dimension);
  const lz = new Lanczos(op, start, generator, cap);
  start.dispose();
  try {
    while (lz.steps < cap && (await lz.step())) {
      if (lz.steps < k) continue;
      const pairs = lz.ritz();
      const scale = Math.max(...pairs.map((p) => Math.abs(p.value)), 1e-30);
      const last = lz.beta.at(-1)!;
      if (pairs.slice(0, k).every((p) => Math.abs(last * p.s.at(-1)!) <= 0.1 * tol * scale)) break;
    }
    const all = lz.ritz();
    const pairs = all.slice(0, k);
    const scale = Math.max(...all.map((p) => Math.abs(p.value)), 1e-30);
    const vectors = pairs.map((p) => lz.combine(p.s));
    const residuals: number[] = [];
    for (const [i, v] of vectors.entries()) {
      const hv = op.apply(v);
      const r = noGrad(() => tidy(() => {
        const d = sub(hv, mul(v, pairs[i]!.value));
        return keep(sqrt(dot(d, d)));
      }));
      hv.dispose();
      residuals.push(await r.item());
      r.dispose();
    }
    const converged = residuals.map((r) => r <= tol * scale);
    const result = {
      values: pairs.map((p) => p.value), vectors, residuals, converged, scale, steps: lz.steps,
      definition: `the ${k} largest eigenvalues of ${op.subject}, by Lanczos with full reorthogonalization (${lz.steps} steps); residual ‖Hv − λv‖, converged when ≤ ${tol}·max|λ|`,
    };
    if (!allowUnconverged && converged.some((c) => !c)) {
      vectors.forEach((v) => v.dispose());
      const { vectors: _, ...rest } = result;
      throw new ConvergenceError(
        `Lanczos did not converge in ${lz.steps} steps: ${pairs.map((p, i) => `λ${i + 1} = ${p.value.toPrecision(6)} has residual ‖Hv − λv‖ = ${residuals[i]!.toExponential(2)} (tolerance ${(tol * scale).toExponential(2)})`).join('; ')}; allow more steps or a larger tolerance`,
        rest,
      );
    }
    return result;
  } finally {
    lz.dispose();
  }
}

/**
 * The two sharpest directions: the unit eigenvectors of the two largest eigenvalues, as flat
 * vectors (d1, d2), for plotting a landscape along them.
 */
export async function hessianDirections(op: HessianOperator, opts: Omit<EigenOptions, 'k'> = {}): Promise<{ d1: Tensor; d2: Tensor; eigen: EigenResult }> {
  const eigen = await topEigen(op, { ...opts, k: 2 });
  return { d1: eigen.vectors[0]!, d2: eigen.vectors[1]!, eigen };
}

export interface DensityOptions {
  /** independent Lanczos runs from Rademacher starts, averaged (PyHessian's n_v; default 1) */
  runs?: number;
  /** Lanczos steps per run (default 90; at most the group's dimension) */
  steps?: number;
  /** grid points (default 1000) */
  bins?: number;
  /** Gaussian variance, times max(1, λmax − λmin) (PyHessian's sigma_squared; default 1e-5) */
  sigmaSquared?: number;
  /** the grid extends this far beyond the extreme nodes (default 0.01) */
  overhead?: number;
  seed?: number;
}

export interface DensityResult {
  grid: number[];
  /** normalized so that Σ density · Δgrid = 1 */
  density: number[];
  /** each run's quadrature nodes (Ritz values) and weights (squared first components) */
  runs: Array<{ nodes: number[]; weights: number[] }>;
  variance: number;
  definition: string;
}

/**
 * The eigenvalue spectral density by stochastic Lanczos quadrature: per run, Lanczos from a
 * normalized Rademacher vector gives nodes θ_j (eigenvalues of T) and weights τ_j (squared first
 * components of T's eigenvectors); the density is the runs' mean of Σ_j τ_j N(t; θ_j, σ²) on an
 * even grid, as PyHessian's density_generate.
 */
export async function spectralDensity(op: HessianOperator, opts: DensityOptions = {}): Promise<DensityResult> {
  const { runs = 1, steps = 90, bins = 1000, sigmaSquared = 1e-5, overhead = 0.01, seed = 0 } = opts;
  checkInteger('density runs', runs, 1);
  checkInteger('density steps', steps, 1);
  checkInteger('density bins', bins, 2);
  if (!(sigmaSquared > 0)) throw new Error(`density sigmaSquared must be positive, got ${sigmaSquared}`);
  const generator = new Generator(seed);
  const quadratures: DensityResult['runs'] = [];
  for (let run = 0; run < runs; run++) {
    const start = randomVector(op.mask, generator, 'rademacher');
    const lz = new Lanczos(op, start, generator, steps);
    start.dispose();
    try {
      while (lz.steps < Math.min(steps, op.dimension) && (await lz.step()));
      const pairs = lz.ritz();
      quadratures.push({ nodes: pairs.map((p) => p.value), weights: pairs.map((p) => p.s[0]! ** 2) });
    } finally {
      lz.dispose();
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const hi = mean(quadratures.map((q) => Math.max(...q.nodes))) + overhead;
  const lo = mean(quadratures.map((q) => Math.min(...q.nodes))) - overhead;
  const variance = sigmaSquared * Math.max(1, hi - lo);
  const grid = Array.from({ length: bins }, (_, i) => lo + ((hi - lo) * i) / (bins - 1));
  const gauss = (t: number) => Math.exp(-(t * t) / (2 * variance)) / Math.sqrt(2 * Math.PI * variance);
  const raw = grid.map((t) => mean(quadratures.map((q) => q.nodes.reduce((s, node, j) => s + q.weights[j]! * gauss(t - node), 0))));
  const norm = raw.reduce((a, b) => a + b, 0) * (grid[1]! - grid[0]!);
  return {
    grid, density: raw.map((d) => d / norm), runs: quadratures, variance,
    definition: `eigenvalue density of ${op.subject}, by stochastic Lanczos quadrature (Ghorbani et al. 2019): ${runs} run(s) of ${quadratures[0]!.nodes.length} Lanczos steps from Rademacher vectors, each node broadened by a Gaussian of variance ${variance.toPrecision(3)}, normalized to unit mass on the grid`,
  };
}
