// indexSelect (kernels/gather.wgsl): rows picked by i32 indices along an axis, as torch.index_select.
import { Params } from '../gpu/params.js';
import { record } from './autograd.js';
import { requireF32 } from './elementwise.js';
import { launchPerItem } from './launch.js';
import { getEngine } from './runtime.js';
import { normalizeAxis, numel, shapeString } from './shape.js';
import { Tensor } from './tensor.js';

export function indexSelect(x: Tensor, axis: number, indices: Tensor): Tensor {
  const op = 'indexSelect';
  requireF32(op, x);
  if (indices.dtype !== 'i32' || indices.rank !== 1) {
    throw new Error(`${op}: indices must be a 1-D i32 tensor, got ${indices.dtype} ${shapeString(indices.shape)}`);
  }
  const a = normalizeAxis(op, axis, x.rank);
  const y = Tensor.empty(x.shape.map((d, i) => (i === a ? indices.size : d)), 'f32', op);
  launchPerItem(getEngine(), 'gather', 'forward', y.size, gatherParams(x.shape, a, indices), [x.buffer(op), indices.buffer(op), y.buffer(op)]);
  return record(op, [x], y, (g, [idx]) => [indexScatter(g, a, idx!, x.shape)], [indices]);
}

/** kernels/gather.wgsl's view of x: [outer, dim, inner] around the axis, and the index count. */
const gatherParams = (shape: readonly number[], a: number, indices: Tensor) =>
  new Params().u32(numel(shape.slice(0, a)), shape[a]!, numel(shape.slice(a + 1)), indices.size);

/**
 * indexSelect's backward, dx = Σ of g's rows picked from each position (kernels/gather.wgsl), as a
 * differentiable op (for createGraph): linear in g, its adjoint, its own rule, is indexSelect.
 */
function indexScatter(g: Tensor, a: number, indices: Tensor, inShape: readonly number[]): Tensor {
  const op = 'indexSelect backward';
  const dx = Tensor.empty(inShape, 'f32', op);
  launchPerItem(getEngine(), 'gather', 'backward', dx.size, gatherParams(inShape, a, indices), [g.buffer(op), indices.buffer(op), dx.buffer(op)]);
  return record(op, [g], dx, (gg, [idx]) => [indexSelect(gg, a, idx!)], [indices]);
}
