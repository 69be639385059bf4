// BatchNorm2d's functional form, composed from differentiable ops (its backward comes from theirs).
// Training mode normalizes with the batch statistics and updates the running statistics in place
// with PyTorch's momentum convention: running = (1 − momentum)·running + momentum·batch, the
// running variance taking the unbiased batch variance. Eval mode uses the running statistics.
import { noGrad } from './autograd.js';
import { add, mul, rsqrt, square, sub } from './elementwise.js';
import { assign, reshape } from './layout.js';
import { mean } from './reduce.js';
import { tidy } from './scope.js';
import { shapeString } from './shape.js';
import type { Tensor } from './tensor.js';

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  runningMean?: Tensor | null;
  runningVar?: Tensor | null;
  training?: boolean;
  momentum?: number;
  eps?: number;
}

export function batchNorm2d(x: Tensor, opts: BatchNormOptions = {}): Tensor {
  const op = 'batchNorm2d';
  const { weight = null, bias = null, runningMean = null, runningVar = null, training = true, momentum = 0.1, eps = 1e-5 } = opts;
  if (x.rank !== 4) throw new Error(`${op}: expects input [N, C, H, W], got ${shapeString(x.shape)}`);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  for (const [name, t] of [['weight', weight], ['bias', bias], ['runningMean', runningMean], ['runningVar', runningVar]] as const) {
    if (t && (t.rank !== 1 || t.shape[0] !== c)) throw new Error(`${op}: ${name} of shape ${shapeString(t.shape)} for ${c} channels`);
  }
  const perChannel = (t: Tensor) => reshape(t, [1, c, 1, 1]);
  return tidy(() => {
    let mu: Tensor;
    let variance: Tensor;
    if (training) {
      const count = n * h * w;
      if (count < 2) throw new Error(`${op}: training needs more than one value per channel, got input ${shapeString(x.shape)}`);
      mu = mean(x, [0, 2, 3], true);
      variance = mean(square(sub(x, mu)), [0, 2, 3], true);
      if (runningMean && runningVar) {
        noGrad(() => {
          assign(runningMean, add(mul(runningMean, 1 - momentum), mul(reshape(mu, [c]), momentum)));
          assign(runningVar, add(mul(runningVar, 1 - momentum), mul(reshape(variance, [c]), (momentum * count) / (count - 1))));
        });
      }
    } else {
      if (!runningMean || !runningVar) throw new Error(`${op}: eval mode needs runningMean and runningVar`);
      mu = perChannel(runningMean);
      variance = perChannel(runningVar);
    }
    let y = mul(sub(x, mu), rsqrt(add(variance, eps)));
    if (weight) y = mul(y, perChannel(weight));
    if (bias) y = add(y, perChannel(bias));
    return y;
  });
}
