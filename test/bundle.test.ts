import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundle } from '../scripts/bundle.mjs';

describe('bundles', () => {
  it('inline every kernel and run with no kernels/ folder beside them', async () => {
    const dir = path.resolve('node_modules/.cache/losscape-bundle-test');
    mkdirSync(dir, { recursive: true });
    const out = path.join(dir, 'entry.mjs');
    await bundle('test/fixtures/bundle-entry.ts', out);
    const text = readFileSync(out, 'utf8');
    expect(text).toContain('fn v2('); // the matmul kernel's text is in the bundle
    // from node_modules/.cache/…/ neither ../../kernels nor ./kernels exists: only the inlined table can serve
    const stdout = execFileSync(process.execPath, [out], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    // [[1,2],[3,4]]² = [[7,10],[15,22]]
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual({ sum: 54 });
  });
});
