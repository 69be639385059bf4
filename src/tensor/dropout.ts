// Dropout with the seeded generator: zeroes each element with probability p and scales the rest
// by 1/(1 − p) (inverted dropout, as torch.nn.functional.dropout). The identity when not training.
import { noGrad } from './autograd.js';
import { gt, mul } from './elementwise.js';
import type { Generator } from './random.js';
import type { Tensor } from './tensor.js';

export function dropout(x: Tensor, p: number, generator: Generator, training = true): Tensor {
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout: p must be in [0, 1], got ${p}`);
  if (!training || p === 0) return x;
  const mask = noGrad(() => {
    const u = generator.uniform(x.shape);
    const keep = gt(u, p);
    u.dispose();
    const scaled = mul(keep, p === 1 ? 0 : 1 / (1 - p));
    keep.dispose();
    return scaled;
  });
  const y = mul(x, mask);
  mask.dispose();
  return y;
}
