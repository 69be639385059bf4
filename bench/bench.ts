// `losscape bench`: every case of the suite (or those matching a filter) on this machine and
// adapter, in one run: the machine (CPU model and vector features, cores, load average at start and
// end), the adapter, the commit, the adapter's FMA ceiling and copy bandwidth, and per case and
// variant the median and min-max time over alternating repeats, printed as a table and written as
// JSON (bench/report.ts turns that into bench/RESULTS.md's tables).
import { loadavg } from 'node:os';
import { writeFileSync } from 'node:fs';
import { getEngine, init } from '../src/index.js';
import { commit, describe, machine, measureCeilings, type Ceilings, type Machine } from './harness.js';
import { modelCases } from './cases-models.js';
import { opCases } from './cases-ops.js';
import { peerVariants } from './peers.js';
import { runCase, withForced, type BenchCase, type CaseResult } from './suite.js';

export interface BenchOptions {
  /** run the cases whose "group/name" contains one of these (case-insensitive); all if empty */
  filter?: string[];
  /** smaller shapes and fewer samples: a smoke run */
  quick?: boolean;
  /** the square matmul sizes (default 256, 512, 1024, 2048; quick 64, 128) */
  squares?: number[];
  /** timed samples per variant (default 7; 3 with quick), fewer (3 or more) where a case's rounds pass maxCase */
  repeats?: number;
  /** seconds after which a case's rounds stop, once it has 3 (default 90) */
  maxCase?: number;
  /** family -> versions: each adds a variant with that version forced (the public API's pick runs too) */
  kernels?: Record<string, string[]>;
  /** time the peers (tfjs-webgpu, PyTorch) where they run (default true) */
  peers?: boolean;
  /** write the report here */
  json?: string;
  log?: (line: string) => void;
}

export interface BenchReport {
  format: 'losscape-bench/1';
  date: string;
  commit: string | null;
  argv: string[];
  machine: Machine;
  adapter: ReturnType<typeof getEngine>['adapter'];
  ceilings: Ceilings;
  kernels: { forced: Record<string, string[]>; tuned: Record<string, Record<string, string>> };
  repeats: number;
  maxCase: number;
  results: CaseResult[];
}

const load1 = () => Math.round(loadavg()[0]! * 100) / 100;

/** The cases of the suite, each with its peers and forced versions as variants. */
export function benchCases(o: BenchOptions): BenchCase[] {
  const quick = o.quick ?? false;
  const all = [...opCases({ quick, squares: o.squares }), ...modelCases({ quick })];
  const wanted = (c: BenchCase) => !o.filter?.length || o.filter.some((f) => `${c.group}/${c.name}`.toLowerCase().includes(f.toLowerCase()));
  const cases = all.filter(wanted);
  for (const c of cases) {
    const base = c.variants[0]!;
    for (const [family, versions] of Object.entries(o.kernels ?? {})) {
      if (c.uses.includes(family)) c.variants.push(...versions.map((v) => withForced(base, family, v)));
    }
    if (o.peers ?? true) c.variants.push(...peerVariants(c));
  }
  return cases;
}

/** Runs the suite; returns (and with `json` writes) the report. Throws after the run if a check failed. */
export async function runBench(o: BenchOptions = {}): Promise<BenchReport> {
  const log = o.log ?? ((line: string) => console.error(line));
  const m = machine();
  const engine = await init();
  const repeats = o.repeats ?? (o.quick ? 3 : 7);
  log(`losscape bench: ${m.cpu} (${m.vectorFeatures.join(' ')}), ${m.cores} cores, load ${m.loadStart.join(' ')}; adapter ${describe(engine)}; commit ${commit() ?? 'unknown'}`);
  const cases = benchCases(o);
  const ceilings = await measureCeilings(engine, o.quick ? 3 : 5);
  log(`ceilings: FMA ${ceilings.fma.median.toFixed(2)} GFLOP/s (${Object.entries(ceilings.fma.kernels).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}), copy ${ceilings.copy.median.toFixed(2)} GB/s`);
  const results: CaseResult[] = [];
  for (const c of cases) {
    const rows = await runCase(c, { repeats, minSample: o.quick ? 0.02 : 0.2, maxCase: o.maxCase ?? 90, ceiling: ceilings.fma.median, log, load: load1 });
    rows.forEach((r) => log(formatRow(r)));
    results.push(...rows);
  }
  const report: BenchReport = {
    format: 'losscape-bench/1', date: new Date().toISOString(), commit: commit(), argv: process.argv.slice(2),
    machine: { ...m, loadEnd: loadavg().map((v) => Math.round(v * 100) / 100) }, adapter: engine.adapter, ceilings,
    kernels: { forced: o.kernels ?? {}, tuned: engine.kernels.tuned }, repeats, maxCase: o.maxCase ?? 90, results,
  };
  if (o.json) writeFileSync(o.json, `${JSON.stringify(report, null, 1)}\n`);
  const failed = results.filter((r) => r.error);
  if (failed.length > 0) throw new Error(`bench: ${failed.length} variant(s) failed their check: ${failed.map((r) => `${r.group} ${r.case} ${r.variant}`).join('; ')}`);
  return report;
}

const num = (x: number, digits = 3) => (x >= 100 ? x.toFixed(0) : x.toPrecision(digits));

/** One line of the table: case, variant, ms per call (min-max), the rate and its share of the ceiling. */
export function formatRow(r: CaseResult): string {
  const head = `${r.group.padEnd(13)} ${r.case.padEnd(44)} ${r.variant.padEnd(20)}`;
  if (r.unavailable) return `${head} not run: ${r.unavailable}`;
  if (r.error || !r.seconds) return `${head} FAILED: ${r.error}`;
  const s = r.seconds;
  const rate = r.gflops ? `${num(r.gflops.median)} GFLOP/s${r.ofCeiling !== undefined ? ` (${(100 * r.ofCeiling).toFixed(0)}%)` : ''}`
    : r.itemsPerSecond ? `${num(r.itemsPerSecond.median)} ${r.itemsPerSecond.unit}` : r.gbPerSecond ? `${num(r.gbPerSecond.median)} GB/s` : '';
  const vs = r.firstSpeedup !== undefined && r.firstSpeedup !== 1 ? `  first ${r.firstSpeedup.toFixed(2)}x` : '';
  return `${head} ${num(s.median * 1e3).padStart(8)} ms (${num(s.min * 1e3)}-${num(s.max * 1e3)})  ${rate}${vs}`;
}
