// Normalization layers' functional forms. layerNorm is fused, forward and backward
// (kernels/layernorm.wgsl); under createGraph its rule differentiates its composition instead.
import { Params } from '../gpu/params.js';
import { isGradEnabled, record, vjpOf } from './autograd.js';
import { ones, zeros } from './creation.js';
import { add, mul, requireF32, rsqrt, square, sub } from './elementwise.js';
import { reshape } from './layout.js';
import { mean } from './reduce.js';
import { launchPerItem } from './launch.js';
import { getEngine } from './runtime.js';
import { numel, sameShape, shapeString } from './shape.js';
import { Tensor } from './tensor.js';

/**
 * LayerNorm over the trailing axes `normalizedShape` (default: the last axis), with optional affine
 * weight and bias of that shape, as torch.nn.functional.layer_norm.
 */
export function layerNorm(
  x: Tensor, weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5,
  normalizedShape: readonly number[] = weight?.shape ?? x.shape.slice(-1),
): Tensor {
  const op = 'layerNorm';
  requireF32(op, x);
  if (!sameShape(x.shape.slice(x.rank - normalizedShape.length), normalizedShape)) {
    throw new Error(`${op}: normalized shape ${shapeString(normalizedShape)} is not the end of the input shape ${shapeString(x.shape)}`);
  }
  for (const [name, p] of [['weight', weight], ['bias', bias]] as const) {
    if (p && !sameShape(p.shape, normalizedShape)) {
      throw new Error(`${op}: ${name} of shape ${shapeString(p.shape)} for normalized shape ${shapeString(normalizedShape)}`);
    }
  }
  const cols = numel(normalizedShape);
  const rows = cols === 0 ? 0 : x.size / cols;
  const engine = getEngine();
  const params = () => new Params().u32(rows, cols).f32(eps);
  const w = weight ?? ones([cols]);
  const b = bias ?? zeros([cols]);
  const y = Tensor.empty(x.shape, 'f32', op);
  const mu = Tensor.empty([rows], 'f32', op);
  const rstd = Tensor.empty([rows], 'f32', op);
  launchPerItem(engine, 'layernorm', 'forward', rows, params(), [
    x.buffer(op), w.buffer(op), b.buffer(op), y.buffer(op), mu.buffer(op), rstd.buffer(op),
  ], {}, 64);
  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  const out = record(op, inputs, y, (g, [xs, ws, m, r, ...affine]) => {
    // createGraph: the composition's gradients, which are differentiable again
    if (isGradEnabled()) return vjpOf((...t) => layerNormComposed(t[0]!, weight ? t[1]! : null, bias ? t.at(-1)! : null, eps, cols), [xs!, ...affine], g);
    const dx = Tensor.empty(xs!.shape, 'f32', `${op} backward`);
    launchPerItem(engine, 'layernorm', 'backward', rows, params(), [
      xs!.buffer(op), ws!.buffer(op), g.buffer(op), m!.buffer(op), r!.buffer(op), dx.buffer(op),
    ], {}, 64);
    if (!weight && !bias) return [dx];
    const dw = Tensor.empty(normalizedShape, 'f32', `${op} backward`);
    const db = Tensor.empty(normalizedShape, 'f32', `${op} backward`);
    launchPerItem(engine, 'layernorm', 'backward_params', cols, params(), [
      xs!.buffer(op), null, g.buffer(op), m!.buffer(op), r!.buffer(op), dw.buffer(op), db.buffer(op),
    ], {}, 64);
    return [dx, ...(weight ? [dw] : []), ...(bias ? [db] : [])];
  }, [x, w, mu, rstd, ...inputs.slice(1)]);
  if (!weight) w.dispose();
  if (!bias) b.dispose();
  mu.dispose();
  rstd.dispose();
  return out;
}

/** Layer norm over the last `cols` values of x, composed of differentiable ops (the fused op's rule under createGraph). */
function layerNormComposed(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps: number, cols: number): Tensor {
  const rows = reshape(x, [-1, cols]);
  const centred = sub(rows, mean(rows, 1, true));
  let y = mul(centred, rsqrt(add(mean(square(centred), 1, true), eps)));
  if (weight) y = mul(y, reshape(weight, [cols]));
  if (bias) y = add(y, reshape(bias, [cols]));
  return reshape(y, x.shape);
}

/**
 * Inference only (no gradient): layer norm over the last axis of x [K, ..., C] with per-slice affine
 * parameters weight, bias [K, C] (slice k of x uses row k), in one kernel.
 */
export function layerNormPerSlice(x: Tensor, weight: Tensor, bias: Tensor, eps = 1e-5): Tensor {
  const op = 'layerNormPerSlice';
  requireF32(op, x, weight, bias);
  const [k, cols] = [x.shape[0]!, x.shape.at(-1)!];
  for (const [name, p] of [['weight', weight], ['bias', bias]] as const) {
    if (x.rank < 2 || !sameShape(p.shape, [k, cols])) throw new Error(`${op}: ${name} of shape ${shapeString(p.shape)} for input ${shapeString(x.shape)} (expects [${k}, ${cols}])`);
  }
  const rows = x.size / cols;
  const y = Tensor.empty(x.shape, 'f32', op);
  const [mean, rstd] = [Tensor.empty([rows], 'f32', op), Tensor.empty([rows], 'f32', op)];
  launchPerItem(getEngine(), 'layernorm', 'forward', rows, new Params().u32(rows, cols).f32(eps).u32(rows / k), [
    x.buffer(op), weight.buffer(op), bias.buffer(op), y.buffer(op), mean.buffer(op), rstd.buffer(op),
  ], {}, 64);
  mean.dispose();
  rstd.dispose();
  return y;
}
