// Layers in order (torch.nn.Sequential), and the one inference fusion over a layer list: a Linear
// or Conv2d with the layers after it that inference kernels absorb becomes a Fused group, which runs
// a Conv2d-[ReLU]-MaxPool2d(2) as one conv2dPool2 kernel that never writes the full-size convolution
// (in a forward under noGrad and in a stacked pass alike), and which the batched landscape evaluator's
// shared first layer absorbs whole (its BatchNorm folded into a per-point affine, ReLU, max-pool).
import { isGradEnabled } from '../tensor/autograd.js';
import { conv2dPool2, pair } from '../tensor/conv.js';
import { relu } from '../tensor/elementwise.js';
import type { Tensor } from '../tensor/tensor.js';
import { BatchNorm2d, Conv2d, Layer, Linear, MaxPool2d, ReLU } from './layers.js';
import type { Stack, Tail } from './stack.js';

/** Layers applied in order, named "0", "1", ... as torch.nn.Sequential; under noGrad, fused (see fuse). */
export class Sequential extends Layer {
  readonly layers: Layer[];
  readonly #fused: Layer[];
  constructor(...layers: Layer[]) {
    super();
    this.layers = layers.map((l, i) => this.module(String(i), l));
    this.#fused = fuse(this.layers);
  }
  forward(x: Tensor): Tensor {
    let h = x;
    for (const l of this.#fused) h = l.forward(h);
    return h;
  }
}

/**
 * A layer list with each Linear-ReLU and each Conv2d-[BatchNorm2d]-[ReLU]-[MaxPool2d] (at least
 * one of the three) as one Fused group. Only these exact classes fuse: a subclass may compute
 * something else.
 */
export function fuse(layers: readonly Layer[]): Layer[] {
  const is = <T>(l: Layer | undefined, c: abstract new (...a: never[]) => T): l is Layer & T => l?.constructor === c;
  const out: Layer[] = [];
  for (let i = 0; i < layers.length; i++) {
    const head = layers[i]!;
    const conv = is(head, Conv2d);
    if (!conv && !is(head, Linear)) {
      out.push(head);
      continue;
    }
    let j = i + 1;
    const bn = conv && is(layers[j], BatchNorm2d) ? (layers[j++] as BatchNorm2d) : null;
    const reluAfter = is(layers[j], ReLU) ? (j++, true) : false;
    const pool = conv && is(layers[j], MaxPool2d) ? (layers[j++] as MaxPool2d) : null;
    out.push(j === i + 1 ? head : new Fused(head as Linear | Conv2d, bn, reluAfter, pool));
    i = j - 1;
  }
  return out;
}

/**
 * A Linear or Conv2d with the layers after it that inference kernels absorb. A Sequential's groups
 * (made by fuse) are not registered in the model: their layers are, in the Sequential.
 */
export class Fused extends Layer implements Tail {
  /** a conv-[ReLU]-maxpool(2x2/2) that conv2dPool2 computes in one kernel */
  readonly #pool2: boolean;

  constructor(readonly head: Linear | Conv2d, readonly bn: BatchNorm2d | null, readonly relu: boolean, readonly pool: MaxPool2d | null) {
    super();
    this.module('head', head);
    if (bn) this.module('bn', bn);
    if (pool) this.module('pool', pool);
    const window = pool && [pair(pool.kernel), pair(pool.stride ?? pool.kernel), pair(pool.padding)].flat();
    this.#pool2 = head instanceof Conv2d && !bn && !!window && window.join() === '2,2,2,2,0,0';
  }

  /** What it runs, for profiles: "Conv2d+ReLU+MaxPool2d". */
  get label(): string {
    return [this.head, this.bn, this.relu && 'ReLU', this.pool].filter((l) => l).map((l) => (typeof l === 'string' ? l : l!.constructor.name)).join('+');
  }

  forward(x: Tensor): Tensor {
    if (this.#pool2 && !isGradEnabled()) {
      const conv = this.head as Conv2d;
      return conv2dPool2(x, conv.weight(), conv.bias?.() ?? null, conv.opts, this.relu);
    }
    return this.#inTurn(x);
  }

  /** K points: the evaluator's shared first layer where it takes this group, else the head's rule with the pool fused, else the layers in turn. */
  override stacked(x: Tensor, s: Stack): Tensor {
    const first = s.layout(x) === 'shared' ? s.first(this.head, x, this) : null;
    if (first) return first;
    if (this.#pool2) return (this.head as Conv2d).stacked(x, s, { relu: this.relu });
    return this.#inTurn(x);
  }

  /** The layers one by one; in inference a ReLU before a max-pool runs after it, on a quarter of the values (they commute: ReLU is monotone). */
  #inTurn(x: Tensor): Tensor {
    let h = this.head.forward(x);
    if (this.bn) h = this.bn.forward(h);
    const late = this.relu && this.pool !== null && !isGradEnabled();
    if (this.relu && !late) h = relu(h);
    if (this.pool) h = this.pool.forward(h);
    return late ? relu(h) : h;
  }
}
