// ResNet with torchvision's parameter names (conv1, bn1, layerK.i.conv1/bn1/conv2/bn2,
// layerK.i.downsample.0/1, fc) and basic blocks; ImageNet-style stem (7x7/2 conv + 3x3/2 max-pool)
// or CIFAR-style stem (3x3/1 conv). Covers ResNet-18 and the CIFAR depths (ResNet-8/20/32...).
import { add, relu } from '../tensor/elementwise.js';
import { Generator } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Flatten, Layer, Linear, MaxPool2d, ModuleList, ReLU } from './layers.js';
import { Sequential } from './sequential.js';

export interface ResNetConfig {
  kind: 'resnet';
  /** basic blocks per stage, e.g. [2, 2, 2, 2] (ResNet-18) or [3, 3, 3] (ResNet-20) */
  blocks: number[];
  /** channels per stage, e.g. [64, 128, 256, 512] or [16, 32, 64] */
  widths: number[];
  channels: number;
  classes: number;
  stem: 'imagenet' | 'cifar';
}

export const RESNET18: ResNetConfig = { kind: 'resnet', blocks: [2, 2, 2, 2], widths: [64, 128, 256, 512], channels: 3, classes: 1000, stem: 'imagenet' };
export const RESNET20: ResNetConfig = { kind: 'resnet', blocks: [3, 3, 3], widths: [16, 32, 64], channels: 3, classes: 10, stem: 'cifar' };
export const RESNET8: ResNetConfig = { ...RESNET20, blocks: [1, 1, 1] };

class BasicBlock extends Layer {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly downsample: Sequential | null;
  constructor(inC: number, outC: number, stride: number, g: Generator) {
    super();
    this.conv1 = this.module('conv1', new Conv2d(inC, outC, 3, g, { stride, padding: 1, bias: false }));
    this.bn1 = this.module('bn1', new BatchNorm2d(outC));
    this.conv2 = this.module('conv2', new Conv2d(outC, outC, 3, g, { padding: 1, bias: false }));
    this.bn2 = this.module('bn2', new BatchNorm2d(outC));
    this.downsample =
      stride !== 1 || inC !== outC
        ? this.module('downsample', new Sequential(new Conv2d(inC, outC, 1, g, { stride, bias: false }), new BatchNorm2d(outC)))
        : null;
  }
  forward(x: Tensor): Tensor {
    const h = relu(this.bn1.forward(this.conv1.forward(x)));
    const r = this.bn2.forward(this.conv2.forward(h));
    return relu(add(r, this.downsample ? this.downsample.forward(x) : x));
  }
}

export class ResNet extends Layer {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly stages: BasicBlock[][];
  readonly fc: Linear;
  /** conv1, bn1, ReLU and the ImageNet stem's max-pool, run as one fused group (not registered: its layers are) */
  readonly #stem: Sequential;
  readonly #pool = new Sequential(new AdaptiveAvgPool2d(1), new Flatten());

  constructor(readonly config: ResNetConfig, seed = 0) {
    super();
    const c = config;
    if (c.blocks.length !== c.widths.length || c.blocks.length === 0) {
      throw new Error(`ResNet config: ${c.blocks.length} stage depths for ${c.widths.length} stage widths`);
    }
    const g = new Generator(seed);
    const imagenet = c.stem === 'imagenet';
    this.conv1 = this.module('conv1', new Conv2d(c.channels, c.widths[0]!, imagenet ? 7 : 3, g, { stride: imagenet ? 2 : 1, padding: imagenet ? 3 : 1, bias: false }));
    this.bn1 = this.module('bn1', new BatchNorm2d(c.widths[0]!));
    let inC = c.widths[0]!;
    this.stages = c.blocks.map((n, s) => {
      const blocks = Array.from({ length: n }, (_, i) => {
        const b = new BasicBlock(inC, c.widths[s]!, i === 0 && s > 0 ? 2 : 1, g);
        inC = c.widths[s]!;
        return b;
      });
      return this.module(`layer${s + 1}`, new ModuleList(blocks)).items;
    });
    this.fc = this.module('fc', new Linear(inC, c.classes, g));
    this.#stem = new Sequential(this.conv1, this.bn1, new ReLU(), ...(imagenet ? [new MaxPool2d(3, 2, 1)] : []));
  }

  forward(x: Tensor): Tensor {
    let h = this.#stem.forward(x);
    for (const stage of this.stages) for (const b of stage) h = b.forward(h);
    return this.fc.forward(this.#pool.forward(h));
  }
}
