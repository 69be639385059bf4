// Plans: where to evaluate. Every plan is an origin, one or two directions (flat vectors) and the
// coordinates along them. One orientation for every output: values[iy][ix] is the metric at
// (x[ix], y[iy]), x along d₁ (the first direction), y along d₂.
import { noGrad } from '../tensor/autograd.js';
import { fromArray } from '../tensor/creation.js';
import { div, mul, sqrt, square, sub } from '../tensor/elementwise.js';
import { concat, reshape } from '../tensor/layout.js';
import { matmul } from '../tensor/matmul.js';
import { sum } from '../tensor/reduce.js';
import { keep, tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';

/** n evenly spaced values from min to max, both ends included (numpy.linspace). */
export function linspace(min: number, max: number, n: number): number[] {
  if (!(Number.isFinite(min) && Number.isFinite(max)) || !(min < max)) throw new Error(`range: min (${min}) must be below max (${max})`);
  if (!Number.isInteger(n) || n < 2) throw new Error(`steps: need at least 2 points per axis, got ${n}`);
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? max : min + ((max - min) * i) / (n - 1)));
}

/** Grid points in output order: y outer, x inner, so point iy·nx + ix is values[iy][ix]. */
export function gridPoints(x: number[], y: number[] | null): Array<[number, number]> {
  return (y ?? [0]).flatMap((b) => x.map((a): [number, number] => [a, b]));
}

const dot = (a: Tensor, b: Tensor) => sum(mul(a, b));

export interface Basis {
  origin: Tensor;
  d1: Tensor;
  d2: Tensor;
  /** coordinates of the given points (checkpoints) in the basis */
  coords: Array<[number, number]>;
}

/**
 * The plane through three parameter vectors: origin p₀, orthonormal directions from p₁ − p₀ and
 * p₂ − p₀ (Gram–Schmidt), and the three points' coordinates, e.g. (0,0), (‖p₁−p₀‖, 0), (·, ·).
 */
export async function planeThrough(p0: Tensor, p1: Tensor, p2: Tensor): Promise<Basis> {
  const [d1, d2] = noGrad(() =>
    tidy(() => {
      const u = sub(p1, p0);
      const e1 = div(u, sqrt(dot(u, u)));
      const v = sub(p2, p0);
      const w = sub(v, mul(e1, dot(v, e1)));
      return [keep(e1), keep(div(w, sqrt(dot(w, w))))];
    }),
  );
  const coords = await projectAll([p0, p1, p2], p0, d1, d2);
  return { origin: p0, d1, d2, coords };
}

/** Coordinates of points in an orthonormal plane basis: ((p − o)·d₁, (p − o)·d₂). */
export async function projectAll(points: Tensor[], origin: Tensor, d1: Tensor, d2: Tensor): Promise<Array<[number, number]>> {
  const c = noGrad(() => tidy(() => keep(concat(points.map((p) => reshape(matmul(concat([reshape(d1, [1, -1]), reshape(d2, [1, -1])]), reshape(sub(p, origin), [-1, 1])), [2]))))));
  const host = await c.data();
  c.dispose();
  return points.map((_, i) => [host[2 * i]!, host[2 * i + 1]!]);
}

export interface Trajectory extends Basis {
  /** fraction of the variance of the path's differences that each of the two axes explains */
  explained: [number, number];
}

/**
 * The plane of a training trajectory (Li et al. 2018, section 7): PCA of the differences between
 * each checkpoint and the final weights, through the final weights. The Gram matrix of the
 * differences is formed on the GPU; its eigenvectors (Jacobi, on the host: it is T×T) give the
 * two principal directions as combinations of the differences. The path is projected on them.
 */
export async function trajectoryPlane(checkpoints: Tensor[]): Promise<Trajectory> {
  if (checkpoints.length < 3) throw new Error(`trajectory: needs at least 3 checkpoints, got ${checkpoints.length}`);
  const final = checkpoints.at(-1)!;
  const diffs = noGrad(() => checkpoints.slice(0, -1).map((c) => keep(sub(c, final))));
  const t = diffs.length;
  const stacked = noGrad(() => keep(concat(diffs.map((d) => reshape(d, [1, -1])))));
  const gram = noGrad(() => keep(matmul(stacked, stacked, { transB: true })));
  const g = Array.from(await gram.data(), Number);
  gram.dispose();
  const { values, vectors } = jacobiEigen(g, t);
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]);
  const total = values.reduce((s, v) => s + Math.max(v, 0), 0) || 1;
  const [d1, d2] = noGrad(() =>
    [order[0]!, order[1]!].map(([, i]) =>
      tidy(() => {
        // principal direction = Σ_j v_j · diff_j, normalized
        const coef = vectors.map((row) => row[i]!);
        const dir = reshape(matmul(fromArray(coef, [1, t]), stacked), [-1]);
        return keep(div(dir, sqrt(sum(square(dir)))));
      }),
    ),
  ) as [Tensor, Tensor];
  stacked.dispose();
  diffs.forEach((d) => d.dispose());
  const coords = await projectAll(checkpoints, final, d1, d2);
  return { origin: final, d1, d2, coords, explained: [Math.max(order[0]![0], 0) / total, Math.max(order[1]![0], 0) / total] };
}

/** Eigen-decomposition of a symmetric n×n matrix (row-major) by cyclic Jacobi rotations. */
export function jacobiEigen(m: number[], n: number): { values: number[]; vectors: number[][] } {
  const a = Array.from({ length: n }, (_, i) => m.slice(i * n, (i + 1) * n));
  const v = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => +(i === j)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += a[i]![j]! ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(a[p]![q]!) < 1e-300) continue;
        const theta = (a[q]![q]! - a[p]![p]!) / (2 * a[p]![q]!);
        const tt = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(tt * tt + 1);
        const s = tt * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k]![p]!;
          const akq = a[k]![q]!;
          a[k]![p] = c * akp - s * akq;
          a[k]![q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p]![k]!;
          const aqk = a[q]![k]!;
          a[p]![k] = c * apk - s * aqk;
          a[q]![k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k]![p]!;
          const vkq = v[k]![q]!;
          v[k]![p] = c * vkp - s * vkq;
          v[k]![q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: a.map((row, i) => row[i]!), vectors: v };
}
