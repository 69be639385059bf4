// A model defined outside losscape: an MLP-Mixer (Tolstikhin et al., 2021) with LayerScale on its
// residual branches (a learned per-channel scale, as in CaiT and ConvNeXt). LayerScale is the one
// layer of its own, and it gives its stacked rule (K points at once) beside its forward; everything
// else is losscape's layers, and the block and the model are plain forwards that leave the leading
// axes free (negative axes), so the batched landscape evaluator runs them for K points per pass with
// no further code (docs/LANDSCAPE.md, "Custom layers").
//
// Run: npx tsx examples/mlp-mixer.ts [--samples 200] [--steps 5]
// It evaluates a plane around the untrained model on MNIST test images with both evaluators and
// prints how far apart they are and their points/s.
import { pathToFileURL } from 'node:url';
import {
  add, batchedEvaluator, disposeEvalSet, evaluateSequential, FlatParameters, full, Generator, gridPoints, init, Layer, LayerNorm, Linear,
  linspace, mean, Mlp, ModuleList, mul, PatchEmbed, prepareEvalSet, randomDirection, reshape, take, transpose, type Stack, type Tensor,
} from '../src/index.js';
import { mnist } from '../src/node/index.js';

/** x·γ with a learned γ per channel (last axis). */
export class LayerScale extends Layer {
  readonly gamma = () => this.own('gamma');
  constructor(readonly dim: number, init = 0.1) {
    super();
    this.param('gamma', full([dim], init));
  }
  forward(x: Tensor): Tensor {
    return mul(x, this.gamma());
  }
  /** K points: x dense [K, ..., C] (or shared, broadcast first), each point's γ [K, C] broadcast over the axes between. */
  override stacked(x: Tensor, s: Stack): Tensor {
    const gamma = reshape(s.param(this.gamma()), [s.k, ...x.shape.slice(1, -1).map(() => 1), this.dim]);
    return s.dense(mul(s.expand(x, 'dense'), gamma));
  }
}

export interface MixerConfig {
  imageSize: number;
  patchSize: number;
  channels: number;
  width: number;
  depth: number;
  /** hidden width of the token-mixing and the channel-mixing MLPs */
  tokenHidden: number;
  channelHidden: number;
  classes: number;
}

/** Token mixing (an MLP along the tokens, per channel), then channel mixing, each a pre-norm residual branch. */
export class MixerBlock extends Layer {
  readonly norm1: LayerNorm;
  readonly tokens: Mlp;
  readonly scale1: LayerScale;
  readonly norm2: LayerNorm;
  readonly channels: Mlp;
  readonly scale2: LayerScale;
  constructor(c: MixerConfig, g: Generator) {
    super();
    const tokens = (c.imageSize / c.patchSize) ** 2;
    this.norm1 = this.module('norm1', new LayerNorm(c.width));
    this.tokens = this.module('tokens', new Mlp(tokens, c.tokenHidden, g));
    this.scale1 = this.module('scale1', new LayerScale(c.width));
    this.norm2 = this.module('norm2', new LayerNorm(c.width));
    this.channels = this.module('channels', new Mlp(c.width, c.channelHidden, g));
    this.scale2 = this.module('scale2', new LayerScale(c.width));
  }
  /** x [..., tokens, width]: the leading axes are [B] in a forward, [K, B] in a stacked pass */
  forward(x: Tensor): Tensor {
    const mixed = transpose(this.tokens.forward(transpose(this.norm1.forward(x))));
    const h = add(x, this.scale1.forward(mixed));
    return add(h, this.scale2.forward(this.channels.forward(this.norm2.forward(h))));
  }
}

export class MlpMixer extends Layer {
  readonly patch_embed: PatchEmbed;
  readonly blocks: MixerBlock[];
  readonly norm: LayerNorm;
  readonly head: Linear;
  constructor(readonly config: MixerConfig, seed = 0) {
    super();
    const g = new Generator(seed);
    this.patch_embed = this.module('patch_embed', new PatchEmbed(config, g));
    this.blocks = this.module('blocks', new ModuleList(Array.from({ length: config.depth }, () => new MixerBlock(config, g)))).items;
    this.norm = this.module('norm', new LayerNorm(config.width));
    this.head = this.module('head', new Linear(config.width, config.classes, g));
  }
  /** images [..., C, H, W] to logits [..., classes], averaging the tokens */
  forward(x: Tensor): Tensor {
    let h = this.patch_embed.forward(x);
    for (const blk of this.blocks) h = blk.forward(h);
    return this.head.forward(mean(this.norm.forward(h), -2));
  }
}

async function main(): Promise<void> {
  const option = (name: string, fallback: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? Number(process.argv[i + 1]) : fallback;
  };
  await init();
  const model = new MlpMixer({ imageSize: 28, patchSize: 7, channels: 1, width: 32, depth: 2, tokenHidden: 32, channelHidden: 64, classes: 10 });
  const flat = FlatParameters.of(model);
  const [d1, d2] = [randomDirection(flat, { seed: 1 }), randomDirection(flat, { seed: 2 })];
  const set = prepareEvalSet(take(mnist('test'), option('samples', 200)), 100);
  const coords = linspace(-1, 1, option('steps', 5));
  const points = gridPoints(coords, coords);
  const batched = batchedEvaluator(model, flat, d1, d2, set);
  const k = batched.chunkSize(points.length); // measured: a dry run at 1 and 2 points
  // each evaluator once first, so that its pipelines are compiled before it is timed
  await evaluateSequential(model, flat, d1, d2, points.slice(0, 1), set);
  await batched.evaluate(points.slice(0, k));
  let t0 = performance.now();
  const seq = await evaluateSequential(model, flat, d1, d2, points, set);
  const seqRate = points.length / ((performance.now() - t0) / 1e3);
  t0 = performance.now();
  const bat = await batched.evaluate(points);
  const batRate = points.length / ((performance.now() - t0) / 1e3);
  const worst = Math.max(...bat.map((r, i) => Math.abs(r.loss - seq[i]!.loss) / seq[i]!.loss));
  console.log(`${points.length} points; loss at the centre ${seq[Math.floor(points.length / 2)]!.loss.toFixed(4)}`);
  console.log(`batched (K=${k}) against sequential: largest relative difference of the loss ${worst.toExponential(2)}`);
  console.log(`points/s: sequential ${seqRate.toFixed(2)}, batched ${batRate.toFixed(2)}`);
  batched.dispose();
  disposeEvalSet(set);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
