// Reductions over chosen axes: sum, mean, max, argmax (kernels/reduce.wgsl). The kernel reduces the
// middle axis of an [outer, r, inner] view, which any run of adjacent axes already is; a sum or max
// over axes that are not adjacent reduces one run at a time (a conv's bias gradient, the sum over
// [0, 2, 3]: two passes instead of a permuted copy and a pass, 3x faster on lavapipe), and argmax
// permutes them to the end first.
import { Params } from '../gpu/params.js';
import { noGrad, record } from './autograd.js';
import { div, eq, mul, requireF32 } from './elementwise.js';
import { broadcastTo, permute, reshape } from './layout.js';
import { getEngine } from './runtime.js';
import { normalizeAxis, numel, sameShape } from './shape.js';
import { Tensor, type DType } from './tensor.js';

type Axes = number | readonly number[] | undefined;

interface Plan {
  source: Tensor; // x, or a permuted copy to dispose after use
  outer: number;
  r: number;
  inner: number;
  outShape: number[];
}

function plan(op: string, x: Tensor, axes: Axes, keepdim: boolean): Plan {
  const list = axes === undefined ? x.shape.map((_, i) => i) : typeof axes === 'number' ? [axes] : [...axes];
  const set = [...new Set(list.map((a) => normalizeAxis(op, a, x.rank)))].sort((a, b) => a - b);
  const reduced = (i: number) => set.includes(i);
  const outShape = keepdim ? x.shape.map((d, i) => (reduced(i) ? 1 : d)) : x.shape.filter((_, i) => !reduced(i));
  const lo = set[0] ?? 0;
  const hi = set.at(-1) ?? -1;
  if (hi - lo + 1 === set.length) {
    return {
      source: x, outShape,
      outer: numel(x.shape.slice(0, lo)), r: numel(x.shape.slice(lo, hi + 1)), inner: numel(x.shape.slice(hi + 1)),
    };
  }
  const kept = x.shape.map((_, i) => i).filter((i) => !reduced(i));
  const source = permute(x, [...kept, ...set]);
  return { source, outShape, outer: numel(kept.map((i) => x.shape[i]!)), r: numel(set.map((i) => x.shape[i]!)), inner: 1 };
}

function run(op: string, x: Tensor, axes: Axes, keepdim: boolean, kind: 'sum' | 'max' | 'argmax'): Tensor {
  return noGrad(() => { // the public ops record the node
    const set = [...new Set(axisList(op, x, axes))].sort((a, b) => a - b);
    let runStart = set.length - 1; // where the last run of adjacent axes begins
    while (runStart > 0 && set[runStart - 1] === set[runStart]! - 1) runStart--;
    if (kind === 'argmax' || runStart <= 0) return runKernel(op, x, axes, keepdim, kind);
    // the last run of adjacent axes first, kept as 1s so that the other axes keep their places
    const partial = runKernel(op, x, set.slice(runStart), true, kind);
    const rest = run(op, partial, set.slice(0, runStart), true, kind);
    partial.dispose();
    if (keepdim) return rest;
    const out = reshape(rest, x.shape.filter((_, i) => !set.includes(i)));
    rest.dispose();
    return out;
  });
}

function runKernel(op: string, x: Tensor, axes: Axes, keepdim: boolean, kind: 'sum' | 'max' | 'argmax'): Tensor {
  requireF32(op, x);
  x.buffer(op);
  if (kind !== 'sum' && x.size === 0) throw new Error(`${op}: cannot reduce an empty tensor`);
  const p = plan(op, x, axes, keepdim);
  const dtype: DType = kind === 'argmax' ? 'i32' : 'f32';
  const y = Tensor.empty(p.outShape, dtype, op);
  const engine = getEngine();
  const outputs = p.outer * p.inner;
  const perWorkgroup = p.r >= 128 || (p.r >= 16 && outputs < 256);
  const limit = engine.workgroupSize(256);
  const wg = perWorkgroup ? 2 ** Math.floor(Math.log2(Math.min(limit, Math.max(32, p.r)))) : limit;
  const entry = `${kind === 'argmax' ? 'argmax' : 'reduce'}_${perWorkgroup ? 'wg' : 'thread'}`;
  engine.dispatch({
    kernel: 'reduce', entry,
    constants: kind === 'argmax' ? { WG: wg } : { WG: wg, OP: kind === 'max' ? 1 : 0 },
    params: new Params().u32(p.outer, p.r, p.inner).f32(-Infinity),
    buffers: [p.source.buffer(op), y.buffer(op)],
    workgroups: perWorkgroup ? outputs : Math.ceil(outputs / wg),
  });
  if (p.source !== x) p.source.dispose();
  return y;
}

/** The axes list an Axes argument names, normalized (all axes when omitted). */
function axisList(op: string, x: Tensor, axes: Axes): number[] {
  const list = axes === undefined ? x.shape.map((_, i) => i) : typeof axes === 'number' ? [axes] : [...axes];
  return list.map((a) => normalizeAxis(op, a, x.rank));
}

/** x's shape with the reduced axes kept as 1: the shape a reduction's gradient is broadcast from. */
function keptShape(op: string, x: Tensor, axes: Axes): number[] {
  const list = axisList(op, x, axes);
  return x.shape.map((d, i) => (list.includes(i) ? 1 : d));
}

/** Sum over `axes` (all when omitted). */
export function sum(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  const y = run('sum', x, axes, keepdim, 'sum');
  const kept = keptShape('sum', x, axes);
  return record('sum', [x], y, (g) => [broadcastGrad(g, kept, x.shape)]);
}

export function mean(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  const s = run('mean', x, axes, keepdim, 'sum');
  const count = x.size / Math.max(1, s.size);
  const m = noGrad(() => mul(s, 1 / count));
  s.dispose();
  const kept = keptShape('mean', x, axes);
  return record('mean', [x], m, (g) => [mul(broadcastGrad(g, kept, x.shape), 1 / count)]);
}

/** Maximum over `axes`; the gradient is shared evenly among tied maxima (as torch.amax). */
export function max(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  const y = run('max', x, axes, keepdim, 'max');
  const kept = keptShape('max', x, axes);
  const list = axisList('max', x, axes);
  return record('max', [x], y, (g, [xs, ys]) => {
    const hit = eq(xs!, reshape(ys!, kept));
    const ties = sum(hit, list, true);
    return [mul(hit, div(reshape(g, kept), ties))];
  }, [x, y]);
}

/** Index of the (first) maximum along one axis, or over the flattened tensor when axis is omitted. i32. */
export function argmax(x: Tensor, axis?: number, keepdim = false): Tensor {
  if (axis === undefined) {
    const flat = x.view([x.size], 'argmax');
    const y = run('argmax', flat, 0, false, 'argmax');
    flat.dispose();
    return y;
  }
  return run('argmax', x, axis, keepdim, 'argmax');
}

/** g (of the reduced shape) viewed as `kept` and broadcast back to `shape`. */
function broadcastGrad(g: Tensor, kept: readonly number[], shape: readonly number[]): Tensor {
  const v = reshape(g, kept);
  const out = broadcastTo(v, shape);
  v.dispose();
  return out;
}

/** Sums g down to `shape` over the axes along which `shape` was broadcast (the backward of broadcasting). */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes = g.shape.map((_, i) => i).filter((i) => i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1));
  const s = sum(g, axes, true);
  const out = reshape(s, shape);
  s.dispose();
  return out;
}
