// Stacked forms of layers for the batched landscape evaluator: K points' weights side by side, so one
// kernel call runs a layer for every point. Two activation layouts:
//   dense [K, B, F]:       points outermost, so a stacked Linear is one batched matmul;
//   image [B, K·C, H, W]:  points as channel groups, so a stacked Conv2d is one grouped convolution
//                          (K times the groups), a BatchNorm one call over K·C channels, and pooling
//                          and activations need nothing new.
// `stacked(p)` gives parameter p at every point of the chunk, [K, ...p.shape].
import { add, gelu, relu } from '../tensor/elementwise.js';
import { selfAttention } from '../tensor/attention.js';
import { batchNorm2d } from '../tensor/batchnorm.js';
import { conv2d, conv2dPool2 } from '../tensor/conv.js';
import { broadcastTo, concat, permute, reshape, slice } from '../tensor/layout.js';
import { ones, zeros } from '../tensor/creation.js';
import { keep } from '../tensor/scope.js';
import { matmul } from '../tensor/matmul.js';
import { layerNormPerSlice } from '../tensor/norm.js';
import { adaptiveAvgPool2d } from '../tensor/pool.js';
import type { Tensor } from '../tensor/tensor.js';
import type { BatchNorm2d, Conv2d, LayerNorm, Linear } from '../nn/layers.js';
import type { ResNet } from '../nn/resnet.js';
import type { ViT } from '../nn/vit.js';

export type Stacked = { layout: 'dense' | 'image'; t: Tensor };
export type StackedParam = (p: Tensor) => Tensor;

/**
 * A Linear layer on dense activations [K, ..., F] (the rows of each point folded into one matmul,
 * each point's bias and the residual, of the output's shape, added in its epilogue).
 */
export function stackedLinear(x: Tensor, l: Linear, kk: number, stacked: StackedParam, residual?: Tensor): Tensor {
  const rows = (t: Tensor) => reshape(t, [kk, -1, t.shape.at(-1)!]);
  const bias = l.bias ? reshape(stacked(l.bias()), [kk, 1, -1]) : undefined;
  const y = matmul(rows(x), stacked(l.weight()), { transB: true, bias, residual: residual && rows(residual) });
  return reshape(y, [...x.shape.slice(0, -1), l.outFeatures]);
}

/**
 * A Conv2d on image activations [B, K·C, H, W]: each point's channels are their own groups. With
 * `sharedInput`, on one input [B, C, H, W] for all points instead (an ungrouped first layer): the
 * points' weights are stacked on output channels. With `pool`, fused with the 2x2/2 max-pool (and
 * ReLU) that follows it (conv2dPool2).
 */
export function stackedConv(x: Tensor, l: Conv2d, kk: number, stacked: StackedParam, pool: { relu: boolean } | null = null, sharedInput = false): Tensor {
  const w = reshape(stacked(l.weight()), [-1, ...l.weight().shape.slice(1)]);
  const bias = l.bias ? reshape(stacked(l.bias()), [-1]) : null;
  const opts = { ...l.opts, groups: (l.opts.groups ?? 1) * (sharedInput ? 1 : kk) };
  return pool ? conv2dPool2(x, w, bias, opts, pool.relu) : conv2d(x, w, bias, opts);
}

/**
 * Each point's own BatchNorm statistics, [K·C] per layer, re-estimated for a chunk of points (BatchNorm
 * 'recalibrate'): during a calibration batch (`momentum` set) each stacked BatchNorm normalizes with
 * the batch statistics of its K·C channels, which are each point's own, and averages them in; after
 * the calibration batches (`momentum` null) it normalizes with them.
 */
export class PointStats {
  readonly #stats = new Map<BatchNorm2d, [Tensor, Tensor]>();
  /** 1/(i+1) during calibration batch i (a cumulative average), null once calibrated */
  momentum: number | null = null;
  constructor(readonly kk: number) {}
  /** [mean, var] of a layer, starting as PyTorch's reset statistics (0 and 1) */
  of(bn: BatchNorm2d): [Tensor, Tensor] {
    let st = this.#stats.get(bn);
    if (!st) {
      st = [keep(zeros([this.kk * bn.features])), keep(ones([this.kk * bn.features]))];
      this.#stats.set(bn, st);
    }
    return st;
  }
  dispose(): void {
    for (const st of this.#stats.values()) st.forEach((t) => t.dispose());
  }
}

/**
 * A BatchNorm2d on image activations, with the points' affine parameters: in eval mode with the
 * model's running statistics (shared by the points), or with each point's own (PointStats).
 */
export function stackedBatchNorm(x: Tensor, bn: BatchNorm2d, kk: number, stacked: StackedParam, stats: PointStats | null = null): Tensor {
  const tile = (t: Tensor) => reshape(broadcastTo(reshape(t, [1, -1]), [kk, bn.features]), [-1]);
  const [runningMean, runningVar] = stats ? stats.of(bn) : [tile(bn.runningMean()), tile(bn.runningVar())];
  return batchNorm2d(x, {
    weight: reshape(stacked(bn.weight()), [-1]), bias: reshape(stacked(bn.bias()), [-1]),
    runningMean, runningVar, training: stats?.momentum != null, momentum: stats?.momentum ?? 0, eps: bn.eps,
  });
}

/** Image activations [B, K·C, H, W] as dense [K, B, C·H·W] (torch's flatten order per point). */
export function imageToDense(x: Tensor, b: number, kk: number): Tensor {
  return reshape(permute(reshape(x, [b, kk, -1]), [1, 0, 2]), [kk, b, -1]);
}

/**
 * A ResNet after its stem (conv1, bn1, ReLU and the ImageNet stem's max-pool, which the first-layer
 * step has done): the basic blocks on image activations, global average pool, fc. Returns logits
 * [K, B, classes].
 */
export function stackedResNetBody(net: ResNet, x: Tensor, b: number, kk: number, stacked: StackedParam, stats: PointStats | null): Tensor {
  const norm = (t: Tensor, bn: BatchNorm2d) => stackedBatchNorm(t, bn, kk, stacked, stats);
  let h = x;
  for (const stage of net.stages) {
    for (const blk of stage) {
      const y = relu(norm(stackedConv(h, blk.conv1, kk, stacked), blk.bn1));
      const r = norm(stackedConv(y, blk.conv2, kk, stacked), blk.bn2);
      const [conv, bn] = blk.downsample ? (blk.downsample.layers as [Conv2d, BatchNorm2d]) : [null, null];
      h = relu(add(r, conv && bn ? norm(stackedConv(h, conv, kk, stacked), bn) : h));
    }
  }
  return stackedLinear(imageToDense(adaptiveAvgPool2d(h, 1), b, kk), net.fc, kk, stacked);
}

/**
 * A ViT after its patch embedding, for K points at once: tokens [K, B, T, W]; stacked Linear layers
 * as batched matmuls over [K, B·T, ·]; LayerNorm with each point's affine in one kernel; attention
 * over K·B·heads on the packed qkv projection.
 * Returns the logits [K, B, classes].
 */
export function stackedVitBody(vit: ViT, patches: Tensor, b: number, kk: number, stacked: StackedParam, named: Map<string, Tensor>): Tensor {
  const c = vit.config;
  const w = c.width;
  const norm = (x: Tensor, ln: LayerNorm) => layerNormPerSlice(x, stacked(ln.weight()), stacked(ln.bias()), ln.eps);
  const linear = (x: Tensor, l: Linear, residual?: Tensor) => stackedLinear(x, l, kk, stacked, residual);
  // [B, K·W, gh, gw] -> [K, B, patches, W]
  let x = permute(reshape(patches, [b, kk, w, -1]), [1, 0, 3, 2]);
  const cls = broadcastTo(reshape(stacked(named.get('cls_token')!), [kk, 1, 1, w]), [kk, b, 1, w]);
  x = add(concat([cls, x], 2), reshape(stacked(named.get('pos_embed')!), [kk, 1, -1, w]));
  for (const blk of vit.blocks) {
    x = linear(selfAttention(linear(norm(x, blk.norm1), blk.attn.qkv), c.heads), blk.attn.proj, x);
    x = linear(gelu(linear(norm(x, blk.norm2), blk.mlp.fc1)), blk.mlp.fc2, x);
  }
  const pooled = slice(norm(x, vit.norm), [0, 0, 0], [kk, b, 1]); // the class token
  return reshape(linear(pooled, vit.head), [kk, b, c.classes]);
}
