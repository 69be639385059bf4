// Benchmark harness: wall-clock timing of recorded GPU work (submit + wait), and the adapter's own
// FMA ceiling measured in the same run (kernels/fma_peak.wgsl), so that every speed is reported
// both absolutely and as a fraction of what this adapter can do at all.
import { Params } from '../src/gpu/params.js';
import type { Engine } from '../src/gpu/engine.js';

export interface Timing {
  /** median seconds per call */
  seconds: number;
  runs: number;
}

/** Times `record` (which records GPU work), waiting for the GPU each run: median of runs after a warm-up. */
export async function time(engine: Engine, record: () => void, minSeconds = 1, maxRuns = 20): Promise<Timing> {
  record();
  await engine.sync(); // warm-up: pipelines compiled, buffers pooled
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < maxRuns && (samples.length < 3 || (performance.now() - start) / 1e3 < minSeconds)) {
    const t0 = performance.now();
    record();
    await engine.sync();
    samples.push((performance.now() - t0) / 1e3);
  }
  samples.sort((a, b) => a - b);
  return { seconds: samples[Math.floor(samples.length / 2)]!, runs: samples.length };
}

/** GFLOP/s of the pure-FMA kernel: the arithmetic ceiling that kernels are compared with. */
export async function fmaCeiling(engine: Engine): Promise<number> {
  const wg = engine.workgroupSize(256);
  const iters = 512;
  // enough invocations to fill a big GPU; on a CPU adapter the run stays short
  const workgroups = engine.adapter.software ? 16 : 8192;
  const out = engine.pool.acquire(workgroups * wg * 4, 'fma_peak');
  const record = () =>
    engine.dispatch({
      kernel: 'fma_peak', constants: { WG: wg, ITERS: iters },
      params: new Params().f32(0.5, 0.999, 0.001), buffers: [out], workgroups,
    });
  const { seconds } = await time(engine, record, 1);
  engine.pool.release(out);
  const flops = workgroups * wg * iters * 8 * 4 * 2;
  return flops / seconds / 1e9;
}

export function describe(engine: Engine): string {
  const a = engine.adapter;
  return [a.vendor, a.architecture, a.description].filter((s) => s).join(' / ');
}

/** A command-line option `--name value`, or the fallback. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
