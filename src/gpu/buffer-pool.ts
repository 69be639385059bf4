// Buffer pool: storage buffers are recycled by size class instead of created and destroyed per op.
//
// Reuse is safe without fences because every use of a buffer goes through the one queue in order:
// a buffer released after being read by a recorded dispatch and handed out again is only written by
// dispatches recorded later. The engine flushes recorded work before any queue.writeBuffer (which
// would otherwise jump ahead of it), so uploads keep that order too.

export interface PoolStats {
  /** bytes held by live tensors (in size classes, so what the device really holds for them) */
  bytesLive: number;
  /** bytes of released buffers kept for reuse */
  bytesPooled: number;
  /** high-water mark of bytesLive since creation or the last resetPeak() */
  peakBytesLive: number;
  /** the largest buffer handed out since creation or the last resetPeak() */
  peakBufferBytes: number;
  buffersLive: number;
  buffersPooled: number;
  /** buffers ever created, and how many requests were served from the pool */
  created: number;
  reused: number;
}

/** Size class for a request: powers of two up to 1 MiB, then steps of an eighth of a power of two. */
export function sizeClass(bytes: number): number {
  const b = Math.max(16, Math.ceil(bytes / 16) * 16);
  if (b <= 1 << 20) return 2 ** Math.ceil(Math.log2(b));
  const step = 2 ** Math.floor(Math.log2(b)) / 8;
  return Math.ceil(b / step) * step;
}

export class BufferPool {
  readonly #device: GPUDevice;
  readonly #usage: GPUBufferUsageFlags;
  readonly #free = new Map<number, GPUBuffer[]>();
  readonly #maxBufferSize: number;
  #stats: PoolStats = {
    bytesLive: 0, bytesPooled: 0, peakBytesLive: 0, peakBufferBytes: 0, buffersLive: 0, buffersPooled: 0, created: 0, reused: 0,
  };

  constructor(device: GPUDevice, usage: GPUBufferUsageFlags) {
    this.#device = device;
    this.#usage = usage;
    this.#maxBufferSize = device.limits.maxBufferSize;
  }

  acquire(bytes: number, what: string): GPUBuffer {
    const size = sizeClass(bytes);
    if (size > this.#maxBufferSize) {
      throw new Error(
        `${what}: needs a buffer of ${bytes} bytes, above this adapter's maxBufferSize of ${this.#maxBufferSize} bytes`,
      );
    }
    const s = this.#stats;
    const list = this.#free.get(size);
    let buffer = list?.pop();
    if (buffer) {
      s.bytesPooled -= size;
      s.buffersPooled--;
      s.reused++;
    } else {
      buffer = this.#device.createBuffer({ size, usage: this.#usage, label: what });
      s.created++;
    }
    s.bytesLive += size;
    s.buffersLive++;
    s.peakBytesLive = Math.max(s.peakBytesLive, s.bytesLive);
    s.peakBufferBytes = Math.max(s.peakBufferBytes, size);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    const size = buffer.size;
    let list = this.#free.get(size);
    if (!list) this.#free.set(size, (list = []));
    list.push(buffer);
    const s = this.#stats;
    s.bytesLive -= size;
    s.buffersLive--;
    s.bytesPooled += size;
    s.buffersPooled++;
  }

  /** Destroys every pooled (released) buffer, giving its memory back to the device. */
  trim(): void {
    for (const list of this.#free.values()) for (const b of list) b.destroy();
    this.#free.clear();
    this.#stats.bytesPooled = 0;
    this.#stats.buffersPooled = 0;
  }

  resetPeak(): void {
    this.#stats.peakBytesLive = this.#stats.bytesLive;
    this.#stats.peakBufferBytes = 0;
  }

  get stats(): PoolStats {
    return { ...this.#stats };
  }
}
