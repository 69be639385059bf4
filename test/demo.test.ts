// `losscape demo --smoke` end to end as a user runs it: every output file exists and parses.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { parseSurface } from '../src/render/surface-check.js';

describe('losscape demo', () => {
  it('--smoke writes the surfaces, figures, curves, table and report, and prints the table', () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'losscape-demo-')), 'demo');
    const stdout = execFileSync(process.execPath, ['bin/losscape.mjs', 'demo', '--smoke', '--out', out], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 });
    expect(stdout).toMatch(/optimizer\s+test accuracy\s+test loss\s+loss at centre\s+loss at edge/);
    expect(stdout).toMatch(/^AdamW\s+\d/m);
    expect(stdout).toMatch(/^SAM\s+\d/m);
    const file = (f: string) => path.join(out, f);
    for (const f of ['landscape-3d.png', 'landscape-contour.png', 'training.png']) {
      const png = PNG.sync.read(readFileSync(file(f)));
      expect(png.width * png.height, f).toBeGreaterThan(100_000);
    }
    const surfaces = ['AdamW', 'SAM'].map((l) => parseSurface(readFileSync(file(`surfaces/${l}.json`), 'utf8'), l));
    for (const s of surfaces) {
      expect(s.x.length).toBe(5);
      expect(s.loss.flat().every((v) => v === null || Number.isFinite(v))).toBe(true);
    }
    // the same directions' seed and normalization for both, each normalized to its own model
    expect(surfaces.map((s) => (s.provenance.plan as { seed: number }).seed)).toEqual([0, 0]);
    const table = JSON.parse(readFileSync(file('table.json'), 'utf8'));
    expect(table.rows.map((r: { optimizer: string }) => r.optimizer)).toEqual(['AdamW', 'SAM']);
    for (const r of table.rows) for (const k of ['testAccuracy', 'centre', 'edge', 'width']) expect(Number.isFinite(r[k]), k).toBe(true);
    expect(table.columns.every((c: { definition: string }) => c.definition.length > 10)).toBe(true);
    expect(readFileSync(file('table.md'), 'utf8')).toMatch(/^\| optimizer \| test accuracy/);
    const report = readFileSync(file('report.html'), 'utf8');
    for (const ref of [...report.matchAll(/(?:src|href)="([^"#:]+)"/g)].map((m) => m[1]!)) expect(existsSync(file(ref)), `report links ${ref}`).toBe(true);
    expect(report).toContain('<table>');
    const viewer = readFileSync(file('viewer.html'), 'utf8');
    expect(viewer).toContain('<script');
    expect(viewer).toContain('"AdamW"');
    expect(existsSync(file('runs/SAM/checkpoint.safetensors'))).toBe(true);
  });
});
