// Softmax and log-softmax along an axis (kernels/softmax.wgsl works on the last axis; other axes
// are moved there and back), each with its backward from the saved output.
import { Params } from '../gpu/params.js';
import { record } from './autograd.js';
import { exp, mul, neg, requireF32, sub } from './elementwise.js';
import { launchPerItem } from './launch.js';
import { transpose } from './layout.js';
import { sum } from './reduce.js';
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
  return record(op, [x], y, (g, [ys]) => [softmaxBackward(ys!, g, logForm)], [y]);
}

/**
 * The backward along the last axis from the saved output y, as a differentiable op (for
 * createGraph): dx = y ⊙ (g − Σg⊙y) for softmax, dx = g − exp(y)·Σg for log-softmax (sums per row).
 * Its own rule, with gg the gradient of dx and row sums s = Σg⊙y, t = Σgg⊙y, S = Σg:
 *   softmax:     d/dy = gg ⊙ (g − s) − g·t,   d/dg = the same backward applied to gg
 *   log-softmax: d/dy = −gg ⊙ exp(y)·S,      d/dg = gg − Σ gg ⊙ exp(y)
 */
export function softmaxBackward(y: Tensor, g: Tensor, logForm = false): Tensor {
  const op = `${logForm ? 'logSoftmax' : 'softmax'} backward`;
  const dx = rowsKernel(op, 'backward', logForm, y.shape, [y.buffer(op), g.buffer(op)], Tensor.empty(y.shape, 'f32', op));
  const rowSum = (t: Tensor) => sum(t, -1, true);
  return record(op, [y, g], dx, (gg, [ys, gs], needs) => {
    if (logForm) {
      const e = exp(ys!);
      return [needs[0] ? neg(mul(mul(gg, e), rowSum(gs!))) : null, needs[1] ? sub(gg, rowSum(mul(gg, e))) : null];
    }
    return [
      needs[0] ? sub(mul(gg, sub(gs!, rowSum(mul(gs!, ys!)))), mul(gs!, rowSum(mul(gg, ys!)))) : null,
      needs[1] ? softmaxBackward(ys!, gg) : null,
    ];
  }, [y, g]);
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
