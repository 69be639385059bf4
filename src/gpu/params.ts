// Builds the bytes of a kernel's `Params` uniform struct, field by field, in WGSL's uniform layout:
// scalars take 4 bytes; vec4 arrays (used for shapes and strides, rank up to MAX_RANK) start on 16.

export const MAX_RANK = 8;

export class Params {
  readonly #view = new DataView(new ArrayBuffer(256));
  #offset = 0;

  u32(...values: number[]): this {
    for (const v of values) {
      this.#view.setUint32(this.#offset, v >>> 0, true);
      this.#offset += 4;
    }
    return this;
  }

  i32(...values: number[]): this {
    for (const v of values) {
      this.#view.setInt32(this.#offset, v, true);
      this.#offset += 4;
    }
    return this;
  }

  f32(...values: number[]): this {
    for (const v of values) {
      this.#view.setFloat32(this.#offset, v, true);
      this.#offset += 4;
    }
    return this;
  }

  /** An `array<vec4<u32>, 2>` holding up to MAX_RANK values, zero-padded. */
  dims(values: readonly number[]): this {
    if (values.length > MAX_RANK) throw new Error(`rank ${values.length} exceeds losscape's limit of ${MAX_RANK}`);
    this.#offset = Math.ceil(this.#offset / 16) * 16;
    for (let i = 0; i < MAX_RANK; i++) this.#view.setUint32(this.#offset + 4 * i, (values[i] ?? 0) >>> 0, true);
    this.#offset += 4 * MAX_RANK;
    return this;
  }

  /** The struct's bytes, padded to 16 as WGSL sizes uniform structs. */
  bytes(): Uint8Array {
    return new Uint8Array(this.#view.buffer, 0, Math.max(16, Math.ceil(this.#offset / 16) * 16));
  }
}
