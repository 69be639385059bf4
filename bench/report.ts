// Markdown from a `losscape bench --json` report: the run's machine, adapter, commit and ceilings,
// then one table per group of cases. With --write FILE it replaces the section between
// <!-- bench:begin --> and <!-- bench:end --> in FILE (bench/RESULTS.md), so every figure there
// comes from a JSON file one command wrote.
// Usage: npx tsx bench/report.ts REPORT.json [--write bench/RESULTS.md]
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchReport } from './bench.js';
import type { Stats } from './harness.js';
import type { CaseResult } from './suite.js';

const BEGIN = '<!-- bench:begin -->';
const END = '<!-- bench:end -->';

const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toPrecision(2));
const range = (s: Stats, scale = 1) => `${fmt(s.median * scale)} (${fmt(s.min * scale)}–${fmt(s.max * scale)})`;

function rate(r: CaseResult): string {
  if (r.gflops) return `${range(r.gflops)} GFLOP/s`;
  if (r.itemsPerSecond) return `${range(r.itemsPerSecond)} ${r.itemsPerSecond.unit}`;
  if (r.gbPerSecond) return `${range(r.gbPerSecond)} GB/s`;
  return '';
}

/** The command line of the run, as typed: `bench` once (the CLI's argv has it, bench/run.ts's not), arguments with spaces quoted. */
const command = (argv: string[]) => ['bench', ...argv.filter((a, i) => i > 0 || a !== 'bench')].map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(' ');

/** The report as Markdown. */
export function reportMarkdown(b: BenchReport): string {
  const m = b.machine;
  const f = b.ceilings.fma;
  const lines = [
    `Run of ${b.date.slice(0, 10)}, commit ${b.commit ?? 'unknown'} (\`losscape ${command(b.argv)}\`). Machine: ${m.cpu} (${m.vectorFeatures.join(', ')}), ${m.cores} cores; load average ${m.loadStart.join(' / ')} at the start and ${(m.loadEnd ?? []).join(' / ')} at the end (1, 5, 15 minutes). Adapter: ${b.adapter.description || b.adapter.device} (${b.adapter.vendor}, ${b.adapter.architecture}).`,
    '',
    `Ceilings measured in the same run: FMA ${range(f)} GFLOP/s (the fastest of ${Object.entries(f.kernels).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')}), copy ${range(b.ceilings.copy)} GB/s. Kernel versions: ${Object.keys(b.kernels.tuned).length ? `tuned on this adapter (${Object.entries(b.kernels.tuned).map(([fam, t]) => `${fam}: ${Object.entries(t).map(([c, v]) => `${c} ${v}`).join(', ')}`).join('; ')})` : 'the defaults (tuning off)'}. ${b.repeats} alternating repeats per variant after a warm-up (3 or more where a case's rounds took over ${b.maxCase ?? 90} s: "samples"), median (min–max); a sample is the call and a full readback of its result; "losscape ×" is how many times faster losscape's variant (the first) ran.`,
  ];
  for (const group of [...new Set(b.results.map((r) => r.group))]) {
    lines.push('', `**${group}**`, '', '| case | variant | ms per call | rate | of FMA ceiling | losscape × | samples | load | checked |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const r of b.results.filter((x) => x.group === group)) {
      if (r.error || r.unavailable || !r.seconds) {
        lines.push(`| ${r.case} | ${r.variant} | — | — | — | — | — | ${r.load} | ${r.unavailable ? `not run: ${r.unavailable}` : `FAILED: ${r.error}`} |`);
        continue;
      }
      const share = r.ofCeiling === undefined ? '' : `${(100 * r.ofCeiling).toFixed(0)}%`;
      const vs = r.firstSpeedup === undefined || r.variant === b.results.find((x) => x.group === group && x.case === r.case)?.variant ? '' : `${r.firstSpeedup.toFixed(2)}x`;
      lines.push(`| ${r.case} | ${r.variant} | ${range(r.seconds, 1e3)} | ${rate(r)} | ${share} | ${vs} | ${r.samples}${r.calls! > 1 ? ` x ${r.calls}` : ''} | ${r.load} | ${r.checked ?? ''} |`);
    }
  }
  return lines.join('\n');
}

/** Replaces the generated section of a Markdown file. */
export function writeSection(file: string, markdown: string): void {
  const text = readFileSync(file, 'utf8');
  const [a, b] = [text.indexOf(BEGIN), text.indexOf(END)];
  if (a < 0 || b < a) throw new Error(`${file}: no ${BEGIN} ... ${END} section to replace`);
  writeFileSync(file, `${text.slice(0, a + BEGIN.length)}\n${markdown}\n${text.slice(b)}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [json] = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && all[i - 1] !== '--write');
  if (!json) throw new Error('usage: npx tsx bench/report.ts REPORT.json [--write bench/RESULTS.md]');
  const markdown = reportMarkdown(JSON.parse(readFileSync(json, 'utf8')) as BenchReport);
  const i = process.argv.indexOf('--write');
  if (i >= 0) writeSection(process.argv[i + 1]!, markdown);
  else console.log(markdown);
}
