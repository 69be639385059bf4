// The bench command's smoke run (never a timing threshold): a filter and tiny sizes, the JSON it
// writes parses and holds the machine, the adapter, the ceilings and, per variant, what its
// result was checked against; the report's Markdown is made from it. The versions forced by name
// are checked before they are timed, and a bad name is refused before anything runs.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { runBench, type BenchReport } from '../bench/bench.js';
import { reportMarkdown } from '../bench/report.js';
import { runCli } from '../src/cli/main.js';

describe('losscape bench', () => {
  it('runs a filtered quick suite, checks every variant, writes JSON and its Markdown', async () => {
    const json = path.join(mkdtempSync(path.join(tmpdir(), 'losscape-bench-')), 'bench.json');
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});
    const report = await runBench({ filter: ['matmul/64x64x64', 'conv2d/MNIST CNN conv1 1→8 28x28, batch 64 forward', 'optimizer'], quick: true, repeats: 1, kernels: { matmul: ['v2', 'v8'] }, peers: false, json });
    log.mockRestore();
    const read = JSON.parse(readFileSync(json, 'utf8')) as BenchReport;
    expect(read.results).toEqual(report.results);
    expect(read.machine.cores).toBeGreaterThan(0);
    expect(read.machine.loadStart).toHaveLength(3);
    expect(read.adapter.description).toBe(report.adapter.description);
    expect(read.ceilings.fma.median).toBeGreaterThan(0);
    expect(read.ceilings.copy.median).toBeGreaterThan(0);
    expect(read.results.map((r) => `${r.group} ${r.variant}`)).toEqual([
      'matmul losscape (v6)', 'matmul matmul=v2', 'matmul matmul=v8', 'conv2d losscape', 'optimizer losscape',
    ]);
    for (const r of read.results) {
      expect(r.error).toBeUndefined();
      expect(r.checked).toMatch(/float64|torch/);
      expect(r.seconds!.min).toBeGreaterThan(0);
      expect(r.seconds!.median).toBeGreaterThanOrEqual(r.seconds!.min);
    }
    const md = reportMarkdown(read);
    expect(md).toContain('| 64x64x64 | matmul=v8 |');
    expect(md).toContain(read.machine.cpu);
  });

  it('refuses a kernel version it does not have, naming the family\'s versions', async () => {
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(await runCli(['node', 'losscape', 'bench', '--kernel', 'matmul=v10'])).toBe(1);
    expect(err.mock.calls.flat().join('\n')).toContain('--kernel: matmul has versions v1, v2, v3, v4, v5, v6, v7, v8, v9, not "v10"');
    err.mockRestore();
  });
});
