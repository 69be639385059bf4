// Seeded counter-based random numbers on the GPU (Philox4x32-10, kernels/random.wgsl). A Generator
// is a seed plus a counter offset that each draw advances past the blocks it used, as PyTorch's
// Philox generator does: the same seed and the same sequence of draws give the same numbers on any
// adapter and in any run, and a draw never depends on how the work was split into workgroups.
import { Params } from '../gpu/params.js';
import { launchPerItem } from './launch.js';
import { getEngine } from './runtime.js';
import { Tensor } from './tensor.js';

const TWO32 = 2 ** 32;

export class Generator {
  readonly seed: number;
  #offset = 0; // in Philox blocks of 4 numbers

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`Generator: seed must be a non-negative safe integer, got ${seed}`);
    this.seed = seed;
  }

  /** Blocks consumed so far; save it with the seed to resume a stream. */
  get offset(): number {
    return this.#offset;
  }

  set offset(blocks: number) {
    if (!Number.isSafeInteger(blocks) || blocks < 0) throw new Error(`Generator: offset must be a non-negative integer, got ${blocks}`);
    this.#offset = blocks;
  }

  uniform(shape: readonly number[], low = 0, high = 1): Tensor {
    return this.#draw('draw_uniform', shape, low, high, 'uniform');
  }

  normal(shape: readonly number[], mean = 0, std = 1): Tensor {
    return this.#draw('draw_normal', shape, mean, std, 'normal');
  }

  #draw(entry: string, shape: readonly number[], p0: number, p1: number, op: string): Tensor {
    const y = Tensor.empty(shape, 'f32', op);
    const blocks = Math.ceil(y.size / 4);
    const off = this.#offset;
    const params = new Params()
      .u32(y.size, this.seed % TWO32, Math.floor(this.seed / TWO32), off % TWO32, Math.floor(off / TWO32))
      .f32(p0, p1);
    launchPerItem(getEngine(), 'random', entry, blocks, params, [y.buffer(op)]);
    this.#offset += blocks;
    return y;
  }
}
