// The kernel profiler: GPU time per dispatch, by kernel (family, entry point and constants: one
// pipeline) and by scope (a layer's module path, or any name pushed around a stretch of work), and a
// trace that Perfetto or chrome://tracing opens (Chrome's trace event JSON).
//
// While a profiler is attached (engine.profile()), every dispatch gets a compute pass of its own.
// Where the adapter has 'timestamp-query' (lavapipe does), the pass writes a timestamp at its start
// and end into a query set, resolved and read back after each submission: the GPU's own clock.
// Elsewhere each dispatch is submitted alone and timed by the wall clock from its submission (or the
// previous dispatch's end, if later) to the queue's report that it is done: that report reaches
// JavaScript only when the event loop runs, so a dispatch that ends while the page or process is busy
// recording is charged the wait too; await between steps for clean figures.
// With no profiler attached the engine's only cost is one null check per dispatch and per submit.

export interface KernelEvent {
  /** kernel file (family), entry point and override constants: one pipeline */
  kernel: string;
  entry: string;
  constants: string;
  /** the scope names open when it was recorded, outermost first ('' for none) */
  scope: string;
  workgroups: number;
  /**
   * the first dispatch of a pipeline created while profiling: on lavapipe it includes the driver's
   * compile of the shader (llvmpipe compiles a pipeline when it first runs: seconds for a big kernel)
   */
  first: boolean;
  /** ms from the first dispatch's start; NaN until read back */
  start: number;
  duration: number;
}

/** A named stretch of work (a layer's call): the events recorded between its push and pop. */
interface ScopeSpan {
  name: string;
  depth: number;
  first: number;
  end: number;
}

export interface ProfileRow {
  name: string;
  /** calls and GPU time after each pipeline's first call */
  calls: number;
  ms: number;
  /** of the total GPU time after first calls */
  share: number;
  /** GPU time of first calls (see KernelEvent.first) */
  firstMs: number;
}

const QUERY_PAIRS = 2048; // dispatches per query set (a query set holds at most 4096 queries)

export class Profiler {
  readonly events: KernelEvent[] = [];
  readonly mode: 'timestamps' | 'wall-clock';
  readonly #device: GPUDevice;
  readonly #scopes: ScopeSpan[] = [];
  readonly #open: ScopeSpan[] = [];
  readonly #pending: Promise<void>[] = [];
  /** pipelines created while attached, not yet dispatched */
  readonly #created = new Set<string>();
  #querySet: GPUQuerySet | null = null;
  #resolve: GPUBuffer | null = null;
  /** events of the batch being recorded, by query pair */
  #batch: number[] = [];
  /** wall-clock mode: the dispatch not yet submitted (each is submitted alone), or -1 */
  #unsubmitted = -1;
  #origin: bigint | number | null = null;
  #lastEnd = 0;

  constructor(device: GPUDevice) {
    this.#device = device;
    this.mode = device.features.has('timestamp-query') ? 'timestamps' : 'wall-clock';
    if (this.mode === 'timestamps') {
      this.#querySet = device.createQuerySet({ type: 'timestamp', count: 2 * QUERY_PAIRS });
      this.#resolve = device.createBuffer({ size: 16 * QUERY_PAIRS, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    }
  }

  /** Opens a scope: dispatches until the matching pop() are counted under `name`. */
  push(name: string): void {
    const span = { name, depth: this.#open.length, first: this.events.length, end: -1 };
    this.#open.push(span);
    this.#scopes.push(span);
  }

  pop(): void {
    const span = this.#open.pop();
    if (span) span.end = this.events.length;
  }

  /** fn inside a scope named `name`. */
  scope<T>(name: string, fn: () => T): T {
    this.push(name);
    try {
      return fn();
    } finally {
      this.pop();
    }
  }

  /** The engine created a pipeline (its cache key: kernel:entry:constants, sorted). */
  created(key: string): void {
    this.#created.add(key);
  }

  /** Whether the batch has no room for another timed dispatch (the engine submits it first). */
  get full(): boolean {
    return this.#batch.length === QUERY_PAIRS;
  }

  /** Records a dispatch; returns the pass's timestamp writes, or undefined in wall-clock mode. */
  dispatch(kernel: string, entry: string, constants: Record<string, number>, workgroups: number): GPUComputePassTimestampWrites | undefined {
    const names = Object.keys(constants).sort();
    const key = `${kernel}:${entry}:${names.map((n) => `${n}=${constants[n]}`).join(',')}`;
    this.events.push({
      kernel, entry, constants: names.map((n) => `${n}=${constants[n]}`).join(','), workgroups, first: this.#created.delete(key),
      scope: this.#open.map((s) => s.name).join('/'), start: NaN, duration: NaN,
    });
    if (!this.#querySet) {
      this.#unsubmitted = this.events.length - 1;
      return undefined;
    }
    const pair = this.#batch.length;
    this.#batch.push(this.events.length - 1);
    return { querySet: this.#querySet, beginningOfPassWriteIndex: 2 * pair, endOfPassWriteIndex: 2 * pair + 1 };
  }

  /** Before a submission: resolves the batch's timestamps into a buffer the host can read. */
  beforeSubmit(encoder: GPUCommandEncoder): (() => void) | undefined {
    if (this.mode === 'wall-clock') {
      const event = this.#unsubmitted;
      if (event < 0) return undefined;
      this.#unsubmitted = -1;
      const submitted = performance.now();
      return () => this.#pending.push(this.#device.queue.onSubmittedWorkDone().then(() => this.#wallClock(event, submitted)));
    }
    if (this.#batch.length === 0) return undefined;
    const batch = this.#batch;
    this.#batch = [];
    const bytes = 16 * batch.length;
    const read = this.#device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    encoder.resolveQuerySet(this.#querySet!, 0, 2 * batch.length, this.#resolve!, 0);
    encoder.copyBufferToBuffer(this.#resolve!, 0, read, 0, bytes);
    return () => this.#pending.push(read.mapAsync(GPUMapMode.READ).then(() => {
      const ns = new BigInt64Array(read.getMappedRange().slice(0));
      read.destroy();
      this.#origin ??= ns[0]!;
      batch.forEach((e, i) => {
        const event = this.events[e]!;
        event.start = Number(ns[2 * i]! - (this.#origin as bigint)) / 1e6;
        event.duration = Math.max(0, Number(ns[2 * i + 1]! - ns[2 * i]!) / 1e6);
      });
    }));
  }

  #wallClock(e: number, submitted: number): void {
    const now = performance.now();
    this.#origin ??= submitted;
    const begin = Math.max(submitted, this.#lastEnd);
    this.#lastEnd = now;
    Object.assign(this.events[e]!, { start: begin - (this.#origin as number), duration: now - begin });
  }

  /** Waits until every recorded dispatch has its time (the engine must have submitted them: engine.sync()). */
  async done(): Promise<void> {
    while (this.#pending.length > 0) await Promise.all(this.#pending.splice(0));
  }

  /** GPU time by pipeline (kernel:entry{constants}), largest first; first calls apart. */
  byKernel(): ProfileRow[] {
    return rows(this.events, (e) => [`${e.kernel}:${e.entry}${e.constants ? `{${e.constants}}` : ''}`]);
  }

  /** GPU time by scope, each counting what ran inside it (its inner scopes too), in the order they nest. */
  byScope(): ProfileRow[] {
    return rows(this.events, (e) => (e.scope ? e.scope.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/')) : ['(no scope)']), false);
  }

  /** Chrome's trace event format: kernels on one track, the scopes around them on another. */
  chromeTrace(): { traceEvents: object[]; displayTimeUnit: string } {
    const us = (ms: number) => Math.round(ms * 1000 * 100) / 100;
    const timed = this.events.filter((e) => Number.isFinite(e.start));
    const kernels = timed.map((e) => ({
      name: `${e.kernel}:${e.entry}`, cat: 'kernel', ph: 'X', pid: 1, tid: 1, ts: us(e.start), dur: us(e.duration),
      args: { constants: e.constants, workgroups: e.workgroups, scope: e.scope, ...(e.first ? { first: 'the pipeline\'s first call (includes a lazy driver compile)' } : {}) },
    }));
    const scopes = this.#scopes.flatMap((s) => {
      const inside = this.events.slice(s.first, s.end < 0 ? this.events.length : s.end).filter((e) => Number.isFinite(e.start));
      if (inside.length === 0) return [];
      const start = Math.min(...inside.map((e) => e.start));
      const end = Math.max(...inside.map((e) => e.start + e.duration));
      return [{ name: s.name, cat: 'scope', ph: 'X', pid: 1, tid: 2, ts: us(start), dur: us(end - start), args: { depth: s.depth } }];
    });
    const names = [['kernels', 1], ['scopes', 2]].map(([name, tid]) => ({ name: 'thread_name', ph: 'M', pid: 1, tid, args: { name } }));
    return { traceEvents: [...names, ...kernels, ...scopes], displayTimeUnit: 'ms' };
  }

  /** Frees the query set. */
  destroy(): void {
    this.#querySet?.destroy();
    this.#resolve?.destroy();
  }
}

function rows(events: KernelEvent[], keys: (e: KernelEvent) => string[], bySize = true): ProfileRow[] {
  const total = events.reduce((s, e) => s + (Number.isFinite(e.duration) && !e.first ? e.duration : 0), 0);
  const by = new Map<string, ProfileRow>();
  for (const e of events) {
    if (!Number.isFinite(e.duration)) continue;
    for (const name of keys(e)) {
      const row = by.get(name) ?? { name, calls: 0, ms: 0, share: 0, firstMs: 0 };
      if (e.first) {
        row.firstMs += e.duration;
      } else {
        row.calls++;
        row.ms += e.duration;
      }
      by.set(name, row);
    }
  }
  const out = [...by.values()].map((r) => ({ ...r, share: total > 0 ? r.ms / total : 0 }));
  return bySize ? out.sort((a, b) => b.ms - a.ms) : out;
}
