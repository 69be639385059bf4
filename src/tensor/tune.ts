// The autotuner: kernel families with numbered versions (matmul v1-v9 in kernels/matmul*.wgsl,
// conv2d's forward kernels) pick a version per shape class by timing each on the adapter in use,
// once: every version is first checked against a float64 product of a small case (a version that
// is wrong on this adapter is never picked), then timed on one representative shape per class, in
// alternating rounds. The result is a table (gpu/selection.ts) the engine takes as data; the Node
// entry caches it on disk per adapter and driver (src/node/tune.ts), and with tuning off (tests,
// LOSSCAPE_TUNE=0) nothing is measured and each op runs its fixed default.
import type { Engine } from '../gpu/engine.js';
import type { TunedTable } from '../gpu/selection.js';
import { ATTENTION_DEFAULT, ATTENTION_VERSIONS, attention, attentionClass, type AttentionVersion } from './attention.js';
import { grad, noGrad } from './autograd.js';
import { conv2d, CONV2D_DEFAULT, CONV2D_VERSIONS, conv2dClass, type Conv2dVersion } from './conv.js';
import { fromArray } from './creation.js';
import { matmul, MATMUL_DEFAULT, MATMUL_VERSIONS, matmulClass, type MatmulVersion } from './matmul.js';
import { Generator } from './random.js';
import { sum } from './reduce.js';
import { tidy } from './scope.js';
import type { Tensor } from './tensor.js';

export interface KernelFamily {
  versions: readonly string[];
  /** what runs untuned */
  fallback: string;
  /** one representative call per shape class: inputs, and the op with a version forced */
  classes: Record<string, { inputs: () => Tensor[]; run: (xs: Tensor[], version: string) => Tensor }>;
  /** throws if the version's result on a small case is not the float64 one */
  check: (version: string) => Promise<void>;
  /** why a version cannot run on this engine (it would fall back to another), or null */
  unavailable?: (version: string, engine: Engine) => string | null;
}

const SUBGROUP_VERSIONS: Record<string, readonly string[]> = { matmul: ['v7', 'v8', 'v9'], conv2d: ['v3'] };
const needsSubgroups = (family: string) => (version: string, engine: Engine) =>
  SUBGROUP_VERSIONS[family]!.includes(version) && engine.subgroupLanes < 8 ? 'needs subgroups of at least 8 lanes, which this adapter lacks' : null;

/** A small case's float64 check: every element within 256 f32 rounding units of Σ|terms|. */
function checkClose(got: Float32Array, want: Float64Array, magnitude: Float64Array, what: string): void {
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i]! - want[i]!) <= 256 * 2 ** -24 * magnitude[i]! + 1e-30)) throw new Error(`${what}: element ${i} is ${got[i]}, float64 gives ${want[i]}`);
  }
}

const uniform = (n: number, seed: number) => {
  let s = seed;
  return Float32Array.from({ length: n }, () => ((s = (s * 48271) % 2147483647) / 2147483647) * 2 - 1);
};

async function checkMatmul(version: MatmulVersion): Promise<void> {
  const [m, k, n] = [37, 29, 43];
  for (const [transA, transB] of [[false, false], [false, true], [true, false]] as const) {
    const [a, b] = [uniform(m * k, 1), uniform(k * n, 2)];
    const want = new Float64Array(m * n);
    const mag = new Float64Array(m * n);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) {
      const t = a[transA ? p * m + i : i * k + p]! * b[transB ? j * k + p : p * n + j]!;
      want[i * n + j] += t;
      mag[i * n + j] += Math.abs(t);
    }
    const [ta, tb] = [fromArray(a, transA ? [k, m] : [m, k]), fromArray(b, transB ? [n, k] : [k, n])];
    const c = noGrad(() => matmul(ta, tb, { transA, transB, version }));
    checkClose(await c.data(), want, mag, `matmul ${version} (transA ${transA}, transB ${transB})`);
    for (const t of [ta, tb, c]) t.dispose();
  }
}

async function checkConv(version: Conv2dVersion): Promise<void> {
  // [N, C, H, W], [OC, C, K, K], stride, padding: odd sizes, a stride, more channels than a tile
  for (const [[n, c, h, w], [oc, , kh], stride, pad] of [[[2, 3, 9, 11], [5, 3, 3, 3], 1, 1], [[1, 4, 8, 7], [36, 4, 3, 3], 2, 0]] as const) {
    const [x, wt, bias] = [uniform(n * c * h * w, 3), uniform(oc * c * kh * kh, 4), uniform(oc, 5)];
    const [oh, ow] = [Math.floor((h + 2 * pad - kh) / stride) + 1, Math.floor((w + 2 * pad - kh) / stride) + 1];
    const want = new Float64Array(n * oc * oh * ow);
    const mag = new Float64Array(want.length);
    for (let b = 0; b < n; b++) for (let o = 0; o < oc; o++) for (let y = 0; y < oh; y++) for (let z = 0; z < ow; z++) {
      const at = ((b * oc + o) * oh + y) * ow + z;
      want[at] = bias[o]!;
      mag[at] = Math.abs(bias[o]!);
      for (let i = 0; i < c; i++) for (let p = 0; p < kh; p++) for (let q = 0; q < kh; q++) {
        const [iy, ix] = [y * stride - pad + p, z * stride - pad + q];
        if (iy < 0 || ix < 0 || iy >= h || ix >= w) continue;
        const t = x[((b * c + i) * h + iy) * w + ix]! * wt[((o * c + i) * kh + p) * kh + q]!;
        want[at] += t;
        mag[at] += Math.abs(t);
      }
    }
    const ts = [fromArray(x, [n, c, h, w]), fromArray(wt, [oc, c, kh, kh]), fromArray(bias, [oc])];
    const y = noGrad(() => conv2d(ts[0]!, ts[1]!, ts[2]!, { stride, padding: pad, version }));
    checkClose(await y.data(), want, mag, `conv2d ${version} (${n}x${c}x${h}x${w}, ${oc} filters, stride ${stride})`);
    for (const t of [...ts, y]) t.dispose();
  }
}

const normal = (shape: number[], seed: number) => new Generator(seed).normal(shape);

async function checkAttention(version: AttentionVersion): Promise<void> {
  const [s, t, d] = [11, 13, 8]; // queries, keys, head dim
  const [q, k, v] = [uniform(s * d, 6), uniform(t * d, 7), uniform(t * d, 8)];
  const want = new Float64Array(s * d);
  const mag = new Float64Array(s * d);
  for (let i = 0; i < s; i++) {
    const scores = Array.from({ length: t }, (_, j) => q.slice(i * d, (i + 1) * d).reduce((a, x, e) => a + x * k[j * d + e]!, 0) / Math.sqrt(d));
    const top = Math.max(...scores);
    const w = scores.map((x) => Math.exp(x - top));
    const total = w.reduce((a, b) => a + b, 0);
    for (let e = 0; e < d; e++) {
      for (let j = 0; j < t; j++) {
        want[i * d + e] += (w[j]! / total) * v[j * d + e]!;
        // the output's rounding: its terms p·v, each p carrying the rounding of a d-term score
        mag[i * d + e] += (w[j]! / total) * Math.abs(v[j * d + e]!) * (1 + d);
      }
    }
  }
  const ts = [fromArray(q, [1, s, d]), fromArray(k, [1, t, d]), fromArray(v, [1, t, d])];
  const o = noGrad(() => attention(ts[0]!, ts[1]!, ts[2]!, { version }));
  checkClose(await o.data(), want, mag, `attention ${version}`);
  for (const x of [...ts, o]) x.dispose();
}

/** The families the tuner knows, their versions and shape classes. */
export const KERNEL_FAMILIES: Record<string, KernelFamily> = {
  matmul: {
    versions: MATMUL_VERSIONS, fallback: MATMUL_DEFAULT, check: (v) => checkMatmul(v as MatmulVersion), unavailable: needsSubgroups('matmul'),
    // one representative per matmulClass(): a tiny product, a classifier (N = 10), a ViT qkv
    // projection (K = 64), the MLP's first layer (N = 128), a square one
    classes: Object.fromEntries(([[64, 64, 64, false], [4000, 128, 10, true], [4250, 64, 192, true], [1000, 784, 128, true], [512, 512, 512, false]] as const).map(([m, k, n, transB]) => [
      matmulClass(m, k, n),
      { inputs: () => [normal([m, k], 1), normal(transB ? [n, k] : [k, n], 2)], run: ([a, b]: Tensor[], v: string) => matmul(a!, b!, { transB, version: v as MatmulVersion }) },
    ])),
  },
  attention: {
    versions: ATTENTION_VERSIONS, fallback: ATTENTION_DEFAULT, check: (v) => checkAttention(v as AttentionVersion),
    // forward and backward (what training runs) at a ViT's 17 tokens... 1024: 64, 197 and 512 keys
    classes: Object.fromEntries(([[8, 64], [8, 197], [4, 512]] as const).map(([bh, t]) => [
      attentionClass(t),
      {
        inputs: () => [0, 1, 2].map((i) => normal([bh, t, 64], 5 + i).requireGrad()),
        run: ([q, k, v]: Tensor[], version: string) => {
          const o = attention(q!, k!, v!, { version: version as AttentionVersion });
          grad(sum(o), [q!, k!, v!]);
          return o;
        },
      },
    ])),
  },
  conv2d: {
    versions: CONV2D_VERSIONS, fallback: CONV2D_DEFAULT, check: (v) => checkConv(v as Conv2dVersion), unavailable: needsSubgroups('conv2d'),
    // the MNIST CNN's two layers at batch 64 and a ResNet stage's 3x3 64->64
    classes: Object.fromEntries(([[64, 1, 28, 8], [64, 8, 14, 16], [32, 64, 16, 64]] as const).map(([n, c, s, oc]) => [
      conv2dClass(c * 9, oc),
      { inputs: () => [normal([n, c, s, s], 3), normal([oc, c, 3, 3], 4)], run: ([x, w]: Tensor[], v: string) => conv2d(x!, w!, null, { padding: 1, version: v as Conv2dVersion }) },
    ])),
  },
};

export interface TuneResult {
  table: TunedTable;
  /** family -> class -> version -> median ms */
  ms: Record<string, Record<string, Record<string, number>>>;
  /** family -> version -> why it was not timed (its check failed, or it needs what the adapter lacks) */
  rejected: Record<string, Record<string, string>>;
}

async function seconds(engine: Engine, record: () => void): Promise<number> {
  const t0 = performance.now();
  record();
  await engine.sync();
  return (performance.now() - t0) / 1e3;
}

/**
 * Tunes every family (or those named): each version checked, then timed per class in `rounds`
 * alternating rounds after a warm-up (one call to compile, one timed); a version three times
 * slower than the best warm one is not timed further. Returns the table and what was measured.
 */
export async function tuneKernels(engine: Engine, opts: { families?: string[]; rounds?: number; log?: (line: string) => void } = {}): Promise<TuneResult> {
  const rounds = opts.rounds ?? 3;
  const result: TuneResult = { table: {}, ms: {}, rejected: {} };
  const forced = new Map(engine.kernels.forced);
  for (const f of forced.keys()) engine.kernels.force(f, null);
  try {
    for (const [name, family] of Object.entries(KERNEL_FAMILIES)) {
      if (opts.families && !opts.families.includes(name)) continue;
      const ok: string[] = [];
      result.rejected[name] = {};
      for (const v of family.versions) {
        const why = family.unavailable?.(v, engine);
        if (why) {
          result.rejected[name]![v] = why;
          continue;
        }
        try {
          await family.check(v);
          ok.push(v);
        } catch (e) {
          result.rejected[name]![v] = (e as Error).message;
        }
      }
      if (ok.length === 0) throw new Error(`tuning: no version of ${name} passed its check on this adapter (${Object.entries(result.rejected[name]!).map(([v, why]) => `${v}: ${why}`).join('; ')})`);
      result.table[name] = {};
      result.ms[name] = {};
      for (const [cls, rep] of Object.entries(family.classes)) {
        const xs = rep.inputs();
        const call = (v: string) => () => tidy(() => void rep.run(xs, v));
        for (const v of ok) await seconds(engine, call(v)); // pipelines compiled
        const warm = new Map<string, number>();
        for (const v of ok) warm.set(v, await seconds(engine, call(v)));
        const best = Math.min(...warm.values());
        const timed = ok.filter((v) => warm.get(v)! <= 3 * best);
        const times = new Map(timed.map((v) => [v, [] as number[]]));
        for (let r = 0; r < rounds; r++) for (const v of timed) times.get(v)!.push(await seconds(engine, call(v)));
        const median = (t: number[]) => [...t].sort((a, b) => a - b)[Math.floor((t.length - 1) / 2)]!;
        result.ms[name]![cls] = Object.fromEntries(timed.map((v) => [v, 1e3 * median(times.get(v)!)]));
        const pick = timed.reduce((a, b) => (median(times.get(b)!) < median(times.get(a)!) ? b : a));
        result.table[name]![cls] = pick;
        opts.log?.(`tuned ${name} ${cls}: ${pick} (${timed.map((v) => `${v} ${result.ms[name]![cls]![v]!.toFixed(1)} ms`).join(', ')})`);
        xs.forEach((t) => t.dispose());
      }
    }
  } finally {
    for (const [f, v] of forced) engine.kernels.force(f, v);
  }
  return result;
}
