// Tensors: a shape, a dtype and a reference-counted GPU storage. Tensors are contiguous, row-major;
// reshape shares storage, every other op writes a new buffer. GPU memory is owned explicitly:
// dispose() a tensor, or create it inside tidy() (scope.ts), which disposes what the scope leaves.
import type { Engine } from '../gpu/engine.js';
import { getEngine } from './runtime.js';
import { trackInScope } from './scope.js';
import { numel, shapeString } from './shape.js';

export type DType = 'f32' | 'i32';

/** A GPU buffer shared by tensors that view it (reshape); freed to the pool when the last lets go. */
class Storage {
  refs = 1;
  constructor(
    readonly engine: Engine,
    readonly buffer: GPUBuffer,
  ) {}
}

export class Tensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly size: number;
  /** whether gradients flow to this tensor (set on leaves by the user; on op outputs by autograd) */
  requiresGrad = false;
  /** accumulated gradient of a leaf after backward(); owned by this tensor, disposed with it */
  grad: Tensor | null = null;
  #storage: Storage | null;
  /** first element's index in the storage (views into a flat buffer, e.g. a model's parameters) */
  readonly #offset: number;

  private constructor(shape: readonly number[], dtype: DType, storage: Storage, offset = 0) {
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.size = numel(shape);
    this.#storage = storage;
    this.#offset = offset;
    trackInScope(this);
  }

  /** A new tensor with fresh (uninitialized) storage; `op` names the op for error messages. */
  static empty(shape: readonly number[], dtype: DType = 'f32', op = 'empty'): Tensor {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new Error(`${op}: invalid shape ${shapeString(shape)}`);
    }
    const engine = getEngine();
    const bytes = numel(shape) * 4;
    const maxBinding = engine.limits.maxStorageBufferBindingSize;
    if (bytes > maxBinding) {
      throw new Error(
        `${op}: a tensor of shape ${shapeString(shape)} needs ${bytes} bytes, above this adapter's ` +
          `maxStorageBufferBindingSize of ${maxBinding} bytes`,
      );
    }
    return new Tensor(shape, dtype, new Storage(engine, engine.alloc(bytes, op)));
  }

  get rank(): number {
    return this.shape.length;
  }

  get disposed(): boolean {
    return this.#storage === null;
  }

  /** The GPU buffer range holding the values, for kernels; `op` names the op that asks, so a
   *  disposed tensor is reported by it. */
  buffer(op: string): GPUBufferBinding {
    const s = this.#storage;
    if (!s) throw new Error(`${op}: tensor of shape ${shapeString(this.shape)} was disposed`);
    const offset = this.#offset * 4;
    // a binding needs a non-zero size; an empty tensor binds the rest of its buffer
    return this.size > 0 ? { buffer: s.buffer, offset, size: this.size * 4 } : { buffer: s.buffer, offset };
  }

  /**
   * buffer() widened to whole vec4s, for kernels that bind the values as array<vec4f>: a size that
   * is not a multiple of 4 would leave the last values outside the array. Pool buffers are sized in
   * 16-byte steps and bindings start 16-byte aligned, so the padding is inside the buffer; kernels
   * read it as garbage and may write it only in a tensor that owns its storage (a fresh output).
   */
  buffer4(op: string): GPUBufferBinding {
    const b = this.buffer(op);
    const offset = b.offset ?? 0;
    return { ...b, size: Math.min(Math.ceil(this.size / 4) * 16, b.buffer.size - offset) };
  }

  /** A tensor of another shape over the same storage (no copy). */
  view(shape: readonly number[], op = 'reshape'): Tensor {
    if (numel(shape) !== this.size) {
      throw new Error(`${op}: cannot view shape ${shapeString(this.shape)} as ${shapeString(shape)}`);
    }
    return this.subview(0, shape, op);
  }

  /**
   * A tensor of `shape` over this one's storage from element `offset` on (no copy): how a flat
   * buffer is split into parameters. Kernels bind it at that offset, so the offset must be a
   * multiple of the adapter's minStorageBufferOffsetAlignment (in bytes).
   */
  subview(offset: number, shape: readonly number[], op = 'subview'): Tensor {
    const s = this.#storage;
    if (!s) throw new Error(`${op}: tensor of shape ${shapeString(this.shape)} was disposed`);
    const align = s.engine.limits.minStorageBufferOffsetAlignment / 4;
    if (!Number.isInteger(offset) || offset < 0 || offset + numel(shape) > this.size || offset % align !== 0) {
      throw new Error(`${op}: no view of ${numel(shape)} elements at offset ${offset} (alignment ${align}) in a tensor of ${this.size}`);
    }
    s.refs++;
    return new Tensor(shape, this.dtype, s, this.#offset + offset);
  }

  dispose(): void {
    const s = this.#storage;
    if (!s) return;
    this.#storage = null;
    if (--s.refs === 0) s.engine.pool.release(s.buffer);
    this.grad?.dispose();
    this.grad = null;
  }

  /** Marks a leaf as needing gradients (returns this, for chaining). */
  requireGrad(on = true): this {
    this.requiresGrad = on;
    return this;
  }

  /** Copies the values back to the host, after all work recorded so far. */
  async toArray(): Promise<Float32Array | Int32Array> {
    const s = this.#storage;
    if (!s) throw new Error(`toArray: tensor of shape ${shapeString(this.shape)} was disposed`);
    const bytes = await s.engine.read(this.buffer('toArray'), this.size * 4);
    return this.dtype === 'i32' ? new Int32Array(bytes) : new Float32Array(bytes);
  }

  /** toArray() for f32 tensors, typed as such. */
  async data(): Promise<Float32Array> {
    if (this.dtype !== 'f32') throw new Error(`data: tensor is ${this.dtype}; use toArray()`);
    return (await this.toArray()) as Float32Array;
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item: tensor of shape ${shapeString(this.shape)} has ${this.size} elements`);
    return (await this.toArray())[0]!;
  }

  toString(): string {
    return `Tensor(${shapeString(this.shape)}, ${this.dtype}${this.disposed ? ', disposed' : ''})`;
  }
}
