// The benchmark runner: cases with variants (losscape through its public API, a kernel version
// forced by name, a peer engine), each checked before it is timed, then timed in alternating
// repeats after a warm-up, so that whatever else runs on the machine slows every variant alike.
// A sample is one call (or a few, for calls under `minSample`) ending with a full readback of
// the result: what a user of the op waits for.
import { getEngine } from '../src/tensor/runtime.js';
import { stats, type Stats } from './harness.js';
import type { PeerSpec } from './peers.js';

export interface Timed {
  /** records one call without waiting (optional: lets a sample hold several short calls) */
  call?(): void;
  /** one call and a full readback of its result; a peer in another process returns the seconds it measured */
  run(): Promise<number | void>;
  /** items per call, where the variant's differ from the case's (a batched evaluator's K points) */
  items?: number;
  dispose(): void;
}

/** Thrown by a variant's setup when it cannot run here at all (a peer not installed): reported, not a failure. */
export class Unavailable extends Error {}

export interface Variant {
  name: string;
  /** prepares the inputs and checks the result (throws if wrong); returns what was checked */
  setup(): Promise<{ checked: string; timed: Timed }>;
}

export interface BenchCase {
  group: string;
  name: string;
  /** kernel families the case runs (a forced version adds a variant: see withForced) */
  uses: string[];
  /** per call: floating-point operations, bytes moved, items (points, samples, steps) */
  flops?: number;
  /** floating-point operations per item, where a variant's items per call differ (Timed.items) */
  flopsPerItem?: number;
  bytes?: number;
  items?: { count: number; unit: string };
  variants: Variant[];
  /** what a peer engine computes to run the same case (peers.ts) */
  peer?: PeerSpec;
}

export interface CaseResult {
  group: string;
  case: string;
  variant: string;
  checked?: string;
  error?: string;
  /** why the variant could not run here (a peer engine missing) */
  unavailable?: string;
  /** calls per sample, samples timed */
  calls?: number;
  samples?: number;
  /** seconds per call */
  seconds?: Stats;
  gflops?: Stats;
  /** median GFLOP/s over the run's FMA ceiling */
  ofCeiling?: number;
  gbPerSecond?: Stats;
  itemsPerSecond?: Stats & { unit: string };
  /** how many times faster the first variant (losscape) ran: this one's median time per item over the first's */
  firstSpeedup?: number;
  /** 1-minute load average when the case started */
  load: number;
}

export interface RunOptions {
  repeats: number;
  /** a sample holds enough calls to last this long (at most 50) */
  minSample: number;
  /** after 3 rounds, no more rounds once a case's timing has taken this long (seconds) */
  maxCase: number;
  /** GFLOP/s ceiling, for ofCeiling */
  ceiling: number;
  log: (line: string) => void;
  load: () => number;
}

/** The variant with `family` forced to `version` around its setup and every call. */
export function withForced(v: Variant, family: string, version: string): Variant {
  const forced = <T>(fn: () => T): T => {
    const kernels = getEngine().kernels;
    const before = kernels.forced.get(family) ?? null;
    kernels.force(family, version);
    try {
      return fn();
    } finally {
      kernels.force(family, before);
    }
  };
  // forcing must cover the recording, which is synchronous; the awaits that follow only read back
  const wrap = (t: Timed): Timed => ({
    call: t.call && (() => forced(() => t.call!())),
    run: () => forced(() => t.run()),
    dispose: () => t.dispose(),
  });
  return {
    name: `${family}=${version}`,
    setup: async () => {
      const { checked, timed } = await forced(() => v.setup());
      return { checked, timed: wrap(timed) };
    },
  };
}

async function seconds(fn: () => Promise<number | void>): Promise<number> {
  const t0 = performance.now();
  const measured = await fn();
  return typeof measured === 'number' ? measured : (performance.now() - t0) / 1e3;
}

/** Runs one case: every variant checked, warmed up, then timed in `repeats` alternating rounds. */
export async function runCase(c: BenchCase, o: RunOptions): Promise<CaseResult[]> {
  const load = o.load();
  const ready: Array<{ v: Variant; checked: string; timed: Timed; calls: number; times: number[] }> = [];
  const results: CaseResult[] = [];
  for (const v of c.variants) {
    try {
      const { checked, timed } = await v.setup();
      ready.push({ v, checked, timed, calls: 1, times: [] });
    } catch (e) {
      const why = (e as Error).message;
      results.push({ group: c.group, case: c.name, variant: v.name, ...(e instanceof Unavailable ? { unavailable: why } : { error: why }), load });
      o.log(`  ${c.group} ${c.name} ${v.name}: ${why}`);
    }
  }
  const sample = async (r: (typeof ready)[number]) =>
    seconds(async () => {
      for (let i = 1; i < r.calls; i++) r.timed.call!();
      return r.timed.run();
    });
  // a variant that fails while timed is reported as failed; the others go on
  const failed = (r: (typeof ready)[number], e: unknown) => {
    results.push({ group: c.group, case: c.name, variant: r.v.name, error: (e as Error).message, load });
    o.log(`  ${c.group} ${c.name} ${r.v.name}: ${(e as Error).message}`);
    r.timed.dispose();
    ready.splice(ready.indexOf(r), 1);
  };
  for (const r of [...ready]) {
    try {
      const first = await sample(r); // warm-up: pipelines compiled, buffers pooled
      if (r.timed.call) r.calls = Math.max(1, Math.min(50, Math.ceil(o.minSample / Math.max(first, 1e-6))));
    } catch (e) {
      failed(r, e);
    }
  }
  const timing = performance.now();
  for (let round = 0; round < o.repeats && (round < 3 || performance.now() - timing < 1e3 * o.maxCase); round++) {
    // rotate the order each round, so that no variant always runs first
    for (const r of ready.map((_, i) => ready[(i + round) % ready.length]!)) {
      try {
        r.times.push((await sample(r)) / r.calls);
      } catch (e) {
        failed(r, e);
      }
    }
  }
  for (const r of ready) r.timed.dispose();
  // per item, where variants' items per call differ (a batched evaluator's K points, one point)
  const perItem = (r: (typeof ready)[number]) => stats(r.times).median / (r.timed.items ?? c.items?.count ?? 1);
  const firstMedian = ready[0] && perItem(ready[0]);
  for (const r of ready) {
    const s = stats(r.times);
    const per = (x: number | undefined) => (x === undefined ? undefined : { median: x / s.median, min: x / s.max, max: x / s.min });
    const items = r.timed.items ?? c.items?.count ?? 1;
    const flops = c.flops ?? (c.flopsPerItem === undefined ? undefined : c.flopsPerItem * items);
    const gflops = per(flops === undefined ? undefined : flops / 1e9);
    results.push({
      group: c.group, case: c.name, variant: r.v.name, checked: r.checked, calls: r.calls, samples: r.times.length, seconds: s,
      gflops, ofCeiling: gflops && gflops.median / o.ceiling, gbPerSecond: per(c.bytes && c.bytes / 1e9),
      itemsPerSecond: c.items && { ...per(items)!, unit: `${c.items.unit}/s` },
      firstSpeedup: firstMedian === undefined ? undefined : perItem(r) / firstMedian, load,
    });
  }
  return results;
}
