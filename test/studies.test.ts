// Every study end to end at tiny sizes: its tables, figures and summary, and what each promises:
// ρ = 0 reproduces the base optimizer; evolution uses one set of directions and one scale.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runStudy, STUDIES, STUDY_DEFAULTS, STUDY_SMOKE, type StudyConfig, type StudyName } from '../src/node/studies.js';
import { seedNote } from './helpers.js';

const config = (name: string, over: Partial<StudyConfig> = {}): StudyConfig => ({
  ...STUDY_DEFAULTS, ...STUDY_SMOKE, out: path.join(mkdtempSync(path.join(tmpdir(), `losscape-study-${name}-`)), name), hessian: false, ...over,
});

describe('studies', () => {
  for (const name of STUDIES) {
    it(`${name}: runs end to end and writes its surfaces, figures, table and summary`, async () => {
      const c = config(name, name === 'lr' ? { hessian: true } : {});
      const r = await runStudy(name as StudyName, c);
      for (const f of r.files) expect(existsSync(f), f).toBe(true);
      for (const f of ['figure-3d.png', 'figure-contour.png', 'table.json', 'table.md', 'summary.md']) expect(existsSync(path.join(c.out, f)), f).toBe(true);
      const table = JSON.parse(readFileSync(path.join(c.out, 'table.json'), 'utf8'));
      expect(table.rows.length).toBe(r.rows.length);
      expect(r.rows.length).toBe(name === 'lr' ? c.lrs.length : name === 'rho' ? c.rhos.length + 1 : name === 'evolution' ? 4 : name === 'traversal' ? c.norms.length : c.ranges.length);
      for (const row of r.rows) expect(Number.isFinite(row.centre), `${name}: centre loss; ${seedNote}`).toBe(true);
      if (name === 'lr') for (const row of r.rows) expect(Number.isFinite(row.samSharpness) && (row.lambdaMax === null || Number.isFinite(row.lambdaMax)), `${name}: sharpness numbers`).toBe(true);
      expect(readFileSync(path.join(c.out, 'summary.md'), 'utf8')).toMatch(/^## .+\n\n!\[.+\]\(figure-3d\.png\)/);
      if (name === 'rho') {
        // SAM at ρ = 0 takes exactly the base optimizer's steps: bit-identical weights
        expect(r.rows.find((row) => row.rho === 0)!.sameAsBase).toBe('yes');
      }
      if (name === 'evolution') {
        // one set of directions in every panel (its files' hashes in each surface's provenance)
        const hashes = r.panels.map((p) => JSON.stringify((p.surface.provenance.plan as { directions: Array<{ sha256: string }> }).directions.map((d) => d.sha256)));
        expect(new Set(hashes).size).toBe(1);
        expect(r.rows.map((row) => row.step)).toEqual([0, r.runs[0]!.final.step, 0, r.runs[1]!.final.step]);
        // both runs start from the one initialization: the same surface at step 0
        expect(r.panels[2]!.surface.loss).toEqual(r.panels[0]!.surface.loss);
        expect(existsSync(path.join(c.out, 'edge-loss.png'))).toBe(true);
      }
    });
  }

  it('a resumed study takes its finished runs, surfaces and sharpness numbers as they are; numbers whose settings changed are computed again', async () => {
    const c = config('resume', { lrs: [1e-3, 1e-2] });
    const first = await runStudy('lr', c);
    // mark the numbers kept beside the first checkpoint: a resumed study must report the mark
    const kept = `${first.runs[0]!.checkpoint}.numbers.json`;
    const cache = JSON.parse(readFileSync(kept, 'utf8'));
    expect(cache.row.samSharpness).toBe(first.rows[0]!.samSharpness);
    writeFileSync(kept, JSON.stringify({ ...cache, row: { ...cache.row, samSharpness: -1 } }));
    const again = await runStudy('lr', { ...c, resume: true });
    expect(again.rows.map((r) => r.centre)).toEqual(first.rows.map((r) => r.centre));
    expect(again.rows.map((r) => r.samSharpness)).toEqual([-1, first.rows[1]!.samSharpness]);
    const otherRho = await runStudy('lr', { ...c, resume: true, sharpnessRho: 0.1 });
    for (const row of otherRho.rows) expect(row.samSharpness, `recomputed at ρ = 0.1; ${seedNote}`).not.toBe(-1);
    expect(otherRho.rows[0]!.samSharpness).not.toBe(first.rows[0]!.samSharpness);
  });

  it('refuses bad settings before any work, naming them', async () => {
    await expect(runStudy('rho', config('bad', { rhos: [0.05, -0.1] }))).rejects.toThrow('--rhos: expected a list of numbers of at least 0');
    await expect(runStudy('lr', config('bad', { lrs: [] }))).rejects.toThrow('--lrs: expected a list of numbers above 0');
    await expect(runStudy('evolution', config('bad', { every: 3 }))).rejects.toThrow('--every: expected an integer from 1 to --epochs (1), got 3');
    await expect(runStudy('nope' as StudyName, config('bad'))).rejects.toThrow('study: unknown study "nope"');
  });
});
