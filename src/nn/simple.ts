// Small models for quick studies: an MLP and a plain CNN (conv-ReLU-pool twice, two linear layers).
import { Generator } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { Conv2d, Flatten, Layer, Linear, MaxPool2d, ReLU } from './layers.js';
import { Sequential } from './sequential.js';

export interface MLPConfig {
  kind: 'mlp';
  /** layer widths, input first: [784, 128, 10] */
  sizes: number[];
}

export interface CNNConfig {
  kind: 'cnn';
  imageSize: number;
  channels: number;
  /** output channels of the two conv layers */
  widths: [number, number];
  hidden: number;
  classes: number;
}

export const MLP_DEFAULTS: MLPConfig = { kind: 'mlp', sizes: [784, 128, 10] };
export const CNN_DEFAULTS: CNNConfig = { kind: 'cnn', imageSize: 28, channels: 1, widths: [8, 16], hidden: 64, classes: 10 };

/** Flatten, then Linear-ReLU pairs; names "layers.1.weight", ... */
export class MLP extends Layer {
  readonly layers: Sequential;
  constructor(readonly config: MLPConfig, seed = 0) {
    super();
    const g = new Generator(seed);
    const s = config.sizes;
    if (s.length < 2) throw new Error(`MLP config: needs at least input and output sizes, got [${s}]`);
    const parts: Layer[] = [new Flatten()];
    for (let i = 0; i + 1 < s.length; i++) {
      parts.push(new Linear(s[i]!, s[i + 1]!, g));
      if (i + 2 < s.length) parts.push(new ReLU());
    }
    this.layers = this.module('layers', new Sequential(...parts));
  }
  forward(x: Tensor): Tensor {
    return this.layers.forward(x);
  }
}

/** conv(3x3, pad 1)-ReLU-maxpool(2) twice, flatten, Linear-ReLU-Linear; names "features.0.weight", ... */
export class CNN extends Layer {
  readonly features: Sequential;
  readonly classifier: Sequential;
  constructor(readonly config: CNNConfig, seed = 0) {
    super();
    const c = config;
    if (c.imageSize % 4 !== 0) throw new Error(`CNN config: image size ${c.imageSize} must be divisible by 4 (two 2x2 pools)`);
    const g = new Generator(seed);
    const [w1, w2] = c.widths;
    this.features = this.module('features', new Sequential(
      new Conv2d(c.channels, w1, 3, g, { padding: 1 }), new ReLU(), new MaxPool2d(2),
      new Conv2d(w1, w2, 3, g, { padding: 1 }), new ReLU(), new MaxPool2d(2),
    ));
    const flat = w2 * (c.imageSize / 4) ** 2;
    this.classifier = this.module('classifier', new Sequential(new Flatten(), new Linear(flat, c.hidden, g), new ReLU(), new Linear(c.hidden, c.classes, g)));
  }
  forward(x: Tensor): Tensor {
    return this.classifier.forward(this.features.forward(x));
  }
}
