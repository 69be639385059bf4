// Vision Transformer with timm's parameter names (patch_embed.proj, cls_token, pos_embed,
// blocks.N.norm1/attn.qkv/attn.proj/norm2/mlp.fc1/mlp.fc2, norm, head), pre-norm blocks and
// class-token pooling, so a timm state_dict of the same configuration loads directly. The forward
// leaves the leading axes free ([B] in a forward, [K, B] in a stacked pass: nn/stack.ts) and reads the
// class token and position embedding per point, so it serves both; the blocks' do too.
import { add } from '../tensor/elementwise.js';
import { broadcastTo, concat, permute, reshape, slice } from '../tensor/layout.js';
import { Generator } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { Conv2d, Dropout, Layer, LayerNorm, Linear, Mlp, ModuleList, MultiheadAttention } from './layers.js';
import type { Stack } from './stack.js';

export interface ViTConfig {
  kind: 'vit';
  imageSize: number;
  patchSize: number;
  channels: number;
  width: number;
  depth: number;
  heads: number;
  mlpRatio: number;
  classes: number;
  /** LayerNorm ε: timm uses 1e-6 */
  eps: number;
  dropout: number;
}

export const VIT_DEFAULTS: ViTConfig = {
  kind: 'vit', imageSize: 28, patchSize: 7, channels: 1, width: 64, depth: 4, heads: 4, mlpRatio: 2, classes: 10, eps: 1e-6, dropout: 0,
};

export function checkViTConfig(c: ViTConfig): void {
  const bad = (why: string) => new Error(`ViT config: ${why}`);
  if (c.imageSize % c.patchSize !== 0) throw bad(`patch size ${c.patchSize} does not divide image size ${c.imageSize}`);
  if (c.width % c.heads !== 0) throw bad(`width ${c.width} is not divisible by ${c.heads} heads`);
  if (c.width / c.heads > 128) throw bad(`head dimension ${c.width / c.heads} exceeds 128`);
  for (const k of ['imageSize', 'patchSize', 'channels', 'width', 'depth', 'heads', 'classes'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) throw bad(`${k} must be a positive integer, got ${c[k]}`);
  }
}

class Block extends Layer {
  readonly norm1: LayerNorm;
  readonly attn: MultiheadAttention;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  constructor(c: ViTConfig, g: Generator, drop: Dropout | null) {
    super();
    this.norm1 = this.module('norm1', new LayerNorm(c.width, c.eps));
    this.attn = this.module('attn', new MultiheadAttention(c.width, c.heads, g));
    this.norm2 = this.module('norm2', new LayerNorm(c.width, c.eps));
    this.mlp = this.module('mlp', new Mlp(c.width, Math.round(c.width * c.mlpRatio), g, drop));
  }
  forward(x: Tensor): Tensor {
    const h = this.attn.forward(this.norm1.forward(x), x);
    return this.mlp.forward(this.norm2.forward(h), h);
  }
}

/** Non-overlapping patches to tokens: a convolution with stride = kernel = patch size. */
export class PatchEmbed extends Layer {
  readonly proj: Conv2d;
  constructor(c: Pick<ViTConfig, 'channels' | 'width' | 'patchSize'>, g: Generator) {
    super();
    this.proj = this.module('proj', new Conv2d(c.channels, c.width, c.patchSize, g, { stride: c.patchSize }));
  }
  /** [B, C, H, W] -> [B, patches, width] */
  forward(x: Tensor): Tensor {
    const p = this.proj.forward(x);
    const [b, w] = p.shape as [number, number];
    return permute(reshape(p, [b, w, -1]), [0, 2, 1]);
  }
  /** K points: the stacked convolution's image [B, K·width, gh, gw] to dense tokens [K, B, patches, width]. */
  override stacked(x: Tensor, s: Stack): Tensor {
    const p = this.proj.forward(x);
    return s.dense(permute(reshape(p, [p.shape[0]!, s.k, p.shape[1]! / s.k, -1]), [1, 0, 3, 2]));
  }
}

export class ViT extends Layer {
  readonly patch_embed: PatchEmbed;
  readonly blocks: Block[];
  readonly norm: LayerNorm;
  readonly head: Linear;

  constructor(readonly config: ViTConfig, seed = 0) {
    super();
    checkViTConfig(config);
    const g = new Generator(seed);
    const c = config;
    const tokens = (c.imageSize / c.patchSize) ** 2 + 1;
    this.patch_embed = this.module('patch_embed', new PatchEmbed(c, g));
    this.param('cls_token', g.normal([1, 1, c.width], 0, 1e-6)); // timm's init
    this.param('pos_embed', g.normal([1, tokens, c.width], 0, 0.02));
    const drop = c.dropout > 0 ? new Dropout(c.dropout, new Generator(seed + 1)) : null;
    this.blocks = this.module('blocks', new ModuleList(Array.from({ length: c.depth }, () => new Block(c, g, drop)))).items;
    this.norm = this.module('norm', new LayerNorm(c.width, c.eps));
    this.head = this.module('head', new Linear(c.width, c.classes, g, { std: 0.02 }));
  }

  /** [..., C, H, W] -> logits [..., classes]; the leading axes are [B], or [K, B] in a stacked pass */
  forward(x: Tensor): Tensor {
    const patches = this.patch_embed.forward(x);
    const lead = patches.shape.slice(0, -2);
    const w = this.config.width;
    const cls = broadcastTo(this.perPoint('cls_token'), [...lead, 1, w]);
    let h = add(concat([cls, patches], -2), this.perPoint('pos_embed'));
    for (const blk of this.blocks) h = blk.forward(h);
    h = this.norm.forward(h);
    const pooled = reshape(slice(h, [...lead.map(() => 0), 0], [...lead, 1]), [...lead, w]); // class-token pooling
    return this.head.forward(pooled);
  }
}
