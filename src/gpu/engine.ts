// The engine: one device, its kernel sources, a pipeline cache, a buffer pool, and the command
// encoder into which ops record their dispatches. Nothing waits for the GPU until a readback.
import { BufferPool, type PoolStats } from './buffer-pool.js';
import { requestDevice, type AdapterReport } from './device.js';
import { composeKernel, loadKernelSources } from './kernel-source.js';
import { Params } from './params.js';
import { Profiler } from './profiler.js';
import { KernelSelection } from './selection.js';

const PARAM_SLOT = 256; // minUniformBufferOffsetAlignment is at most 256 on every adapter
const PARAM_SLOTS = 4096; // a batch holds at most this many dispatches before it is submitted

export interface DispatchSpec {
  kernel: string;
  entry?: string;
  /** pipeline-overridable constants: the specialization a pipeline is cached by */
  constants?: Record<string, number>;
  params?: Params;
  /** storage buffers (or ranges of them) bound at 1, 2, ... in order (binding 0 is the params
   *  uniform, when given); null leaves a binding the entry point does not use */
  buffers: Array<GPUBufferBinding | GPUBuffer | null>;
  /** total workgroups; folded into a 2-D grid when above maxComputeWorkgroupsPerDimension */
  workgroups: number;
}

export interface EngineStats extends PoolStats {
  pipelines: number;
  dispatches: number;
  submits: number;
}

export class Engine {
  readonly device: GPUDevice;
  readonly adapter: AdapterReport;
  readonly #sources: Map<string, string>;
  readonly #modules = new Map<string, GPUShaderModule>();
  readonly #pipelines = new Map<string, GPUComputePipeline>();
  readonly pool: BufferPool;
  readonly #readPool: BufferPool;
  readonly #paramBuffer: GPUBuffer;
  readonly #paramBytes = new Uint8Array(PARAM_SLOT * PARAM_SLOTS);
  #paramSlots = 0;
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #dispatches = 0;
  #submits = 0;
  #error: string | null = null;
  #lost: GPUDeviceLostInfo | null = null;
  #profiler: Profiler | null = null;
  /** which version of each kernel family runs (forced, tuned or default): selection.ts */
  readonly kernels = new KernelSelection();
  /** Debug mode for tests: every buffer handed out by alloc() is first filled with a NaN pattern. */
  poison = false;

  private constructor(device: GPUDevice, adapter: AdapterReport, sources: Map<string, string>) {
    this.device = device;
    this.adapter = adapter;
    this.#sources = sources;
    const U = GPUBufferUsage;
    this.pool = new BufferPool(device, U.STORAGE | U.COPY_SRC | U.COPY_DST);
    this.#readPool = new BufferPool(device, U.MAP_READ | U.COPY_DST);
    this.#paramBuffer = device.createBuffer({ size: this.#paramBytes.byteLength, usage: U.UNIFORM | U.COPY_DST });
    // kept and thrown at the next flush or read; preventDefault stops the implementation printing it too
    device.addEventListener('uncapturederror', (ev) => {
      ev.preventDefault();
      this.#error ??= (ev as GPUUncapturedErrorEvent).error.message;
    });
    device.lost.then((info) => (this.#lost = info));
  }

  static async create(): Promise<Engine> {
    const [{ device, adapter }, sources] = await Promise.all([requestDevice(), loadKernelSources()]);
    return new Engine(device, adapter, sources);
  }

  /** Why the device was lost (destroyed, or the driver gave it up), or null while it works. A lost engine's tensors are gone; `init()` starts a new engine. */
  get lost(): GPUDeviceLostInfo | null {
    return this.#lost;
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  /**
   * Lanes per subgroup that kernels exchanging values within one (kernels/*_subgroups.wgsl) can count
   * on: the adapter's smallest subgroup where the device has the 'subgroups' feature, else 0.
   */
  get subgroupLanes(): number {
    return this.device.features.has('subgroups') ? this.adapter.subgroupMinSize : 0;
  }

  /** The largest workgroup size up to `preferred` that this adapter allows in one dimension. */
  workgroupSize(preferred: number): number {
    const l = this.device.limits;
    return Math.min(preferred, l.maxComputeInvocationsPerWorkgroup, l.maxComputeWorkgroupSizeX);
  }

  pipeline(kernel: string, entry = 'main', constants: Record<string, number> = {}): GPUComputePipeline {
    const names = Object.keys(constants).sort();
    const key = `${kernel}:${entry}:${names.map((n) => `${n}=${constants[n]}`).join(',')}`;
    let p = this.#pipelines.get(key);
    if (p) return p;
    let module = this.#modules.get(kernel);
    if (!module) {
      const { code, requires } = composeKernel(this.#sources, kernel);
      const missing = requires.filter((f) => !this.device.features.has(f));
      if (missing.length > 0) throw new Error(`kernel "${kernel}" needs the adapter feature ${missing.join(', ')}, which ${this.adapter.description || 'this adapter'} lacks`);
      module = this.device.createShaderModule({ code, label: kernel });
      this.#modules.set(kernel, module);
    }
    p = this.device.createComputePipeline({
      layout: 'auto',
      label: key,
      compute: { module, entryPoint: entry, constants },
    });
    this.#pipelines.set(key, p);
    this.#profiler?.created(key);
    return p;
  }

  /** A storage buffer of at least `bytes` from the pool; `what` names the op in errors. */
  alloc(bytes: number, what: string): GPUBuffer {
    const buffer = this.pool.acquire(bytes, what);
    if (this.poison) {
      const words = buffer.size / 4;
      const wg = this.workgroupSize(256);
      this.dispatch({
        kernel: 'fill', entry: 'poison', constants: { WG: wg }, params: new Params().u32(words),
        buffers: [buffer], workgroups: Math.ceil(words / wg),
      });
    }
    return buffer;
  }

  /** Records one dispatch into the current batch. */
  dispatch(spec: DispatchSpec): void {
    if (spec.workgroups === 0) return;
    if (this.#paramSlots === PARAM_SLOTS || this.#profiler?.full) this.flush();
    const pipeline = this.pipeline(spec.kernel, spec.entry, spec.constants);
    const entries: GPUBindGroupEntry[] = [];
    if (spec.params) {
      const bytes = spec.params.bytes();
      const offset = this.#paramSlots++ * PARAM_SLOT;
      this.#paramBytes.set(bytes, offset);
      entries.push({ binding: 0, resource: { buffer: this.#paramBuffer, offset, size: bytes.byteLength } });
    }
    spec.buffers.forEach((b, i) => {
      if (b) entries.push({ binding: i + 1, resource: 'buffer' in b ? b : { buffer: b } });
    });
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const pass = this.#profiler ? this.#profiledPass(spec) : this.#computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    const maxX = this.device.limits.maxComputeWorkgroupsPerDimension;
    const x = Math.min(spec.workgroups, maxX);
    const y = Math.ceil(spec.workgroups / x);
    if (y > maxX) throw new Error(`${spec.kernel}: ${spec.workgroups} workgroups exceed the adapter's grid`);
    pass.dispatchWorkgroups(x, y);
    this.#dispatches++;
    if (this.#profiler?.mode === 'wall-clock') this.flush();
  }

  /**
   * Attaches a profiler (profiler.ts): from now on every dispatch is timed in a pass of its own, and
   * submitted alone where the adapter has no timestamps. null detaches it. Returns it.
   */
  profile(profiler: Profiler | null = new Profiler(this.device)): Profiler | null {
    this.flush();
    this.#profiler = profiler;
    return profiler;
  }

  get profiler(): Profiler | null {
    return this.#profiler;
  }

  // profiling: a pass of its own per dispatch, with the profiler's timestamps
  #profiledPass(spec: DispatchSpec): GPUComputePassEncoder {
    const timestampWrites = this.#profiler!.dispatch(spec.kernel, spec.entry ?? 'main', spec.constants ?? {}, spec.workgroups);
    this.#pass?.end();
    this.#encoder ??= this.device.createCommandEncoder();
    this.#pass = this.#encoder.beginComputePass(timestampWrites ? { timestampWrites } : {});
    return this.#pass;
  }

  #computePass(): GPUComputePassEncoder {
    this.#encoder ??= this.device.createCommandEncoder();
    this.#pass ??= this.#encoder.beginComputePass();
    return this.#pass;
  }

  #commandEncoder(): GPUCommandEncoder {
    this.#pass?.end();
    this.#pass = null;
    this.#encoder ??= this.device.createCommandEncoder();
    return this.#encoder;
  }

  /** Records a copy of `bytes` between buffer ranges (offsets from the bindings, 0 if absent). */
  copy(src: GPUBufferBinding, dst: GPUBufferBinding, bytes: number): void {
    this.#commandEncoder().copyBufferToBuffer(src.buffer, src.offset ?? 0, dst.buffer, dst.offset ?? 0, bytes);
  }

  /** Submits everything recorded so far (and the params it reads). Returns at once. */
  flush(): void {
    if (!this.#encoder) return;
    this.#pass?.end();
    this.#pass = null;
    if (this.#paramSlots > 0) {
      this.device.queue.writeBuffer(this.#paramBuffer, 0, this.#paramBytes, 0, this.#paramSlots * PARAM_SLOT);
    }
    const submitted = this.#profiler?.beforeSubmit(this.#encoder);
    this.device.queue.submit([this.#encoder.finish()]);
    submitted?.();
    this.#encoder = null;
    this.#paramSlots = 0;
    this.#submits++;
    this.#throwIfFailed();
  }

  /** Writes host data into a buffer, after the work already recorded (which may still read it). */
  write(dst: GPUBufferBinding, data: ArrayBufferView): void {
    this.flush();
    this.device.queue.writeBuffer(dst.buffer, dst.offset ?? 0, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Copies `bytes` from a storage buffer range back to the host once all recorded work has run. */
  async read(src: GPUBufferBinding, bytes: number): Promise<ArrayBuffer> {
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const staging = this.#readPool.acquire(size, 'readback');
    this.copy(src, { buffer: staging }, size);
    this.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ, 0, size);
    } catch (e) {
      this.#throwIfFailed();
      throw e;
    }
    const out = staging.getMappedRange(0, size).slice(0, bytes);
    staging.unmap();
    this.#readPool.release(staging);
    this.#throwIfFailed();
    return out;
  }

  /** Waits until the GPU has finished everything submitted (for timing). */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.#throwIfFailed();
  }

  #throwIfFailed(): void {
    if (this.#lost) throw new Error(`losscape: the GPU device was lost (${this.#lost.reason}): ${this.#lost.message || 'no message'}`);
    if (this.#error === null) return;
    const msg = this.#error;
    this.#error = null;
    throw new Error(`WebGPU error: ${msg}`);
  }

  get stats(): EngineStats {
    return { ...this.pool.stats, pipelines: this.#pipelines.size, dispatches: this.#dispatches, submits: this.#submits };
  }

  destroy(): void {
    this.pool.trim();
    this.#readPool.trim();
    this.device.destroy();
  }
}
