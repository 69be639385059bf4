// Softmax and log-softmax along an axis (kernels/softmax.wgsl works on the last axis; other axes
// are moved there and back), each with its backward from the saved output.
import { Params } from '../gpu/params.js';
import { record } from './autograd.js';
import { requireF32 } from './elementwise.js';
import { launchPerItem } from './launch.js';
import { transpose } from './layout.js';
import { getEngine } from './runtime.js';
import { normalizeAxis } from './shape.js';
import { Tensor } from './tensor.js';

function rowsKernel(op: string, entry: 'forward' | 'backward', logForm: boolean, shape: readonly number[], buffers: GPUBufferBinding[], out: Tensor): Tensor {
  const cols = shape.at(-1) ?? 1;
  const rows = cols === 0 ? 0 : out.size / cols;
  const params = new Params().u32(rows, cols);
  launchPerItem(getEngine(), 'softmax', entry, rows, params, [...buffers, out.buffer(op)], { OP: logForm ? 1 : 0 }, 64);
  return out;
}

function lastAxis(op: string, x: Tensor, logForm: boolean): Tensor {
  requireF32(op, x);
  const y = rowsKernel(op, 'forward', logForm, x.shape, [x.buffer(op)], Tensor.empty(x.shape, 'f32', op));
  return record(op, [x], y, (g, [ys]) => [
    rowsKernel(op, 'backward', logForm, ys!.shape, [ys!.buffer(op), g.buffer(op)], Tensor.empty(ys!.shape, 'f32', `${op} backward`)),
  ], [y]);
}

function alongAxis(op: string, x: Tensor, axis: number, logForm: boolean): Tensor {
  const a = normalizeAxis(op, axis, x.rank);
  if (x.rank === 0 || a === x.rank - 1) return lastAxis(op, x, logForm);
  const moved = transpose(x, a, -1);
  const y = lastAxis(op, moved, logForm);
  const out = transpose(y, a, -1);
  moved.dispose();
  y.dispose();
  return out;
}

export function softmax(x: Tensor, axis = -1): Tensor {
  return alongAxis('softmax', x, axis, false);
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return alongAxis('logSoftmax', x, axis, true);
}
