// A module's parameters moved into one flat buffer, each parameter a view at an aligned offset,
// with a matching flat gradient buffer that backward() accumulates into. Optimizers update the
// whole vector in one dispatch; the landscape engine forms θ + α·d₁ + β·d₂ on it.
import { Params } from '../gpu/params.js';
import { zeros } from '../tensor/creation.js';
import { launchPerItem } from '../tensor/launch.js';
import { assign } from '../tensor/layout.js';
import { getEngine } from '../tensor/runtime.js';
import { keep } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Module } from './module.js';

export class FlatParameters {
  /** parameter names, in the module's order */
  readonly names: string[];
  /** element offset of each parameter in the flat vectors */
  readonly offsets: number[];
  readonly values: Tensor;
  readonly grads: Tensor;

  private constructor(readonly module: Module, names: string[], offsets: number[], values: Tensor, grads: Tensor) {
    this.names = names;
    this.offsets = offsets;
    this.values = values;
    this.grads = grads;
  }

  /** Moves the module's parameters into one buffer (their values kept), gradients into another. */
  static of(module: Module): FlatParameters {
    const params = module.namedParameters();
    const align = getEngine().limits.minStorageBufferOffsetAlignment / 4;
    const offsets: number[] = [];
    let total = 0;
    for (const [, t] of params) {
      offsets.push(total);
      total += Math.ceil(Math.max(t.size, 1) / align) * align;
    }
    const values = keep(zeros([total]));
    const grads = keep(zeros([total]));
    params.forEach(([name, t], i) => {
      const view = keep(values.subview(offsets[i]!, t.shape, name));
      assign(view, t);
      module.replaceTensor(name, view);
      view.grad = keep(grads.subview(offsets[i]!, t.shape, name));
      t.dispose();
    });
    return new FlatParameters(module, params.map(([n]) => n), offsets, values, grads);
  }

  get size(): number {
    return this.values.size;
  }

  zeroGrad(): void {
    fillInPlace(this.grads, 0);
  }

  /** Frees the flat buffers once the module's parameter views (and their gradients) are disposed too. */
  dispose(): void {
    this.values.dispose();
    this.grads.dispose();
  }
}

/** Overwrites every element of t with `value` (one dispatch, no new tensor). */
export function fillInPlace(t: Tensor, value: number): void {
  launchPerItem(getEngine(), 'fill', 'main', t.size, new Params().u32(t.size).f32(value, 0), [t.buffer('fill')]);
}
