// `losscape render` end to end, and its refusals: each bad input named before any drawing.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { planFigure } from '../src/render/index.js';
import { axis, gridSurface, paraboloid, readPng } from './render-helpers.js';

const bin = path.resolve('bin/losscape.mjs');

function losscape(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env, timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

describe('losscape render', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'losscape-render-'));
  const file = (name: string, content: unknown) => {
    writeFileSync(path.join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
    return path.join(dir, name);
  };
  const a = file('a.json', paraboloid(21));
  const nan = file('nan.json', gridSurface(axis(21), axis(21), () => null));
  const other = file('c.json', gridSurface(axis(11, 0, 2), axis(11), () => 1));
  const bad = file('bad.json', { format: 'losscape-partial/1', x: [0, 1] });
  const out = (name: string) => path.join(dir, name);

  it('draws the files side by side on a shared scale, warns about an empty surface, and refuses bad input by name', async () => {
    const noX: NodeJS.ProcessEnv = { ...process.env, PATH: '' };
    delete noX.DISPLAY;
    const [ok, grids, notSurface, zmax, view, noDisplay] = await Promise.all([
      losscape(['render', a, nan, '-o', out('fig.png'), '--view', 'contour']),
      losscape(['render', a, other, '-o', out('grids.png')]),
      losscape(['render', bad, '-o', out('bad.png')]),
      losscape(['render', a, '-o', out('zmax.png'), '--zmax', '0.25']),
      losscape(['render', a, '-o', out('view.png'), '--view', 'top']),
      losscape(['render', a, '-o', out('nox.png')], noX),
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ out: out('fig.png'), panels: 2, view: 'contour', scale: 'shared', warnings: ['nan.json: all 441 points are non-finite: drawn empty'] });
    expect(ok.stderr).toContain('losscape render: warning: nan.json: all 441 points are non-finite: drawn empty');
    const png = readPng(readFileSync(out('fig.png')));
    const fig = planFigure([{ name: 'a.json', surface: paraboloid(21) }, { name: 'nan.json', surface: gridSurface(axis(21), axis(21), () => null) }], { view: 'contour' });
    expect([png.width, png.height]).toEqual([fig.width, fig.height]);

    expect(grids.code).toBe(1);
    expect(grids.stderr).toContain('losscape: a shared scale needs surfaces on one grid: a.json is 21×21 on x [-1, 1], y [-1, 1], c.json is 11×11 on x [0, 2], y [-1, 1] (use --scale own');
    expect(notSurface.stderr).toContain(`losscape: ${bad}: not a losscape surface: format is "losscape-partial/1", expected "losscape-surface/1"`);
    expect(zmax.stderr).toContain('losscape: --zmax 0.25 is not above the lowest loss, 0.5 in a.json');
    expect(view.stderr).toContain('losscape: --view: expected one of 3d, contour, got "top"');
    expect(noDisplay.code).toBe(1);
    expect(noDisplay.stderr).toContain('losscape: DISPLAY is unset and Xvfb is not installed: install Xvfb (apt-get install xvfb) or run under `xvfb-run -a`');
    for (const f of ['grids.png', 'bad.png', 'zmax.png', 'view.png', 'nox.png']) expect(existsSync(out(f)), f).toBe(false);
  }, 60_000);
});
