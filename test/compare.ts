// The suite's comparator: a result against its float64 reference, element by element, in the
// convention of torch.testing.assert_close and numpy.allclose:
//
//     |out[i] − ref[i]| ≤ atol + rtol · scale[i]
//
// scale[i] is |ref[i]| for a pointwise op. Where one output element is formed from many terms, it
// is the condition-aware magnitude of the element instead: Σ|aₖbₖ| for a dot product, Σ|xₖ| for a
// sum, and for composed ops the float64 reference autograd's running magnitudes (test/ref-autograd.ts),
// so a sum that cancels to near zero is held to the rounding its terms allow, and every other
// element to its own size. A whole-array norm (‖out − ref‖ / ‖ref‖) lets large entries hide a wrong
// small one; this does not. Tolerances per dtype and op class are derived in docs/TESTING.md.
// Independent of src/: nothing here comes from the code under test.
import { seedNote } from './seed.js';

/** f32 unit roundoff: half the spacing of f32 numbers in [1, 2). */
export const U32 = 2 ** -24;
/** float64 unit roundoff. */
export const U64 = 2 ** -53;
/** Smallest normal f32: WGSL lets an implementation flush subnormal results to zero. */
export const F32_TINY = 2 ** -126;

export interface Tolerance {
  rtol: number;
  atol: number;
  /** the op class, named in failure messages */
  name: string;
}

/**
 * f32 results against float64 references (inputs are f32 values, so the reference sees exactly what
 * the GPU saw). Derivations in docs/TESTING.md.
 */
export const F32 = {
  /** one op per element: a correctly rounded operation or a builtin within a few ulp (WGSL's exp, log, pow, sin, …), scale |ref| plus the input's condition |x·f′(x)| */
  pointwise: { rtol: 8 * U32, atol: F32_TINY, name: 'f32 pointwise' },
  /** sums, dot products, convolutions, and whole composed forward and backward passes: relative to the condition-aware scale */
  accumulate: { rtol: 256 * U32, atol: F32_TINY, name: 'f32 accumulation' },
  /**
   * Hessian-vector products (a backward differentiated again) against central differences of
   * float64 gradients, relative to rmsScale: two composed passes of f32 rounding, and the float64
   * differences' own truncation error (about 1e-8 relative at their step)
   */
  secondOrder: { rtol: 1e-4, atol: 0, name: 'f32 second order' },
} as const satisfies Record<string, Tolerance>;

/** Bit-for-bit: data movement, integer results, comparisons. */
export const EXACT: Tolerance = { rtol: 0, atol: 0, name: 'exact' };

export interface Mismatch {
  index: number;
  out: number;
  ref: number;
  scale: number;
  bound: number;
}

export interface Comparison {
  /** elements outside their bound */
  failures: number;
  /** the element furthest outside (or, when all pass, closest to) its bound, by |out − ref| / bound */
  worst: Mismatch | null;
}

function sameSpecial(o: number, r: number): boolean {
  return (Number.isNaN(o) && Number.isNaN(r)) || (o === r && !Number.isFinite(r));
}

/** Compares element by element; `scale` (default |ref|) is each element's condition-aware magnitude. */
export function compare(out: ArrayLike<number>, ref: ArrayLike<number>, tol: Tolerance, scale?: ArrayLike<number>): Comparison {
  if (out.length !== ref.length) throw new Error(`compare: ${out.length} results for ${ref.length} reference values`);
  if (scale && scale.length !== ref.length) throw new Error(`compare: ${scale.length} scales for ${ref.length} reference values`);
  let failures = 0;
  let worst: Mismatch | null = null;
  let worstRatio = -1;
  for (let i = 0; i < ref.length; i++) {
    const o = out[i]!;
    const r = ref[i]!;
    if (sameSpecial(o, r)) continue;
    const s = scale ? scale[i]! : Math.abs(r);
    const bound = tol.atol + tol.rtol * s;
    const diff = Math.abs(o - r);
    // NaN (an unwritten, poisoned output) or an infinity where the reference has none fails
    const ratio = Number.isNaN(diff) || diff === Infinity ? Infinity : bound > 0 ? diff / bound : diff > 0 ? Infinity : 0;
    if (!(diff <= bound)) failures++;
    if (ratio > worstRatio) {
      worstRatio = ratio;
      worst = { index: i, out: o, ref: r, scale: s, bound };
    }
  }
  return { failures, worst };
}

/**
 * ‖out − ref‖ / ‖ref‖ over a whole tensor: only where a specification states its bound this way
 * (an optimizer's parameters against torch.optim, "≤ 1e-6 relative per tensor"); element checks
 * use compare().
 */
export function normRelative(out: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (out.length !== ref.length) throw new Error(`normRelative: ${out.length} results for ${ref.length} reference values`);
  let d = 0;
  let r = 0;
  for (let i = 0; i < ref.length; i++) {
    d += (out[i]! - ref[i]!) ** 2;
    r += ref[i]! ** 2;
  }
  return Math.sqrt(d) / Math.sqrt(r || 1);
}

/** Root mean square of the values. */
export function rms(values: ArrayLike<number>): number {
  let sq = 0;
  for (let i = 0; i < values.length; i++) sq += values[i]! ** 2;
  return Math.sqrt(sq / Math.max(values.length, 1));
}

/**
 * The scale for a composed network's outputs and gradients: each element's size plus its tensor's
 * RMS (worst-case rounding magnitudes compound through layers far above real errors; see
 * docs/TESTING.md), so elements near zero are held to the tensor's scale, the rest to their own.
 */
export function rmsScale(values: ArrayLike<number>): Float64Array {
  const r = rms(values);
  return Float64Array.from(values, (v) => Math.abs(v) + r);
}

/** Coordinates of flat index i in a row-major shape. */
function coords(i: number, shape: readonly number[]): number[] {
  const c: number[] = [];
  for (let k = shape.length - 1; k >= 0; k--) {
    c.unshift(i % shape[k]!);
    i = Math.floor(i / shape[k]!);
  }
  return c;
}

const fmt = (v: number) => String(Number.isFinite(v) ? Number(v.toPrecision(9)) : v);

/** The failure message: how many elements, the worst one with its index, values and bound, the tolerance and the seed. */
export function describeMismatch(c: Comparison, n: number, tol: Tolerance, what: string, shape?: readonly number[]): string {
  const w = c.worst!;
  const where = shape && shape.length > 1 ? ` [${coords(w.index, shape).join(', ')}]` : '';
  const unwritten = Number.isNaN(w.out) ? ' (NaN: an unwritten output?)' : '';
  return (
    `${what}: ${c.failures} of ${n} elements outside |out − ref| ≤ atol + rtol·scale (${tol.name}: rtol ${tol.rtol.toExponential(2)}, atol ${tol.atol.toExponential(2)}); ` +
    `worst at index ${w.index}${where}: out ${fmt(w.out)}, ref ${fmt(w.ref)}, |diff| ${fmt(Math.abs(w.out - w.ref))} > bound ${fmt(w.bound)} (scale ${fmt(w.scale)})${unwritten}; ${seedNote}`
  );
}

/** Throws with describeMismatch's message unless every element is within its bound. */
export function assertClose(out: ArrayLike<number>, ref: ArrayLike<number>, tol: Tolerance, what: string, opts: { scale?: ArrayLike<number>; shape?: readonly number[] } = {}): void {
  const c = compare(out, ref, tol, opts.scale);
  if (MARGINS && c.worst) logMargin(c.worst, tol, what);
  if (c.failures > 0) throw new Error(describeMismatch(c, ref.length, tol, what, opts.shape));
}

// LOSSCAPE_TEST_MARGINS=1 logs each comparison's worst element as its error over the tolerance's
// scale in units of the roundoff (|diff| / (u·scale)) and the fraction of the bound it uses: the
// measurements behind the tolerances in docs/TESTING.md.
const MARGINS = Boolean(process.env.LOSSCAPE_TEST_MARGINS);

function logMargin(w: Mismatch, tol: Tolerance, what: string): void {
  const diff = Math.abs(w.out - w.ref);
  const u = tol.name.startsWith('f64') ? U64 : U32;
  console.log(`margin\t${tol.name}\t${(diff / (u * w.scale) || 0).toFixed(2)} u\t${(diff / w.bound || 0).toFixed(4)} of bound\t${what}`);
}
