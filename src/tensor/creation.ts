// Creation: tensors filled on the GPU (zeros, ones, full, arange) or uploaded from host arrays.
import { Params } from '../gpu/params.js';
import { launchPerItem } from './launch.js';
import { getEngine } from './runtime.js';
import { numel, shapeString } from './shape.js';
import { Tensor, type DType } from './tensor.js';

function fill(shape: readonly number[], start: number, step: number, op: string): Tensor {
  const y = Tensor.empty(shape, 'f32', op);
  const n = y.size;
  launchPerItem(getEngine(), 'fill', 'main', n, new Params().u32(n).f32(start, step), [y.buffer(op)]);
  return y;
}

export function full(shape: readonly number[], value: number): Tensor {
  return fill(shape, value, 0, 'full');
}

export function zeros(shape: readonly number[]): Tensor {
  return fill(shape, 0, 0, 'zeros');
}

export function ones(shape: readonly number[]): Tensor {
  return fill(shape, 1, 0, 'ones');
}

/** Like numpy.arange: start, start+step, ... below `end` (or 0..start-1 with one argument). */
export function arange(start: number, end?: number, step = 1): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (step === 0 || !Number.isFinite(step)) throw new Error(`arange: step must be finite and non-zero, got ${step}`);
  const n = Math.max(0, Math.ceil((end - start) / step));
  return fill([n], start, step, 'arange');
}

/** Uploads host values. Int32Array data makes an i32 tensor; anything else is converted to f32. */
export function fromArray(
  data: ArrayLike<number> | Float32Array | Int32Array,
  shape: readonly number[] = [data.length],
  dtype: DType = data instanceof Int32Array ? 'i32' : 'f32',
): Tensor {
  if (numel(shape) !== data.length) {
    throw new Error(`fromArray: ${data.length} values do not fill shape ${shapeString(shape)} (${numel(shape)} elements)`);
  }
  const host = dtype === 'i32' ? Int32Array.from(data) : Float32Array.from(data);
  const t = Tensor.empty(shape, dtype, 'fromArray');
  if (host.length > 0) getEngine().write(t.buffer('fromArray'), host);
  return t;
}

export function scalar(value: number): Tensor {
  return full([], value);
}
