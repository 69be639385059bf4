// Benchmark plumbing: the machine and adapter a run happened on (CPU model and vector features from
// /proc/cpuinfo, cores, load average, commit), the adapter's ceilings measured in the same run
// (kernels/peak.wgsl: FMA GFLOP/s, the fastest of three chain counts, and copy GB/s), and medians
// with min-max. Every figure bench/RESULTS.md holds is a fraction of what its own run measured.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { Params } from '../src/gpu/params.js';
import type { Engine } from '../src/gpu/engine.js';

export interface Stats {
  median: number;
  min: number;
  max: number;
}

export function stats(values: readonly number[]): Stats {
  const s = [...values].sort((a, b) => a - b);
  return { median: s[Math.floor((s.length - 1) / 2)]!, min: s[0]!, max: s.at(-1)! };
}

/** The vector features a CPU adapter's speed depends on, as /proc/cpuinfo names them. */
const VECTOR_FLAGS = ['sse4_2', 'avx', 'avx2', 'fma', 'f16c', 'avx512f', 'avx512vl', 'avx512bw', 'avx512dq', 'avx512_vnni', 'avx512_bf16', 'amx_tile', 'asimd', 'sve', 'sve2'];

export interface Machine {
  cpu: string;
  vectorFeatures: string[];
  cores: number;
  /** 1-, 5- and 15-minute load averages when the run started and ended */
  loadStart: number[];
  loadEnd?: number[];
  node: string;
  platform: string;
}

/** The CPU this process runs on: model and vector features from /proc/cpuinfo (Linux), cores, load. */
export function machine(): Machine {
  let cpu = cpus()[0]?.model ?? 'unknown';
  let flags: string[] = [];
  if (existsSync('/proc/cpuinfo')) {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    cpu = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? cpu;
    flags = (/^(?:flags|Features)\s*:\s*(.+)$/m.exec(info)?.[1] ?? '').split(/\s+/);
  }
  return {
    cpu, vectorFeatures: VECTOR_FLAGS.filter((f) => flags.includes(f)), cores: cpus().length,
    loadStart: loadavg().map((v) => Math.round(v * 100) / 100), node: process.version, platform: `${process.platform}-${process.arch}`,
  };
}

/** The checkout's commit (with "+changes" for uncommitted edits), or null outside a git checkout. */
export function commit(): string | null {
  try {
    const opts = { cwd: new URL('..', import.meta.url), stdio: ['ignore', 'pipe', 'ignore'] as Array<'ignore' | 'pipe'> };
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], opts).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], opts).toString().trim() !== '';
    return dirty ? `${head}+changes` : head;
  } catch {
    return null;
  }
}

export function describe(engine: Engine): string {
  const a = engine.adapter;
  return [a.vendor, a.architecture, a.description].filter((s) => s).join(' / ');
}

/** Seconds of one run of `record` (which records GPU work), waiting for the GPU. */
async function timeOnce(engine: Engine, record: () => void): Promise<number> {
  const t0 = performance.now();
  record();
  await engine.sync();
  return (performance.now() - t0) / 1e3;
}

export interface Ceilings {
  /** GFLOP/s of the fastest FMA kernel, median and range over the repeats, and each kernel's median */
  fma: Stats & { kernels: Record<string, number> };
  /** GB/s (bytes read plus bytes written) of a vec4 copy kernel over 64 MiB */
  copy: Stats;
}

/**
 * The adapter's ceilings: FMA throughput (kernels/peak.wgsl's fma8, fma4 and fma2, alternating,
 * `repeats` times after a warm-up; the fastest kernel's runs are the ceiling) and copy bandwidth.
 */
export async function measureCeilings(engine: Engine, repeats = 5): Promise<Ceilings> {
  const wg = engine.workgroupSize(256);
  const iters = 512;
  // enough invocations to fill a big GPU; on a CPU adapter the run stays short
  const workgroups = engine.adapter.software ? 16 : 8192;
  const out = engine.pool.acquire(workgroups * wg * 4, 'peak');
  const flops = workgroups * wg * iters * 8 * 4 * 2;
  const fma = (entry: string) => () =>
    engine.dispatch({ kernel: 'peak', entry, constants: { WG: wg, ITERS: iters }, params: new Params().f32(0.5, 0.999, 0.001).u32(0), buffers: [out], workgroups });
  const kernels = ['fma8', 'fma4', 'fma2'];
  const runs = new Map(kernels.map((k) => [k, [] as number[]]));
  for (const k of kernels) await timeOnce(engine, fma(k)); // pipelines compiled
  for (let r = 0; r < repeats; r++) for (const k of kernels) runs.get(k)!.push(flops / (await timeOnce(engine, fma(k))) / 1e9);
  engine.pool.release(out);
  const medians = Object.fromEntries(kernels.map((k) => [k, stats(runs.get(k)!).median]));
  const best = kernels.reduce((a, b) => (medians[b]! > medians[a]! ? b : a));

  const vec4s = (64 * 2 ** 20) / 16;
  const [x, y] = [engine.pool.acquire(vec4s * 16, 'peak'), engine.pool.acquire(vec4s * 16, 'peak')];
  const copy = () =>
    engine.dispatch({ kernel: 'peak', entry: 'copy', constants: { WG: wg }, params: new Params().f32(0, 0, 0).u32(vec4s), buffers: [y, x], workgroups: Math.ceil(vec4s / wg) });
  await timeOnce(engine, copy);
  const copies: number[] = [];
  for (let r = 0; r < repeats; r++) copies.push((2 * vec4s * 16) / (await timeOnce(engine, copy)) / 1e9);
  engine.pool.release(x);
  engine.pool.release(y);
  return { fma: { ...stats(runs.get(best)!), kernels: medians }, copy: stats(copies) };
}

/** GFLOP/s of the fastest FMA kernel (the median of a few runs): the arithmetic ceiling. */
export async function fmaCeiling(engine: Engine): Promise<number> {
  return (await measureCeilings(engine, 3)).fma.median;
}

/** A command-line option `--name value`, or the fallback (for the scripts in bench/). */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
