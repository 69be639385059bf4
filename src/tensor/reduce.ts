// Reductions over chosen axes: sum, mean, max, argmax (kernels/reduce.wgsl). The kernel reduces the
// middle axis of an [outer, r, inner] view, which any run of adjacent axes already is; other axis
// sets are permuted to the end first.
import { Params } from '../gpu/params.js';
import { requireF32, mul } from './elementwise.js';
import { permute } from './layout.js';
import { getEngine } from './runtime.js';
import { normalizeAxis, numel } from './shape.js';
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

/** Sum over `axes` (all when omitted). */
export function sum(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  return run('sum', x, axes, keepdim, 'sum');
}

export function mean(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  const s = run('mean', x, axes, keepdim, 'sum');
  const count = x.size / Math.max(1, s.size);
  const m = mul(s, 1 / count);
  s.dispose();
  return m;
}

export function max(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  return run('max', x, axes, keepdim, 'max');
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
