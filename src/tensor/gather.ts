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
  const [outer, dim, inner] = [numel(x.shape.slice(0, a)), x.shape[a]!, numel(x.shape.slice(a + 1))];
  const count = indices.size;
  const params = () => new Params().u32(outer, dim, inner, count);
  const outShape = x.shape.map((d, i) => (i === a ? count : d));
  const y = Tensor.empty(outShape, 'f32', op);
  const engine = getEngine();
  launchPerItem(engine, 'gather', 'forward', y.size, params(), [x.buffer(op), indices.buffer(op), y.buffer(op)]);
  const inShape = x.shape;
  return record(op, [x], y, (g, [idx]) => {
    const dx = Tensor.empty(inShape, 'f32', `${op} backward`);
    launchPerItem(engine, 'gather', 'backward', dx.size, params(), [g.buffer(op), idx!.buffer(op), dx.buffer(op)]);
    return [dx];
  }, [indices]);
}
