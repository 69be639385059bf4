// The batched evaluator's first layer, linear in θ: f(X; W₀ + αD₁ + βD₂) = f(X; W₀) + α·f(X; D₁) +
// β·f(X; D₂). The products are computed once per batch of data and shared by every point (kept across
// chunks when they fit the budget); per point only a combination is left (kernels/landscape.wgsl).
import { Params } from '../gpu/params.js';
import { add, div, mul, sqrt, sub } from '../tensor/elementwise.js';
import { zeros } from '../tensor/creation.js';
import { conv2d, convOutSize, pair } from '../tensor/conv.js';
import { concat, reshape } from '../tensor/layout.js';
import { launchPerItem } from '../tensor/launch.js';
import { matmul } from '../tensor/matmul.js';
import { getEngine } from '../tensor/runtime.js';
import { keep, tidy } from '../tensor/scope.js';
import { Tensor } from '../tensor/tensor.js';
import { Conv2d, Linear } from '../nn/layers.js';
import type { Tail } from '../nn/stack.js';

const b = (t: Tensor) => t.buffer('landscape combine');

/** The shared products of one batch: [base, p1, p2] for a Linear; one [B, S·C, H, W] conv for a Conv2d. */
export type Products = Tensor[];

/** Products of x with θ's first-layer weight and the directions' (d₂ optional), each kept. */
export function firstProducts(first: Linear | Conv2d, x: Tensor, dirs: Tensor[]): Products {
  return tidy(() => {
    if (first instanceof Linear) {
      const rows = reshape(x, [x.shape[0]!, -1]);
      return [first.weight(), ...dirs].map((m) => keep(matmul(rows, m, { transB: true })));
    }
    // one convolution with the weights stacked on output channels, [B, S·C, H, W] (grouped: one per
    // weight, concatenated, as stacking them would mix the groups)
    const weights = [first.weight(), ...dirs];
    if ((first.opts.groups ?? 1) === 1) return [keep(conv2d(x, concat(weights, 0), null, first.opts))];
    return [keep(concat(weights.map((w) => conv2d(x, w, null, first.opts)), 1))];
  });
}

/** y[k] = base + α_k·p1 + β_k·p2 + bias_k (ReLU'd if asked), [K, rows·F], for a first Linear. */
export function combineDense(products: Products, alpha: Tensor, beta: Tensor, bias: Tensor | null, k: number, reluAfter: boolean): Tensor {
  const [base, p1, p2] = products as [Tensor, Tensor, Tensor | undefined];
  const n = base.size;
  const y = Tensor.empty([k, n], 'f32', 'landscape combine');
  const f = base.shape.at(-1)!;
  const params = new Params().u32(k, n, f, (p2 ? 1 : 0) | (bias ? 2 : 0) | (reluAfter ? 4 : 0));
  // through vec4 bindings (kernels/landscape.wgsl): where rows of F are whole vec4s, one vec4 of the
  // shared products per invocation for every point (combine_points); else 4 outputs per invocation
  const b4 = (t: Tensor) => t.buffer4('landscape combine');
  const buffers = [b4(base), b4(p1), b4(p2 ?? p1), b(alpha), b(beta), b4(bias ?? base), b4(y)];
  if (f % 4 === 0) launchPerItem(getEngine(), 'landscape', 'combine_points', n / 4, params, buffers);
  else launchPerItem(getEngine(), 'landscape', 'combine', Math.ceil((k * n) / 4), params, buffers);
  return y;
}

/**
 * A first Conv2d's output at K points, through its tail, in the image layout [B, K·C, OH, OW]: the
 * shared conv products combined per point with the conv bias and an eval-mode BatchNorm folded into
 * a per-point channel affine, then ReLU and max-pool, in one pass.
 */
export function combineImage(conv: Conv2d, tail: Tail, products: Products, alpha: Tensor, beta: Tensor, k: number, stacked: (p: Tensor) => Tensor): Tensor {
  const prod = products[0]!;
  const [n, sc, h, w] = prod.shape as [number, number, number, number];
  const c = conv.outChannels;
  const two = sc === 3 * c;
  // a per-point channel affine: the conv bias, or an eval-mode BatchNorm of (conv + bias) folded in:
  // scale = w/√(var + ε), shift = (bias − mean)·scale + b (small [K, C] tensors of the caller's scope)
  const bias = conv.bias ? stacked(conv.bias()) : zeros([k, c]);
  const bn = tail.bn;
  const scale = bn ? div(stacked(bn.weight()), reshape(sqrt(add(bn.runningVar(), bn.eps)), [1, c])) : null;
  const shift = scale && bn ? add(mul(sub(bias, reshape(bn.runningMean(), [1, c])), scale), stacked(bn.bias())) : bias;
  const win = tail.pool
    ? { k: pair(tail.pool.kernel), s: pair(tail.pool.stride ?? tail.pool.kernel), p: pair(tail.pool.padding) }
    : { k: [1, 1], s: [1, 1], p: [0, 0] };
  const [oh, ow] = [convOutSize(h, win.k[0]!, win.s[0]!, win.p[0]!, 1), convOutSize(w, win.k[1]!, win.s[1]!, win.p[1]!, 1)];
  const y = Tensor.empty([n, k * c, oh, ow], 'f32', 'landscape combine');
  const flags = (two ? 1 : 0) | (scale ? 2 : 0) | (tail.relu ? 4 : 0);
  const params = new Params().u32(n, k, c, h, w, oh, ow, win.k[0]!, win.k[1]!, win.s[0]!, win.s[1]!, win.p[0]!, win.p[1]!, flags, 0, 0);
  launchPerItem(getEngine(), 'landscape', 'combine_pooled', y.size, params, [b(prod), b(scale ?? shift), b(shift), b(alpha), b(beta), null, b(y)]);
  return y;
}
