// 2-D pooling (kernels/pool2d.wgsl): max, average and adaptive average, with torch.nn.functional's
// window conventions, each with its backward.
import { Params } from '../gpu/params.js';
import { record } from './autograd.js';
import { pair, convOutSize, type Pair } from './conv.js';
import { requireF32 } from './elementwise.js';
import { launchPerItem } from './launch.js';
import { getEngine } from './runtime.js';
import { shapeString } from './shape.js';
import { Tensor } from './tensor.js';

interface Window {
  k: [number, number];
  s: [number, number];
  p: [number, number];
  out: [number, number];
  adaptive: boolean;
}

function checkInput(op: string, x: Tensor): [number, number, number, number] {
  requireF32(op, x);
  if (x.rank !== 4) throw new Error(`${op}: expects input [N, C, H, W], got ${shapeString(x.shape)}`);
  return x.shape as [number, number, number, number];
}

function regularWindow(op: string, x: Tensor, kernel: Pair, stride: Pair | undefined, padding: Pair): Window {
  const [, , h, w] = checkInput(op, x);
  const k = pair(kernel);
  const s = pair(stride ?? kernel);
  const p = pair(padding);
  if (p[0] > k[0] / 2 || p[1] > k[1] / 2) throw new Error(`${op}: padding ${p} must be at most half the kernel ${k}`);
  const out: [number, number] = [convOutSize(h, k[0], s[0], p[0], 1), convOutSize(w, k[1], s[1], p[1], 1)];
  if (out[0] < 1 || out[1] < 1) throw new Error(`${op}: kernel ${k} does not fit input ${h}x${w} with padding ${p}`);
  return { k, s, p, out, adaptive: false };
}

function pool(op: string, kind: 'max' | 'avg', x: Tensor, win: Window): Tensor {
  const [n, c] = x.shape as [number, number];
  const y = Tensor.empty([n, c, ...win.out], 'f32', op);
  const idx = kind === 'max' ? Tensor.empty(y.shape, 'i32', op) : null;
  run(`${kind}_forward`, x.shape, win, y.size, [x.buffer(op), y.buffer(op), idx?.buffer(op) ?? null]);
  const out = record(op, [x], y, (g, [saved]) => [kind === 'max' ? maxScatter(g, saved!, x.shape, win) : avgBackward(g, x.shape, win)], idx ? [idx] : []);
  idx?.dispose();
  return out;
}

/** One invocation per item of `entry` over an input of shape [N, C, H, W] pooled by `win`. */
function run(entry: string, [n, c, h, w]: readonly number[], win: Window, items: number, buffers: Array<GPUBufferBinding | null>): void {
  const params = new Params().u32(n! * c!, h!, w!, win.out[0], win.out[1], win.k[0], win.k[1], win.s[0], win.s[1], win.p[0], win.p[1]);
  launchPerItem(getEngine(), 'pool2d', entry, items, params, buffers, { ADAPTIVE: win.adaptive ? 1 : 0 }, 64);
}

// The backward passes as differentiable ops (for createGraph). Each is linear in g, with its adjoint
// as its own rule: max-pool's backward scatters g to the saved maxima and the adjoint gathers from
// them; average pooling's backward spreads g over the windows and the adjoint is the pooling itself.

function maxScatter(g: Tensor, idx: Tensor, inShape: readonly number[], win: Window): Tensor {
  const op = 'maxPool2d backward';
  const dx = Tensor.empty(inShape, 'f32', op);
  run('max_backward', inShape, win, dx.size, [g.buffer(op), dx.buffer(op), idx.buffer(op)]);
  return record(op, [g], dx, (gg, [ix]) => [maxSelect(gg, ix!, win)], [idx]);
}

function maxSelect(x: Tensor, idx: Tensor, win: Window): Tensor {
  const op = 'maxPool2d select';
  const y = Tensor.empty(idx.shape, 'f32', op);
  run('max_select', x.shape, win, y.size, [x.buffer(op), y.buffer(op), idx.buffer(op)]);
  return record(op, [x], y, (gy, [ix]) => [maxScatter(gy, ix!, x.shape, win)], [idx]);
}

function avgBackward(g: Tensor, inShape: readonly number[], win: Window): Tensor {
  const op = 'avgPool2d backward';
  const dx = Tensor.empty(inShape, 'f32', op);
  run('avg_backward', inShape, win, dx.size, [g.buffer(op), dx.buffer(op), null]);
  return record(op, [g], dx, (gg) => [pool('avgPool2d', 'avg', gg, win)]);
}

export function maxPool2d(x: Tensor, kernel: Pair, stride?: Pair, padding: Pair = 0): Tensor {
  return pool('maxPool2d', 'max', x, regularWindow('maxPool2d', x, kernel, stride, padding));
}

/** Average pooling; the divisor counts padding (torch's count_include_pad=True). */
export function avgPool2d(x: Tensor, kernel: Pair, stride?: Pair, padding: Pair = 0): Tensor {
  return pool('avgPool2d', 'avg', x, regularWindow('avgPool2d', x, kernel, stride, padding));
}

/** Adaptive average pooling to `size` (1 for global average pooling), as torch's adaptive_avg_pool2d. */
export function adaptiveAvgPool2d(x: Tensor, size: Pair): Tensor {
  const [, , h, w] = checkInput('adaptiveAvgPool2d', x);
  const out = pair(size);
  if (out[0] < 1 || out[1] < 1) throw new Error(`adaptiveAvgPool2d: output size ${out} must be positive`);
  return pool('adaptiveAvgPool2d', 'avg', x, { k: [h, w], s: [1, 1], p: [0, 0], out, adaptive: true });
}
