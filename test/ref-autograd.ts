// A float64 reverse-mode autograd over the reference ops: the gradients GPU backward passes are
// checked against. Each op gives its vector-Jacobian product in closed form; test/ref-autograd.test.ts
// checks those against central finite differences in float64.
//
// Every value also carries its condition-aware magnitude `mag`, the scale test/compare.ts measures
// f32 error against: a first-order bound, in units of the f32 roundoff u, on how far rounding of the
// inputs and of every intermediate result can move it (|ŷ − y| ≲ c·u·mag). A leaf's is |x|; an op
// adds its own result's |y| and each input's magnitude times |∂y/∂x|, so a sum gets Σ|xₖ| and a
// product of matrices |A|·|B| (mag ≥ |value| always). backward(out, seed, { magnitude: true })
// gives each gradient element's counterpart in `gradMag`: the Σ of |terms| its backward pass sums
// (|g|·|J| along every path), plus, to first order, how far the forward errors of the local factors
// move it (B in dA = g·Bᵀ carries B's magnitude; f′(x) of a unary op its change over x's error, so
// a saturating tanh′ or a kink widens the bound by as much).
import * as R from './reference.js';
import type { Ref } from './reference.js';

/**
 * vjp(g, null) accumulates g·J into the parents' grad. vjp(a, b), the magnitude pass: a is this
 * node's Σ|terms| and b its first-order widening; it accumulates |J|·a into the parents' gradAbs
 * and |J|·b + spread(J)·a into their gradWiden (spread: a factor's sensitivity to its forward error).
 */
type Vjp = (g: Float64Array, widen: Float64Array | null) => void;

export class V {
  grad: Float64Array;
  gradAbs: Float64Array;
  gradWiden: Float64Array;
  readonly mag: Float64Array;
  constructor(
    readonly value: Ref,
    readonly parents: V[] = [],
    readonly vjp: Vjp = () => {},
    mag?: ArrayLike<number>,
  ) {
    const n = value.data.length;
    [this.grad, this.gradAbs, this.gradWiden] = [new Float64Array(n), new Float64Array(n), new Float64Array(n)];
    this.mag = mag ? Float64Array.from(mag) : value.data.map(Math.abs);
  }
  get shape() {
    return this.value.shape;
  }
  get data() {
    return this.value.data;
  }
  /** the magnitudes as a Ref of the value's shape */
  get magnitude(): Ref {
    return { shape: this.shape, data: this.mag };
  }
  /** the gradient's condition-aware magnitude, after backward(..., { magnitude: true }) */
  get gradMag(): Float64Array {
    return this.gradAbs.map((a, i) => a + this.gradWiden[i]!);
  }
}

export const leaf = (r: Ref) => new V(r);

/**
 * Back-propagates from `out` (seed: ones, or the given gradient) into every V's .grad, or with
 * `magnitude` the gradient magnitudes (read through .gradMag).
 */
export function backward(out: V, seed?: ArrayLike<number>, { magnitude = false } = {}): void {
  const order: V[] = [];
  const seen = new Set<V>();
  const visit = (v: V) => {
    if (seen.has(v)) return;
    seen.add(v);
    v.parents.forEach(visit);
    order.push(v);
  };
  visit(out);
  const start = seed ? Float64Array.from(seed) : out.grad.map(() => 1);
  if (magnitude) out.gradAbs = start.map(Math.abs);
  else out.grad = start;
  for (let i = order.length - 1; i >= 0; i--) {
    const v = order[i]!;
    if (magnitude) v.vjp(v.gradAbs, v.gradWiden);
    else v.vjp(v.grad, null);
  }
}

function addInto(into: Float64Array, g: ArrayLike<number>): void {
  for (let i = 0; i < g.length; i++) into[i]! += g[i]!;
}

/** A vjp linear in g with non-negative coefficients (sums, data movement): the same map for every pass. */
function pass(v: V, g: Float64Array, widen: Float64Array | null, map: (h: Float64Array) => ArrayLike<number> = (h) => h): void {
  if (!widen) return addInto(v.grad, map(g));
  addInto(v.gradAbs, map(g));
  addInto(v.gradWiden, map(widen));
}

/** a·b with 0·∞ = 0 (masked attention scores are −∞ with zero weight) */
const times = (a: number, b: number) => (a === 0 || b === 0 ? 0 : a * b);

/** How far d(x) moves as x moves by its own error: |d(x + h) − d(x − h)|/(2h)·m, h = 2⁻¹⁷·m (a jump within h counts in full). */
function spread(d: (x: number) => number, x: number, m: number): number {
  const h = 2 ** -17 * m;
  return h > 0 && Number.isFinite(h) ? (Math.abs(d(x + h) - d(x - h)) / (2 * h)) * m : 0;
}

/** One term g·f of a vjp into element i of v: its value, or its magnitude |f|·a and widening |f|·b + spread·a. */
function term(v: V, i: number, f: number, fSpread: number, g: number, widen: number | null): void {
  if (widen === null) {
    v.grad[i]! += g * f;
  } else {
    v.gradAbs[i]! += Math.abs(f) * g;
    v.gradWiden[i]! += Math.abs(f) * widen + times(fSpread, g);
  }
}

const abs = (r: Ref): Ref => R.map(r, Math.abs);
const magRef = (v: V): Ref => v.magnitude;

/** Sums a gradient of the broadcast shape down to `shape`. */
function sumToShape(g: Ref, shape: number[]): Float64Array {
  const lead = g.shape.length - shape.length;
  const axes = g.shape.map((_, i) => i).filter((i) => i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1));
  return axes.length ? R.reduce(g, axes, false, R.sumOf).data : g.data;
}

/** Flat indices into a and b of each element of their broadcast. */
function broadcastPairs(a: readonly number[], b: readonly number[]): { shape: number[]; ia: Float64Array; ib: Float64Array } {
  const iota = (s: readonly number[]) => R.ref(s, Array.from({ length: R.size(s) }, (_, i) => i));
  const ia = R.zip(iota(a), iota(b), (i) => i);
  const ib = R.zip(iota(a), iota(b), (_, j) => j);
  return { shape: ia.shape, ia: ia.data, ib: ib.data };
}

export function unary(x: V, f: (v: number) => number, df: (v: number) => number): V {
  const y = R.map(x.value, f);
  const mag = y.data.map((v, i) => Math.abs(v) + times(Math.abs(df(x.data[i]!)), x.mag[i]!));
  return new V(y, [x], (g, widen) => {
    for (let i = 0; i < g.length; i++) {
      const [xi, m] = [x.data[i]!, x.mag[i]!];
      term(x, i, df(xi), widen ? spread(df, xi, m) : 0, g[i]!, widen?.[i] ?? null);
    }
  }, mag);
}

export function binary(a: V, b: V, f: (u: number, v: number) => number, da: (u: number, v: number) => number, db: (u: number, v: number) => number): V {
  const { shape, ia, ib } = broadcastPairs(a.shape, b.shape);
  const n = ia.length;
  const y = new Float64Array(n);
  const mag = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const [u, v] = [a.data[ia[k]!]!, b.data[ib[k]!]!];
    y[k] = f(u, v);
    mag[k] = Math.abs(y[k]!) + times(Math.abs(da(u, v)), a.mag[ia[k]!]!) + times(Math.abs(db(u, v)), b.mag[ib[k]!]!);
  }
  return new V(R.ref(shape, y), [a, b], (g, widen) => {
    for (let k = 0; k < n; k++) {
      const [i, j] = [ia[k]!, ib[k]!];
      const [u, v, mu, mv] = [a.data[i]!, b.data[j]!, a.mag[i]!, b.mag[j]!];
      // a local factor's spread: its change as either operand moves by its own error
      const spreadOf = (d: (u: number, v: number) => number) => (widen ? spread((s) => d(s, v), u, mu) + spread((s) => d(u, s), v, mv) : 0);
      term(a, i, da(u, v), spreadOf(da), g[k]!, widen?.[k] ?? null);
      term(b, j, db(u, v), spreadOf(db), g[k]!, widen?.[k] ?? null);
    }
  }, mag);
}

export const add = (a: V, b: V) => binary(a, b, (u, v) => u + v, () => 1, () => 1);
export const sub = (a: V, b: V) => binary(a, b, (u, v) => u - v, () => 1, () => -1);
export const mul = (a: V, b: V) => binary(a, b, (u, v) => u * v, (_, v) => v, (u) => u);
export const div = (a: V, b: V) => binary(a, b, (u, v) => u / v, (_, v) => 1 / v, (u, v) => -u / (v * v));
export const scale = (x: V, c: number) => unary(x, (v) => v * c, () => c);

export function sum(x: V, axes: number[], keepdim = false): V {
  const y = R.reduce(x.value, axes, keepdim, R.sumOf);
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const mag = R.reduce(magRef(x), axes, keepdim, R.sumOf).data;
  return new V(y, [x], (g, widen) => pass(x, g, widen, (h) => R.zip(R.ref(kept, h), R.ref(x.shape, x.data), (gi) => gi).data), mag);
}

export function mean(x: V, axes: number[], keepdim = false): V {
  const count = axes.reduce((n, a) => n * x.shape[a]!, 1);
  return scale(sum(x, axes, keepdim), 1 / count);
}

export function reshape(x: V, shape: number[]): V {
  return new V(R.ref(shape, x.data), [x], (g, widen) => pass(x, g, widen), x.mag);
}

export function permute(x: V, axes: number[]): V {
  const inverse = axes.map((_, i) => axes.indexOf(i));
  const y = R.permute(x.value, axes);
  return new V(y, [x], (g, widen) => pass(x, g, widen, (h) => R.permute(R.ref(y.shape, h), inverse).data), R.permute(magRef(x), axes).data);
}

export function matmul(a: V, b: V, transA = false, transB = false): V {
  const y = R.matmul(a.value, b.value, transA, transB);
  const mag = R.zip(R.matmul(magRef(a), abs(b.value), transA, transB), R.matmul(abs(a.value), magRef(b), transA, transB), (p, q) => p + q).data;
  const last2 = (r: number) => [...Array(r).keys()].map((k) => (k < r - 2 ? k : 2 * r - 3 - k));
  return new V(y, [a, b], (g, widen) => {
    // d op(A) = g · op(B)ᵀ and d op(B) = op(A)ᵀ · g, transposed back where the operand was
    const dA = (h: Float64Array, bv: Ref) => {
      const d = R.matmul(R.ref(y.shape, h), bv, false, !transB);
      return sumToShape(transA ? R.permute(d, last2(d.shape.length)) : d, a.shape);
    };
    const dB = (av: Ref, h: Float64Array) => {
      const d = R.matmul(av, R.ref(y.shape, h), !transA, false);
      return sumToShape(transB ? R.permute(d, last2(d.shape.length)) : d, b.shape);
    };
    if (!widen) {
      addInto(a.grad, dA(g, b.value));
      addInto(b.grad, dB(a.value, g));
      return;
    }
    // the factors' sizes |B|, |A|; their spreads the operands' magnitudes
    addInto(a.gradAbs, dA(g, abs(b.value)));
    addInto(a.gradWiden, dA(widen, abs(b.value)));
    addInto(a.gradWiden, dA(g, magRef(b)));
    addInto(b.gradAbs, dB(abs(a.value), g));
    addInto(b.gradWiden, dB(abs(a.value), widen));
    addInto(b.gradWiden, dB(magRef(a), g));
  }, mag);
}

/** log-softmax along the last axis. */
export function logSoftmax(x: V): V {
  const cols = x.shape.at(-1)!;
  const y = new Float64Array(x.data.length);
  const mag = new Float64Array(x.data.length);
  for (let r = 0; r < x.data.length / cols; r++) {
    const row = x.data.subarray(r * cols, (r + 1) * cols);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    // y = x − lse: both terms, x's own error, and lse's (Σ softmax·error of each x)
    let spread = 0;
    row.forEach((v, j) => (spread += times(Math.exp(v - lse), x.mag[r * cols + j]!)));
    row.forEach((v, j) => {
      y[r * cols + j] = v - lse;
      mag[r * cols + j] = Math.abs(v) + Math.abs(lse) + x.mag[r * cols + j]! + spread;
    });
  }
  // dx = g − p·Σg per row: the factors 1 and p, p's spread p·mag of its exponent
  return new V(R.ref(x.shape, y), [x], (g, widen) => {
    for (let r = 0; r < g.length / cols; r++) {
      let [s, sw] = [0, 0];
      for (let j = 0; j < cols; j++) {
        s += g[r * cols + j]!;
        sw += widen?.[r * cols + j] ?? 0;
      }
      for (let j = 0; j < cols; j++) {
        const e = r * cols + j;
        const p = Math.exp(y[e]!);
        if (!widen) {
          x.grad[e]! += g[e]! - p * s;
        } else {
          x.gradAbs[e]! += g[e]! + p * s;
          x.gradWiden[e]! += widen[e]! + p * sw + times(times(p, mag[e]!), s);
        }
      }
    }
  }, mag);
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

/** Scatters g into the elements of x at flat indices `at` (a window, a gather's sources). */
function scatter(x: V, at: ArrayLike<number>, g: Float64Array, widen: Float64Array | null): void {
  pass(x, g, widen, (h) => {
    const full = new Float64Array(x.data.length);
    for (let i = 0; i < at.length; i++) full[at[i]!]! += h[i]!;
    return full;
  });
}

/** x's flat indices, as a Ref of its shape: slicing or gathering it gives the sources of each output. */
const indexMap = (x: V) => R.ref(x.shape, x.data.map((_, i) => i));
const gather = (from: ArrayLike<number>, at: ArrayLike<number>) => Array.from(at, (i) => from[i]!);

export function slice(x: V, begin: number[], shape: number[]): V {
  const at = R.slice(indexMap(x), begin, shape).data;
  return new V(R.ref(shape, gather(x.data, at)), [x], (g, widen) => scatter(x, at, g, widen), gather(x.mag, at));
}

export function concat(xs: V[], axis: number): V {
  const y = R.concat(xs.map((x) => x.value), axis);
  const mag = R.concat(xs.map(magRef), axis).data;
  return new V(y, xs, (g, widen) => {
    let at = 0;
    for (const x of xs) {
      const begin = y.shape.map((_, k) => (k === axis ? at : 0));
      pass(x, g, widen, (h) => R.slice(R.ref(y.shape, h), begin, x.shape).data);
      at += x.shape[axis]!;
    }
  }, mag);
}

export function broadcastTo(x: V, shape: number[]): V {
  const zeros = R.ref(shape, new Float64Array(R.size(shape)));
  const y = R.zip(x.value, zeros, (u) => u);
  return new V(y, [x], (g, widen) => pass(x, g, widen, (h) => sumToShape(R.ref(shape, h), x.shape)), R.zip(magRef(x), zeros, (u) => u).data);
}

/** Maximum over axes; the gradient is shared evenly among tied maxima (torch.amax). */
export function max(x: V, axes: number[], keepdim = false): V {
  const y = R.reduce(x.value, axes, keepdim, R.maxOf);
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const ym = R.ref(kept, y.data);
  const hit = R.zip(x.value, ym, (u, m) => +(u === m));
  const ties = R.reduce(hit, axes, true, R.sumOf);
  const spreadOver = (h: Float64Array) => R.zip(hit, R.zip(R.ref(kept, h), ties, (gi, t) => gi / t), (on, s) => on * s).data;
  return new V(y, [x], (g, widen) => pass(x, g, widen, spreadOver), R.reduce(magRef(x), axes, keepdim, R.maxOf).data);
}

export function conv2d(x: V, w: V, bias: V | null, a: R.ConvArgs): V {
  const y = R.conv2d(x.value, w.value, bias?.value ?? null, a);
  const mag = new Float64Array(y.data.length);
  R.convTaps(x.shape, w.shape, a, (yi, xi, wi) => (mag[yi]! += x.mag[xi]! * Math.abs(w.data[wi]!) + Math.abs(x.data[xi]!) * w.mag[wi]!));
  if (bias) mag.forEach((_, i) => (mag[i]! += bias.mag[Math.floor(i / (y.shape[2]! * y.shape[3]!)) % y.shape[1]!]!));
  return new V(y, bias ? [x, w, bias] : [x, w], (g, widen) => {
    R.convTaps(x.shape, w.shape, a, (yi, xi, wi) => {
      term(x, xi, w.data[wi]!, w.mag[wi]!, g[yi]!, widen?.[yi] ?? null);
      term(w, wi, x.data[xi]!, x.mag[xi]!, g[yi]!, widen?.[yi] ?? null);
    });
    if (bias) pass(bias, g, widen, (h) => sumToShape(R.ref(y.shape, h), [1, y.shape[1]!, 1, 1]));
  }, mag);
}

export function maxPool2d(x: V, a: R.PoolArgs): V {
  const windows: number[][] = [];
  const shape = R.poolWindows(x.shape, a, (_, xs) => windows.push(xs));
  // the first maximum of each window (row-major scan) takes the gradient, as PyTorch and the GPU's saved index
  const winners = windows.map((xs) => xs.reduce((best, i) => (x.data[i]! > x.data[best]! ? i : best), xs[0]!));
  const mag = windows.map((xs) => Math.max(...xs.map((i) => x.mag[i]!)));
  return new V(R.ref(shape, gather(x.data, winners)), [x], (g, widen) => scatter(x, winners, g, widen), mag);
}

export function avgPool2d(x: V, a: R.PoolArgs): V {
  const windows: Array<[number[], number]> = [];
  const shape = R.poolWindows(x.shape, a, (_, xs, d) => windows.push([xs, d]));
  const y = windows.map(([xs, d]) => xs.reduce((s, i) => s + x.data[i]!, 0) / d);
  const mag = windows.map(([xs, d]) => xs.reduce((s, i) => s + x.mag[i]!, 0) / d);
  return new V(R.ref(shape, y), [x], (g, widen) => pass(x, g, widen, (h) => {
    const full = new Float64Array(x.data.length);
    windows.forEach(([xs, d], o) => xs.forEach((i) => (full[i]! += h[o]! / d)));
    return full;
  }), mag);
}

export function indexSelect(x: V, axis: number, indices: number[]): V {
  const index = indexMap(x);
  const parts = indices.map((k) => R.slice(index, x.shape.map((_, a) => (a === axis ? k : 0)), x.shape.map((d, a) => (a === axis ? 1 : d))));
  const at = R.concat(parts, axis);
  return new V(R.ref(at.shape, gather(x.data, at.data)), [x], (g, widen) => scatter(x, at.data, g, widen), gather(x.mag, at.data));
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
