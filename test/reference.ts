// The float64 CPU reference every GPU op is checked against. Plain loops, no cleverness: each
// function states the op's definition. Arrays are row-major; shapes as in the engine.

export interface Ref {
  shape: number[];
  data: Float64Array;
}

export const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export function ref(shape: readonly number[], data: ArrayLike<number>): Ref {
  return { shape: [...shape], data: Float64Array.from(data) };
}

function strides(shape: readonly number[]): number[] {
  const s = shape.map(() => 1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1]! * shape[i + 1]!;
  return s;
}

/** Coordinates of flat index i in shape. */
function coords(i: number, shape: readonly number[]): number[] {
  const c = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    c[k] = i % shape[k]!;
    i = Math.floor(i / shape[k]!);
  }
  return c;
}

export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  return Array.from({ length: rank }, (_, i) => {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    return da === 1 ? db : da;
  });
}

/** Flat index into `shape` for output coordinates `c` of a broadcast result. */
function broadcastIndex(c: number[], shape: readonly number[]): number {
  const lead = c.length - shape.length;
  const s = strides(shape);
  let idx = 0;
  for (let k = 0; k < shape.length; k++) idx += (shape[k] === 1 ? 0 : c[k + lead]!) * s[k]!;
  return idx;
}

export function map(x: Ref, f: (v: number) => number): Ref {
  return { shape: [...x.shape], data: x.data.map(f) };
}

export function zip(a: Ref, b: Ref, f: (u: number, v: number) => number): Ref {
  const shape = broadcastShape(a.shape, b.shape);
  const data = new Float64Array(size(shape));
  for (let i = 0; i < data.length; i++) {
    const c = coords(i, shape);
    data[i] = f(a.data[broadcastIndex(c, a.shape)]!, b.data[broadcastIndex(c, b.shape)]!);
  }
  return { shape, data };
}

/** Reduces the given axes with f over the values of each output (in index order). */
export function reduce(x: Ref, axes: number[], keepdim: boolean, f: (values: number[]) => number): Ref {
  const ax = axes.map((a) => (a < 0 ? a + x.shape.length : a));
  const outFull = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const groups: number[][] = Array.from({ length: size(outFull) }, () => []);
  for (let i = 0; i < x.data.length; i++) {
    const c = coords(i, x.shape).map((v, k) => (ax.includes(k) ? 0 : v));
    groups[c.reduce((acc, v, k) => acc * outFull[k]! + v, 0)]!.push(x.data[i]!);
  }
  const shape = keepdim ? outFull : x.shape.filter((_, i) => !ax.includes(i));
  return { shape, data: Float64Array.from(groups, f) };
}

export const sumOf = (v: number[]) => v.reduce((a, b) => a + b, 0);
export function maxOf(v: number[]): number {
  let m = -Infinity;
  for (const x of v) {
    if (Number.isNaN(x)) return NaN;
    if (x > m) m = x;
  }
  return m;
}

/** torch.argmax: the first NaN if there is one, else the first index of the maximum. */
export function argmaxOf(v: number[]): number {
  let best = 0;
  for (let i = 0; i < v.length; i++) {
    if (Number.isNaN(v[i]!)) return i;
    if (v[i]! > v[best]!) best = i;
  }
  return best;
}

export function permute(x: Ref, axes: number[]): Ref {
  const shape = axes.map((a) => x.shape[a]!);
  const data = new Float64Array(x.data.length);
  const s = strides(x.shape);
  for (let i = 0; i < data.length; i++) {
    const c = coords(i, shape);
    data[i] = x.data[c.reduce((acc, v, k) => acc + v * s[axes[k]!]!, 0)]!;
  }
  return { shape, data };
}

/** x[begin[k] : begin[k] + shape[k]] along every axis. */
export function slice(x: Ref, begin: number[], shape: number[]): Ref {
  const s = strides(x.shape);
  const data = new Float64Array(size(shape));
  for (let i = 0; i < data.length; i++) {
    data[i] = x.data[coords(i, shape).reduce((acc, v, k) => acc + (v + begin[k]!) * s[k]!, 0)]!;
  }
  return { shape, data };
}

export function concat(xs: Ref[], axis: number): Ref {
  const shape = [...xs[0]!.shape];
  shape[axis] = xs.reduce((a, x) => a + x.shape[axis]!, 0);
  const data = new Float64Array(size(shape));
  for (let i = 0; i < data.length; i++) {
    const c = coords(i, shape);
    let j = 0;
    while (c[axis]! >= xs[j]!.shape[axis]!) c[axis]! -= xs[j++]!.shape[axis]!;
    const x = xs[j]!;
    data[i] = x.data[c.reduce((acc, v, k) => acc * x.shape[k]! + v, 0)]!;
  }
  return { shape, data };
}

/** torch.matmul semantics on ≥2-D operands, with optional transposes of the last two axes. */
export function matmul(a: Ref, b: Ref, transA = false, transB = false): Ref {
  const at = transA ? permute(a, [...a.shape.keys()].map((k, _, arr) => (k < arr.length - 2 ? k : 2 * arr.length - 3 - k))) : a;
  const bt = transB ? permute(b, [...b.shape.keys()].map((k, _, arr) => (k < arr.length - 2 ? k : 2 * arr.length - 3 - k))) : b;
  const [m, k] = at.shape.slice(-2) as [number, number];
  const n = bt.shape.at(-1)!;
  const batch = broadcastShape(at.shape.slice(0, -2), bt.shape.slice(0, -2));
  const shape = [...batch, m, n];
  const data = new Float64Array(size(shape));
  const aBatch = at.shape.slice(0, -2);
  const bBatch = bt.shape.slice(0, -2);
  for (let bi = 0; bi < size(batch); bi++) {
    const c = coords(bi, batch);
    const ao = broadcastIndex(c, aBatch) * m * k;
    const bo = broadcastIndex(c, bBatch) * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let p = 0; p < k; p++) acc += at.data[ao + i * k + p]! * bt.data[bo + p * n + j]!;
        data[(bi * m + i) * n + j] = acc;
      }
    }
  }
  return { shape, data };
}

// Philox4x32-10 in plain integer JavaScript, for checking the GPU generator bit for bit.
function mulhilo(a: number, b: number): [number, number] {
  const p = BigInt(a >>> 0) * BigInt(b >>> 0);
  return [Number(p >> 32n) >>> 0, Number(p & 0xffffffffn) >>> 0];
}

export function philox(counter: [number, number, number, number], key: [number, number]): number[] {
  let [c0, c1, c2, c3] = counter;
  let [k0, k1] = key;
  for (let r = 0; r < 10; r++) {
    const [hi0, lo0] = mulhilo(0xd2511f53, c0);
    const [hi1, lo1] = mulhilo(0xcd9e8d57, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
    k0 = (k0 + 0x9e3779b9) >>> 0;
    k1 = (k1 + 0xbb67ae85) >>> 0;
  }
  return [c0, c1, c2, c3];
}

/** Raw 32-bit words of the generator's stream: element i of a draw at block offset `offset`. */
export function philoxWords(seed: number, offset: number, n: number): number[] {
  const key: [number, number] = [seed % 2 ** 32, Math.floor(seed / 2 ** 32)];
  const out: number[] = [];
  for (let blk = 0; out.length < n; blk++) {
    const c = offset + blk;
    out.push(...philox([c % 2 ** 32, Math.floor(c / 2 ** 32), 0, 0], key));
  }
  return out.slice(0, n);
}

/** erf in float64: its Maclaurin series below 2.5 and a continued fraction for erfc above (~1e-13). */
export function erf(x: number): number {
  const t = Math.abs(x);
  if (t < 2.5) {
    let term = t;
    let sum = t;
    for (let k = 1; k < 60; k++) {
      term *= (-t * t) / k;
      sum += term / (2 * k + 1);
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = 0;
  for (let k = 60; k >= 1; k--) f = k / 2 / (t + f);
  return Math.sign(x) * (1 - Math.exp(-t * t) / Math.sqrt(Math.PI) / (t + f));
}

export interface ConvArgs {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
}

/**
 * Visits every (output, input, weight) index triple of a 2-D convolution whose input tap lies
 * inside the image: the one loop nest behind the reference forward and both its gradients.
 */
export function convTaps(xShape: number[], wShape: number[], a: ConvArgs, visit: (yi: number, xi: number, wi: number) => void): number[] {
  const [n, c, h, w] = xShape as [number, number, number, number];
  const [oc, cg, kh, kw] = wShape as [number, number, number, number];
  const oh = Math.floor((h + 2 * a.padding[0] - a.dilation[0] * (kh - 1) - 1) / a.stride[0]) + 1;
  const ow = Math.floor((w + 2 * a.padding[1] - a.dilation[1] * (kw - 1) - 1) / a.stride[1]) + 1;
  const ocg = oc / a.groups;
  for (let b = 0; b < n; b++) for (let o = 0; o < oc; o++) for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) {
    const yi = ((b * oc + o) * oh + y) * ow + x;
    const g = Math.floor(o / ocg);
    for (let i = 0; i < cg; i++) for (let p = 0; p < kh; p++) for (let q = 0; q < kw; q++) {
      const ih = y * a.stride[0] - a.padding[0] + p * a.dilation[0];
      const iw = x * a.stride[1] - a.padding[1] + q * a.dilation[1];
      if (ih < 0 || iw < 0 || ih >= h || iw >= w) continue;
      visit(yi, ((b * c + g * cg + i) * h + ih) * w + iw, ((o * cg + i) * kh + p) * kw + q);
    }
  }
  return [n, oc, oh, ow];
}

export function conv2d(x: Ref, w: Ref, bias: Ref | null, a: ConvArgs): Ref {
  const shape = convTaps(x.shape, w.shape, a, () => {});
  const data = new Float64Array(size(shape));
  convTaps(x.shape, w.shape, a, (yi, xi, wi) => (data[yi]! += x.data[xi]! * w.data[wi]!));
  if (bias) data.forEach((_, i) => (data[i]! += bias.data[Math.floor(i / (shape[2]! * shape[3]!)) % shape[1]!]!));
  return { shape, data };
}

export interface PoolArgs {
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  /** adaptive_avg_pool2d to `kernel`-sized output instead of sliding windows */
  adaptive?: boolean;
}

/** Each output of a 2-D pooling: its flat index, the flat input indices of its window, its divisor. */
export function poolWindows(xShape: number[], a: PoolArgs, visit: (yi: number, xs: number[], divisor: number) => void): number[] {
  const [n, c, h, w] = xShape as [number, number, number, number];
  const axis = (o: number, size: number, k: number, s: number, p: number, osize: number): [number, number, number] => {
    if (a.adaptive) {
      const lo = Math.floor((o * size) / osize);
      const hi = Math.ceil(((o + 1) * size) / osize);
      return [lo, hi, hi - lo];
    }
    const lo = o * s - p;
    const hi = Math.min(lo + k, size + p);
    return [Math.max(lo, 0), Math.min(hi, size), hi - lo];
  };
  const [oh, ow] = a.adaptive
    ? a.kernel
    : [Math.floor((h + 2 * a.padding[0] - a.kernel[0]) / a.stride[0]) + 1, Math.floor((w + 2 * a.padding[1] - a.kernel[1]) / a.stride[1]) + 1];
  for (let plane = 0; plane < n * c; plane++) for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) {
    const [r0, r1, dr] = axis(y, h, a.kernel[0], a.stride[0], a.padding[0], oh);
    const [c0, c1, dc] = axis(x, w, a.kernel[1], a.stride[1], a.padding[1], ow);
    const xs: number[] = [];
    for (let r = r0; r < r1; r++) for (let q = c0; q < c1; q++) xs.push((plane * h + r) * w + q);
    visit((plane * oh + y) * ow + x, xs, dr * dc);
  }
  return [n, c, oh, ow];
}
