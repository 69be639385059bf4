// Losses: fused cross-entropy from logits with integer labels (kernels/cross_entropy.wgsl), and MSE.
import { Params } from '../gpu/params.js';
import { needsGrad, noGrad, record } from './autograd.js';
import { full } from './creation.js';
import { div, mul, requireF32, square, sub } from './elementwise.js';
import { reshape } from './layout.js';
import { launchPerItem } from './launch.js';
import { mean, sum } from './reduce.js';
import { getEngine } from './runtime.js';
import { shapeString } from './shape.js';
import { softmax, softmaxBackward } from './softmax.js';
import { Tensor } from './tensor.js';

export interface CrossEntropyOptions {
  /** ε: the target becomes (1 − ε)·onehot + ε/classes */
  labelSmoothing?: number;
  /** rows whose label is this count neither in the loss nor in the mean (PyTorch's default: -100) */
  ignoreIndex?: number;
  /** 'none': the per-row losses [N] (0 for ignored rows), for evaluation: not differentiable */
  reduction?: 'mean' | 'none';
}

/** Mean cross-entropy of logits [N, C] against i32 labels [N], as torch.nn.functional.cross_entropy. */
export function crossEntropy(logits: Tensor, labels: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const op = 'crossEntropy';
  const { labelSmoothing = 0, ignoreIndex = -100 } = opts;
  requireF32(op, logits);
  if (labels.dtype !== 'i32') throw new Error(`${op}: labels must be i32, got ${labels.dtype}`);
  if (logits.rank !== 2 || labels.rank !== 1 || labels.shape[0] !== logits.shape[0]) {
    throw new Error(`${op}: expects logits [N, C] and labels [N], got ${shapeString(logits.shape)} and ${shapeString(labels.shape)}`);
  }
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) throw new Error(`${op}: labelSmoothing must be in [0, 1], got ${labelSmoothing}`);
  const [rows, classes] = logits.shape as [number, number];
  const engine = getEngine();
  const params = () => new Params().u32(rows, classes).f32(labelSmoothing).i32(ignoreIndex);
  const losses = Tensor.empty([rows], 'f32', op);
  const valid = Tensor.empty([rows], 'f32', op);
  const lse = Tensor.empty([rows], 'f32', op);
  launchPerItem(engine, 'cross_entropy', 'forward', rows, params(), [
    logits.buffer(op), labels.buffer(op), losses.buffer(op), valid.buffer(op), lse.buffer(op),
  ], {}, 64);
  if (opts.reduction === 'none') {
    if (needsGrad([logits])) throw new Error(`${op}: reduction 'none' is for evaluation; run it under noGrad()`);
    valid.dispose();
    lse.dispose();
    return losses;
  }
  const [loss, count] = noGrad(() => {
    const c = sum(valid);
    return [div(sum(losses), c), c];
  });
  losses.dispose();
  const out = record(op, [logits], loss, (g, [x, y, l, v, n]) => [crossEntropyBackward(x!, y!, l!, v!, div(g, n!), params)], [logits, labels, lse, valid, count]);
  lse.dispose();
  valid.dispose();
  count.dispose();
  return out;
}

/**
 * dx = scale · valid ⊙ (softmax(x) − target) (kernels/cross_entropy.wgsl backward, softmax from
 * the saved log-sum-exp) as a differentiable op (for createGraph). Its own rule, with gg the
 * gradient of dx: d/dx = scale · valid ⊙ (softmax backward of gg at p = softmax(x)), since the
 * target is constant; d/dscale = Σ gg ⊙ dx/scale, the same kernel with scale 1.
 */
function crossEntropyBackward(x: Tensor, labels: Tensor, lse: Tensor, valid: Tensor, scale: Tensor, params: () => Params): Tensor {
  const op = 'crossEntropy backward';
  const [rows, classes] = x.shape as [number, number];
  const dx = Tensor.empty(x.shape, 'f32', op);
  launchPerItem(getEngine(), 'cross_entropy', 'backward', rows * classes, params(), [
    x.buffer(op), labels.buffer(op), lse.buffer(op), scale.buffer(op), dx.buffer(op),
  ], {}, 64);
  return record(op, [x, scale], dx, (gg, [xs, ys, ls, vs, sc], needs) => [
    needs[0] ? mul(softmaxBackward(softmax(xs!), gg), mul(reshape(vs!, [rows, 1]), sc!)) : null,
    needs[1] ? reshape(sum(mul(gg, crossEntropyBackward(xs!, ys!, ls!, vs!, full([], 1), params))), sc!.shape) : null,
  ], [x, labels, lse, valid, scale]);
}

/** Mean squared error, mean((a − b)²), as torch.nn.functional.mse_loss. */
export function mse(a: Tensor, b: Tensor): Tensor {
  if (shapeString(a.shape) !== shapeString(b.shape)) {
    throw new Error(`mse: shapes ${shapeString(a.shape)} and ${shapeString(b.shape)} differ`);
  }
  const d = sub(a, b);
  const sq = square(d);
  const m = mean(sq);
  d.dispose();
  sq.dispose();
  return m;
}

