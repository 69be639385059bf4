// Layout ops. reshape is a view, and so is a slice whose window is one contiguous, aligned run of
// the storage (q, k and v split off a packed [3, ...] tensor); permute/transpose, other slices,
// concat and broadcastTo are each one or more dispatches of the strided copy kernel
// (kernels/copy.wgsl), which works for f32 and i32 alike.
import { Params } from '../gpu/params.js';
import { record } from './autograd.js';
import { zeros } from './creation.js';
import { launchPerItem } from './launch.js';
import { sumTo } from './reduce.js';
import { getEngine } from './runtime.js';
import { broadcastShapes, broadcastStrides, normalizeAxis, numel, sameShape, shapeString, stridesOf } from './shape.js';
import { Tensor } from './tensor.js';

/** y[out_off + c·outStrides] = x[in_off + c·inStrides] for every coordinate c of `shape`. */
function stridedCopy(
  op: string, x: Tensor, y: Tensor, shape: readonly number[],
  inOffset: number, inStrides: readonly number[], outOffset: number, outStrides: readonly number[],
): void {
  const n = numel(shape);
  if (n === 0) return;
  const params = new Params().u32(n, shape.length, inOffset, outOffset).dims(shape).dims(inStrides).dims(outStrides);
  launchPerItem(getEngine(), 'copy', 'main', n, params, [x.buffer(op), y.buffer(op)], { RANK: shape.length });
}

/** A view with another shape (one axis may be -1, inferred). Shares storage; dispose it separately. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const wild = shape.indexOf(-1);
  if (wild >= 0) {
    const rest = numel(shape.filter((_, i) => i !== wild));
    if (rest === 0 || x.size % rest !== 0) {
      throw new Error(`reshape: cannot view shape ${shapeString(x.shape)} as ${shapeString(shape)}`);
    }
    shape = shape.map((d, i) => (i === wild ? x.size / rest : d));
  }
  const inShape = x.shape;
  return record('reshape', [x], x.view(shape, 'reshape'), (g) => [reshape(g, inShape)]);
}

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  const rank = x.rank;
  const axes = dims.map((d) => normalizeAxis('permute', d, rank));
  if (axes.length !== rank || new Set(axes).size !== rank) {
    throw new Error(`permute: [${dims.join(', ')}] is not a permutation of the ${rank} axes of ${shapeString(x.shape)}`);
  }
  const outShape = axes.map((a) => x.shape[a]!);
  const y = Tensor.empty(outShape, x.dtype, 'permute');
  const inStrides = stridesOf(x.shape);
  stridedCopy('permute', x, y, outShape, 0, axes.map((a) => inStrides[a]!), 0, stridesOf(outShape));
  const inverse = axes.map((_, i) => axes.indexOf(i));
  return record('permute', [x], y, (g) => [permute(g, inverse)]);
}

export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  const a = normalizeAxis('transpose', dim0, x.rank);
  const b = normalizeAxis('transpose', dim1, x.rank);
  const axes = x.shape.map((_, i) => i);
  [axes[a], axes[b]] = [axes[b]!, axes[a]!];
  return permute(x, axes);
}

/**
 * x[starts[0]:ends[0], starts[1]:ends[1], ...] with Python's rules: negative indices count from the
 * end, out-of-range bounds clamp; missing trailing axes are taken whole. A window that is one
 * contiguous, aligned run of x's storage is a view, as in torch: it sees later writes into x (an
 * `assign` to a parameter), and a snapshot needs `clone`.
 */
export function slice(x: Tensor, starts: readonly number[], ends: readonly number[] = []): Tensor {
  if (starts.length > x.rank || ends.length > x.rank) {
    throw new Error(`slice: ${Math.max(starts.length, ends.length)} bounds for a tensor of shape ${shapeString(x.shape)}`);
  }
  const clampIndex = (i: number, d: number) => Math.min(Math.max(i < 0 ? i + d : i, 0), d);
  const begin = x.shape.map((d, k) => clampIndex(starts[k] ?? 0, d));
  const outShape = x.shape.map((d, k) => Math.max(0, clampIndex(ends[k] ?? d, d) - begin[k]!));
  const strides = stridesOf(x.shape);
  const offset = begin.reduce((acc, b, k) => acc + b * strides[k]!, 0);
  let y: Tensor;
  if (contiguousWindow(x.shape, outShape) && offset % (getEngine().limits.minStorageBufferOffsetAlignment / 4) === 0) {
    y = x.subview(offset, outShape, 'slice');
  } else {
    y = Tensor.empty(outShape, x.dtype, 'slice');
    stridedCopy('slice', x, y, outShape, offset, strides, 0, stridesOf(outShape));
  }
  return record('slice', [x], y, (g) => [sliceBackward(g, x.shape, begin)]);
}

/**
 * slice's backward: g written into its window (at `begin`) of a zero tensor of the input's shape,
 * as a differentiable op (for createGraph): linear in g, its adjoint, its own rule, is the slice.
 */
function sliceBackward(g: Tensor, inShape: readonly number[], begin: readonly number[]): Tensor {
  const dx = zeros(inShape);
  const strides = stridesOf(inShape);
  const offset = begin.reduce((acc, b, k) => acc + b * strides[k]!, 0);
  stridedCopy('slice backward', g, dx, g.shape, 0, stridesOf(g.shape), offset, strides);
  return record('slice backward', [g], dx, (gg) => [slice(gg, begin, begin.map((b, k) => b + g.shape[k]!))]);
}

/** Whether a window of `shape` out of `full` is one run of the storage: unit axes, then one partial axis, then whole axes. */
function contiguousWindow(full: readonly number[], shape: readonly number[]): boolean {
  const partial = shape.findIndex((d, k) => d !== full[k]);
  return partial < 0 || shape.every((d, k) => (k < partial ? d === 1 : k === partial || d === full[k]));
}

export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  const first = tensors[0];
  if (!first) throw new Error('concat: needs at least one tensor');
  const ax = normalizeAxis('concat', axis, first.rank);
  for (const t of tensors) {
    const fits = t.rank === first.rank && t.dtype === first.dtype && t.shape.every((d, k) => k === ax || d === first.shape[k]);
    if (!fits) {
      throw new Error(`concat: shapes ${shapeString(first.shape)} (${first.dtype}) and ${shapeString(t.shape)} (${t.dtype}) differ off axis ${ax}`);
    }
  }
  const outShape = [...first.shape];
  outShape[ax] = tensors.reduce((acc, t) => acc + t.shape[ax]!, 0);
  const y = Tensor.empty(outShape, first.dtype, 'concat');
  const outStrides = stridesOf(outShape);
  const starts: number[] = [];
  let at = 0;
  for (const t of tensors) {
    stridedCopy('concat', t, y, t.shape, 0, stridesOf(t.shape), at * outStrides[ax]!, outStrides);
    starts.push(at);
    at += t.shape[ax]!;
  }
  const bound = (k: number, v: number) => outShape.map((d, i) => (i === ax ? v : k === 0 ? 0 : d));
  return record('concat', tensors, y, (g) =>
    tensors.map((t, j) => slice(g, bound(0, starts[j]!), bound(1, starts[j]! + t.shape[ax]!))),
  );
}

/** Materializes x broadcast to `shape` (NumPy rules). */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  const out = broadcastShapes('broadcastTo', x.shape, shape);
  if (!sameShape(out, shape)) {
    throw new Error(`broadcastTo: shape ${shapeString(x.shape)} cannot be broadcast to ${shapeString(shape)}`);
  }
  const y = Tensor.empty(shape, x.dtype, 'broadcastTo');
  stridedCopy('broadcastTo', x, y, shape, 0, broadcastStrides(x.shape, shape), 0, stridesOf(shape));
  const inShape = x.shape;
  return record('broadcastTo', [x], y, (g) => [sumTo(g, inShape)]);
}

/** A copy with its own storage. */
export function clone(x: Tensor): Tensor {
  const y = Tensor.empty(x.shape, x.dtype, 'clone');
  if (x.size > 0) getEngine().copy(x.buffer('clone'), y.buffer('clone'), x.size * 4);
  return record('clone', [x], y, (g) => [g]);
}

/** Overwrites dst's values with src's (same shape and dtype): running statistics, optimizer state. */
export function assign(dst: Tensor, src: Tensor): void {
  if (!sameShape(dst.shape, src.shape) || dst.dtype !== src.dtype) {
    throw new Error(`assign: ${src} does not fit ${dst}`);
  }
  if (src.size > 0) getEngine().copy(src.buffer('assign'), dst.buffer('assign'), src.size * 4);
}
