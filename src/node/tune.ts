// The autotuner's table on disk, one file per adapter and driver (and CPU, for a software adapter,
// whose speed is the CPU's), under $XDG_CACHE_HOME/losscape or ~/.cache/losscape: the first
// command on a machine times the kernel versions (src/tensor/tune.ts, some seconds to a minute on a
// CPU adapter), later ones read the file. The core only takes the table as data.
//   LOSSCAPE_TUNE=0      no tuning: every op runs its fixed default (the tests run so)
//   LOSSCAPE_TUNE=again  time the versions again and overwrite the file
//   LOSSCAPE_KERNELS=matmul=v8,conv2d=v2   force versions by name (over the table)
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus, homedir } from 'node:os';
import path from 'node:path';
import type { Engine } from '../gpu/engine.js';
import { init } from '../tensor/runtime.js';
import { KERNEL_FAMILIES, tuneKernels, type TuneResult } from '../tensor/tune.js';
import { writeAtomic } from './files.js';

/**
 * "family=version,..." checked against the families and their versions: family -> versions (a
 * family may be named more than once, to compare versions). Errors say what is wrong, after
 * `source` and the item when given (an environment variable; commander adds the option's value).
 */
export function parseKernelChoice(spec: string, source?: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const item of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const fail = (why: string): never => {
      throw new Error(source ? `${source}: ${why} (in "${item}")` : why);
    };
    const [family, version, extra] = item.split('=');
    const f = KERNEL_FAMILIES[family ?? ''];
    if (!f || !version || extra !== undefined) fail(`expected family=version, e.g. matmul=v8 (families: ${Object.keys(KERNEL_FAMILIES).join(', ')})`);
    if (!f!.versions.includes(version!)) fail(`${family} has versions ${f!.versions.join(', ')}, not "${version}"`);
    (out[family!] ??= []).push(version!);
  }
  return out;
}

/** What the table depends on: the adapter and driver, the CPU behind a software adapter, the families. */
export function tuneKey(engine: Engine): Record<string, unknown> {
  const a = engine.adapter;
  return {
    adapter: [a.vendor, a.architecture, a.device, a.description], subgroups: engine.subgroupLanes,
    cpu: a.software ? `${cpus()[0]?.model ?? 'unknown'} x${cpus().length}` : null,
    families: Object.fromEntries(Object.entries(KERNEL_FAMILIES).map(([n, f]) => [n, { versions: f.versions, classes: Object.keys(f.classes) }])),
  };
}

export function tuneCacheFile(key: Record<string, unknown>): string {
  const dir = path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'losscape');
  return path.join(dir, `kernels-${createHash('sha256').update(JSON.stringify(key)).digest('hex').slice(0, 16)}.json`);
}

interface CacheFile extends TuneResult {
  format: 'losscape-tune/1';
  key: Record<string, unknown>;
  date: string;
}

const tuned = new WeakSet<Engine>();

/**
 * The engine (init()), with versions forced from LOSSCAPE_KERNELS and the tuned table of this
 * adapter: read from the cache, or measured once and written there (LOSSCAPE_TUNE says whether).
 */
export async function initTuned(log: (line: string) => void = (line) => console.error(line)): Promise<Engine> {
  const mode = process.env.LOSSCAPE_TUNE ?? '1';
  if (!['0', '1', 'again'].includes(mode)) throw new Error(`LOSSCAPE_TUNE: expected 0 (off), 1 (on, cached) or again (measure again), got "${mode}"`);
  const forced = parseKernelChoice(process.env.LOSSCAPE_KERNELS ?? '', 'LOSSCAPE_KERNELS');
  const engine = await init();
  for (const [family, versions] of Object.entries(forced)) {
    if (versions.length > 1) throw new Error(`LOSSCAPE_KERNELS: one version per family, got ${family}=${versions.join(` and ${family}=`)}`);
    engine.kernels.force(family, versions[0]!);
  }
  if (mode === '0' || tuned.has(engine)) return engine;
  tuned.add(engine);
  const key = tuneKey(engine);
  const file = tuneCacheFile(key);
  if (mode === '1' && existsSync(file)) {
    try {
      const cached = JSON.parse(readFileSync(file, 'utf8')) as CacheFile;
      if (cached.format === 'losscape-tune/1' && JSON.stringify(cached.key) === JSON.stringify(key)) {
        engine.kernels.tuned = cached.table;
        return engine;
      }
    } catch {
      // a damaged file is measured again and replaced
    }
  }
  log(`losscape: timing the kernel versions on this adapter, once (cached in ${file}; LOSSCAPE_TUNE=0 runs the defaults)`);
  const result = await tuneKernels(engine, { log: (line) => log(`losscape: ${line}`) });
  mkdirSync(path.dirname(file), { recursive: true });
  writeAtomic(file, `${JSON.stringify({ format: 'losscape-tune/1', key, date: new Date().toISOString(), ...result } satisfies CacheFile, null, 1)}\n`);
  engine.kernels.tuned = result.table;
  return engine;
}
