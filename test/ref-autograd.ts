// A float64 reverse-mode autograd over the reference ops: the gradients GPU backward passes are
// checked against. Each op gives its vector-Jacobian product in closed form; test/ref-autograd.test.ts
// checks those against central finite differences in float64.
import * as R from './reference.js';
import type { Ref } from './reference.js';

export class V {
  grad: Float64Array;
  constructor(
    readonly value: Ref,
    readonly parents: V[] = [],
    readonly vjp: (g: Float64Array) => void = () => {},
  ) {
    this.grad = new Float64Array(value.data.length);
  }
  get shape() {
    return this.value.shape;
  }
  get data() {
    return this.value.data;
  }
}

export const leaf = (r: Ref) => new V(r);

/** Back-propagates from `out` (seed: ones, or the given gradient) into every V's .grad. */
export function backward(out: V, seed?: ArrayLike<number>): void {
  const order: V[] = [];
  const seen = new Set<V>();
  const visit = (v: V) => {
    if (seen.has(v)) return;
    seen.add(v);
    v.parents.forEach(visit);
    order.push(v);
  };
  visit(out);
  out.grad = seed ? Float64Array.from(seed) : out.grad.map(() => 1);
  for (let i = order.length - 1; i >= 0; i--) order[i]!.vjp(order[i]!.grad);
}

function accumulate(v: V, g: ArrayLike<number>): void {
  for (let i = 0; i < g.length; i++) v.grad[i]! += g[i]!;
}

/** Sums a gradient of the broadcast shape down to `shape`. */
function sumToShape(g: Ref, shape: number[]): Float64Array {
  const lead = g.shape.length - shape.length;
  const axes = g.shape.map((_, i) => i).filter((i) => i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1));
  return axes.length ? R.reduce(g, axes, false, R.sumOf).data : g.data;
}

export function unary(x: V, f: (v: number) => number, df: (v: number) => number): V {
  const out: V = new V(R.map(x.value, f), [x], (g) => accumulate(x, g.map((gi, i) => gi * df(x.data[i]!))));
  return out;
}

export function binary(a: V, b: V, f: (u: number, v: number) => number, da: (u: number, v: number) => number, db: (u: number, v: number) => number): V {
  const y = R.zip(a.value, b.value, f);
  return new V(y, [a, b], (g) => {
    const gr = R.ref(y.shape, g);
    const ga = R.zip(R.zip(a.value, b.value, da), gr, (d, gi) => d * gi);
    const gb = R.zip(R.zip(a.value, b.value, db), gr, (d, gi) => d * gi);
    accumulate(a, sumToShape(ga, a.shape));
    accumulate(b, sumToShape(gb, b.shape));
  });
}

export const add = (a: V, b: V) => binary(a, b, (u, v) => u + v, () => 1, () => 1);
export const sub = (a: V, b: V) => binary(a, b, (u, v) => u - v, () => 1, () => -1);
export const mul = (a: V, b: V) => binary(a, b, (u, v) => u * v, (_, v) => v, (u) => u);
export const div = (a: V, b: V) => binary(a, b, (u, v) => u / v, (_, v) => 1 / v, (u, v) => -u / (v * v));
export const scale = (x: V, c: number) => unary(x, (v) => v * c, () => c);

export function sum(x: V, axes: number[], keepdim = false): V {
  const y = R.reduce(x.value, axes, keepdim, R.sumOf);
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  return new V(y, [x], (g) => accumulate(x, R.zip(R.ref(kept, g), R.ref(x.shape, x.data), (gi) => gi).data));
}

export function mean(x: V, axes: number[], keepdim = false): V {
  const count = axes.reduce((n, a) => n * x.shape[a]!, 1);
  return scale(sum(x, axes, keepdim), 1 / count);
}

export function reshape(x: V, shape: number[]): V {
  return new V(R.ref(shape, x.data), [x], (g) => accumulate(x, g));
}

export function permute(x: V, axes: number[]): V {
  const inverse = axes.map((_, i) => axes.indexOf(i));
  const y = R.permute(x.value, axes);
  return new V(y, [x], (g) => accumulate(x, R.permute(R.ref(y.shape, g), inverse).data));
}

export function matmul(a: V, b: V, transA = false, transB = false): V {
  const y = R.matmul(a.value, b.value, transA, transB);
  const last2 = (r: number) => [...Array(r).keys()].map((k) => (k < r - 2 ? k : 2 * r - 3 - k));
  return new V(y, [a, b], (g) => {
    const gr = R.ref(y.shape, g);
    // d op(A) = g · op(B)ᵀ and d op(B) = op(A)ᵀ · g, transposed back where the operand was
    let da = R.matmul(gr, b.value, false, !transB);
    if (transA) da = R.permute(da, last2(da.shape.length));
    let dbv = R.matmul(a.value, gr, !transA, false);
    if (transB) dbv = R.permute(dbv, last2(dbv.shape.length));
    accumulate(a, sumToShape(da, a.shape));
    accumulate(b, sumToShape(dbv, b.shape));
  });
}

/** log-softmax along the last axis. */
export function logSoftmax(x: V): V {
  const cols = x.shape.at(-1)!;
  const y = new Float64Array(x.data.length);
  for (let r = 0; r < x.data.length / cols; r++) {
    const row = x.data.subarray(r * cols, (r + 1) * cols);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    row.forEach((v, j) => (y[r * cols + j] = v - lse));
  }
  return new V(R.ref(x.shape, y), [x], (g) => {
    const dx = new Float64Array(g.length);
    for (let r = 0; r < g.length / cols; r++) {
      let s = 0;
      for (let j = 0; j < cols; j++) s += g[r * cols + j]!;
      for (let j = 0; j < cols; j++) dx[r * cols + j] = g[r * cols + j]! - Math.exp(y[r * cols + j]!) * s;
    }
    accumulate(x, dx);
  });
}

export const exp = (x: V) => unary(x, Math.exp, Math.exp);

const K = Math.sqrt(2 / Math.PI);
const geluTanhInner = (v: number) => Math.tanh(K * (v + 0.044715 * v ** 3));

/** GELU, exact (erf) or torch's tanh approximation. */
export function gelu(x: V, approximate: 'none' | 'tanh' = 'none'): V {
  if (approximate === 'tanh') {
    return unary(x, (v) => 0.5 * v * (1 + geluTanhInner(v)), (v) => {
      const t = geluTanhInner(v);
      return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * K * (1 + 3 * 0.044715 * v * v);
    });
  }
  return unary(x, (v) => 0.5 * v * (1 + R.erf(v / Math.SQRT2)), (v) => 0.5 * (1 + R.erf(v / Math.SQRT2)) + (v * Math.exp((-v * v) / 2)) / Math.sqrt(2 * Math.PI));
}

export function softmax(x: V): V {
  return exp(logSoftmax(x));
}

/** torch.nn.functional.cross_entropy: mean over rows whose label is not ignoreIndex. */
export function crossEntropy(logits: V, labels: number[], smoothing = 0, ignoreIndex = -100): V {
  const [rows, classes] = logits.shape as [number, number];
  const lp = logSoftmax(logits);
  const weights = new Float64Array(rows * classes);
  const valid = labels.filter((y) => y !== ignoreIndex).length;
  labels.forEach((y, r) => {
    if (y === ignoreIndex) return;
    for (let c = 0; c < classes; c++) weights[r * classes + c] = -((c === y ? 1 - smoothing : 0) + smoothing / classes) / valid;
  });
  const w = leaf(R.ref([rows, classes], weights));
  return sum(mul(lp, w), [0, 1]);
}

export function layerNorm(x: V, weight: V | null, bias: V | null, eps: number): V {
  const last = x.shape.length - 1;
  const mu = mean(x, [last], true);
  const d = sub(x, mu);
  const variance = mean(mul(d, d), [last], true);
  const rstd = unary(variance, (v) => 1 / Math.sqrt(v + eps), (v) => -0.5 * (v + eps) ** -1.5);
  let y = mul(d, rstd);
  if (weight) y = mul(y, weight);
  if (bias) y = add(y, bias);
  return y;
}

export function slice(x: V, begin: number[], shape: number[]): V {
  const y = R.slice(x.value, begin, shape);
  return new V(y, [x], (g) => {
    // scatter g back into its window: the window's flat indices come from slicing an index map
    const index = R.slice(R.ref(x.shape, x.data.map((_, i) => i)), begin, shape);
    index.data.forEach((at, i) => (x.grad[at]! += g[i]!));
  });
}

export function concat(xs: V[], axis: number): V {
  const y = R.concat(xs.map((x) => x.value), axis);
  return new V(y, xs, (g) => {
    let at = 0;
    for (const x of xs) {
      const begin = y.shape.map((_, k) => (k === axis ? at : 0));
      accumulate(x, R.slice(R.ref(y.shape, g), begin, x.shape).data);
      at += x.shape[axis]!;
    }
  });
}

export function broadcastTo(x: V, shape: number[]): V {
  const y = R.zip(x.value, R.ref(shape, new Float64Array(R.size(shape))), (u) => u);
  return new V(y, [x], (g) => accumulate(x, sumToShape(R.ref(shape, g), x.shape)));
}

/** Maximum over axes; the gradient is shared evenly among tied maxima (torch.amax). */
export function max(x: V, axes: number[], keepdim = false): V {
  const y = R.reduce(x.value, axes, keepdim, R.maxOf);
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const ym = R.ref(kept, y.data);
  const hit = R.zip(x.value, ym, (u, m) => +(u === m));
  const ties = R.reduce(hit, axes, true, R.sumOf);
  return new V(y, [x], (g) => {
    const share = R.zip(R.ref(kept, g), ties, (gi, t) => gi / t);
    accumulate(x, R.zip(hit, share, (h, s) => h * s).data);
  });
}

export function conv2d(x: V, w: V, bias: V | null, a: R.ConvArgs): V {
  const y = R.conv2d(x.value, w.value, bias?.value ?? null, a);
  return new V(y, bias ? [x, w, bias] : [x, w], (g) => {
    R.convTaps(x.shape, w.shape, a, (yi, xi, wi) => {
      x.grad[xi]! += g[yi]! * w.data[wi]!;
      w.grad[wi]! += g[yi]! * x.data[xi]!;
    });
    if (bias) accumulate(bias, sumToShape(R.ref(y.shape, g), [1, y.shape[1]!, 1, 1]));
  });
}

export function maxPool2d(x: V, a: R.PoolArgs): V {
  const windows: number[][] = [];
  const shape = R.poolWindows(x.shape, a, (_, xs) => windows.push(xs));
  // the first maximum of each window takes the gradient, as the saved index on the GPU
  const winners = windows.map((xs) => xs.reduce((best, i) => (x.data[i]! > x.data[best]! ? i : best), xs[0]!));
  return new V(R.ref(shape, winners.map((i) => x.data[i]!)), [x], (g) => winners.forEach((i, o) => (x.grad[i]! += g[o]!)));
}

export function avgPool2d(x: V, a: R.PoolArgs): V {
  const windows: Array<[number[], number]> = [];
  const shape = R.poolWindows(x.shape, a, (_, xs, d) => windows.push([xs, d]));
  const y = windows.map(([xs, d]) => xs.reduce((s, i) => s + x.data[i]!, 0) / d);
  return new V(R.ref(shape, y), [x], (g) => windows.forEach(([xs, d], o) => xs.forEach((i) => (x.grad[i]! += g[o]! / d))));
}

export function indexSelect(x: V, axis: number, indices: number[]): V {
  const index = R.ref(x.shape, x.data.map((_, i) => i));
  const parts = indices.map((k) => R.slice(index, x.shape.map((_, a) => (a === axis ? k : 0)), x.shape.map((d, a) => (a === axis ? 1 : d))));
  const at = R.concat(parts, axis);
  return new V(R.ref(at.shape, at.data.map((i) => x.data[i]!)), [x], (g) => at.data.forEach((i, o) => (x.grad[i]! += g[o]!)));
}

/** Training-mode batch norm over [N, C, H, W] with batch statistics (biased variance). */
export function batchNorm2d(x: V, weight: V, bias: V, eps: number): V {
  const mu = mean(x, [0, 2, 3], true);
  const d = sub(x, mu);
  const variance = mean(mul(d, d), [0, 2, 3], true);
  const rstd = unary(variance, (v) => 1 / Math.sqrt(v + eps), (v) => -0.5 * (v + eps) ** -1.5);
  const c = x.shape[1]!;
  return add(mul(mul(d, rstd), reshape(weight, [1, c, 1, 1])), reshape(bias, [1, c, 1, 1]));
}

/** softmax(q·kᵀ·scale + mask)·v on the last two axes, composed from the reference ops. */
export function attention(q: V, k: V, v: V, scaleBy: number, causal = false): V {
  let scores = scale(matmul(q, k, false, true), scaleBy);
  if (causal) {
    const [sq, sk] = scores.shape.slice(-2) as [number, number];
    scores = add(scores, leaf(R.ref([sq, sk], Array.from({ length: sq * sk }, (_, e) => (e % sk > Math.floor(e / sk) ? -Infinity : 0)))));
  }
  return matmul(softmax(scores), v);
}

/** The gradients of a scalar function of several inputs at `inputs`, in float64. */
export function gradients(f: (...xs: V[]) => V, inputs: R.Ref[]): Float64Array[] {
  const leaves = inputs.map(leaf);
  backward(f(...leaves));
  return leaves.map((l) => l.grad);
}

/**
 * H·v of a scalar function of several inputs (v given per input), by central differences of its
 * float64 gradients, (∇f(x + hv) − ∇f(x − hv)) / 2h, exact to about 1e-9 relative where f is smooth
 * within the step. A kink within the step (ReLU, a max changing hands) makes the gradient jump; the
 * estimate is therefore checked against the step 2h, and a disagreement throws (draw another v).
 */
export function hvp(f: (...xs: V[]) => V, inputs: R.Ref[], dirs: R.Ref[], h = 1e-5): Float64Array[] {
  const at = (t: number) => gradients(f, inputs.map((x, i) => R.ref(x.shape, x.data.map((v, j) => v + t * dirs[i]!.data[j]!))));
  const central = (step: number) => {
    const [plus, minus] = [at(step), at(-step)];
    return plus.map((p, i) => p.map((v, j) => (v - minus[i]![j]!) / (2 * step)));
  };
  const [a, b] = [central(h), central(2 * h)];
  // against the larger of H·v and the gradient: rounding leaves about 1e-16‖∇f‖/h, a kink ‖∇f‖/h
  const norm2 = (vs: Float64Array[]) => vs.reduce((acc, v) => acc + v.reduce((s, e) => s + e * e, 0), 0);
  const diff = norm2(a.map((ai, i) => ai.map((v, j) => v - b[i]![j]!)));
  const scale = Math.max(norm2(a), norm2(gradients(f, inputs)), 1e-300);
  if (diff > 1e-12 * scale) throw new KinkError(Math.sqrt(diff / scale));
  return a;
}

export class KinkError extends Error {
  constructor(readonly disagreement: number) {
    super(`reference H·v: the steps h and 2h disagree by ${disagreement.toExponential(2)}: a kink lies within the step`);
  }
}

/** The full Hessian of a scalar function of one vector (row-major n×n, symmetrized), column by column with hvp(). */
export function hessian(f: (x: V) => V, x: R.Ref, h = 1e-6): number[] {
  const n = x.data.length;
  const cols = Array.from({ length: n }, (_, j) => hvp(f, [x], [R.ref(x.shape, x.data.map((_, i) => +(i === j)))], h)[0]!);
  return Array.from({ length: n * n }, (_, e) => (cols[e % n]![Math.floor(e / n)]! + cols[Math.floor(e / n)]![e % n]!) / 2);
}
