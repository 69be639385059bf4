// Bad input on the command line, as a new user gives it: every row of the table in
// docs/RELIABILITY.md ("Bad input") is run here, in a folder of fixtures built below, and must end
// with exit code 1 and exactly the one line of the table on stderr. The table is the test's list.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../src/cli/main.js';
import * as L from '../src/index.js';
import * as N from '../src/node/index.js';

const table = readFileSync(path.join(import.meta.dirname, '../docs/RELIABILITY.md'), 'utf8');
const section = table.slice(table.indexOf('## Bad input'), table.indexOf('\n## ', table.indexOf('## Bad input') + 1));
const rows = [...section.matchAll(/^\| `losscape ([^`]*)` \| `([^`]*)` \|$/gm)].map((m) => ({ args: m[1]!.split(' '), line: m[2]!.replaceAll('\\|', '|') }));

/** The fixtures the table's rows name, in a fresh folder. */
async function fixtures(dir: string): Promise<void> {
  const mlp = L.createModel({ kind: 'mlp', sizes: [784, 16, 10] }, 1);
  await N.saveCheckpoint(path.join(dir, 'ckpt.safetensors'), mlp);
  const cnn = L.createModel({ kind: 'cnn', imageSize: 28, channels: 1, widths: [2, 2], hidden: 4, classes: 10 }, 1);
  await N.saveCheckpoint(path.join(dir, 'cnn.safetensors'), cnn);
  const bytes = readFileSync(path.join(dir, 'ckpt.safetensors'));
  const side = readFileSync(path.join(dir, 'ckpt.safetensors.json'));
  const withSidecar = (name: string, data: Uint8Array, sidecar: Uint8Array = side) => {
    writeFileSync(path.join(dir, name), data);
    writeFileSync(path.join(dir, `${name}.json`), sidecar);
  };
  withSidecar('empty.safetensors', new Uint8Array());
  withSidecar('truncated.safetensors', bytes.subarray(0, 1000));
  withSidecar('other.safetensors', bytes, readFileSync(path.join(dir, 'cnn.safetensors.json')));
  writeFileSync(path.join(dir, 'nosidecar.safetensors'), bytes);
  copyFileSync(path.join(dir, 'ckpt.safetensors'), path.join(dir, 'd1.safetensors'));
  mkdirSync(path.join(dir, 'folder'));
  writeFileSync(path.join(dir, 'notes.txt'), 'not a folder\n');
  // a training run to resume: one epoch of the MLP on spirals, by the command itself
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const err = vi.spyOn(console, 'error').mockImplementation(() => {});
  const code = await runCli(['node', 'losscape', 'train', '--model', 'mlp', '--dataset', 'spirals', '--epochs', '1', '--out', path.join(dir, 'run')]);
  log.mockRestore();
  err.mockRestore();
  expect(code).toBe(0);
  // partial files: two jobs' shards, a shard file holding another shard, a file that is not JSON
  const partial = (fingerprint: string, index: number, count: number) =>
    JSON.stringify({ format: 'losscape-partial/1', fingerprint, x: [0, 1], y: [0, 1], provenance: {}, shard: { index, count }, results: Object.fromEntries([0, 1, 2, 3].filter((i) => i % count === index).map((i) => [String(i), [1, 0.5]])) });
  writeFileSync(path.join(dir, 'jobA.shard-0-of-2.json'), partial('A', 0, 2));
  writeFileSync(path.join(dir, 'jobB.shard-1-of-2.json'), partial('B', 1, 2));
  writeFileSync(path.join(dir, 'wrongshard.shard-0-of-2.json'), partial('A', 1, 2));
  writeFileSync(path.join(dir, 'otherjob.partial.json'), partial('not this job', 0, 1));
  writeFileSync(path.join(dir, 'corrupt.partial.json'), '{"format": "losscape-partial/1", "fingerp');
  for (const m of [mlp, cnn]) m.dispose();
}

describe('bad input on the command line (the table in docs/RELIABILITY.md)', () => {
  const cwd = process.cwd();
  beforeAll(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'losscape-cli-'));
    await fixtures(dir);
    process.chdir(dir);
  });
  afterAll(() => process.chdir(cwd));

  it('lists rows', () => expect(rows.length).toBeGreaterThan(50));

  for (const { args, line } of rows) {
    it(`losscape ${args.join(' ')}`, async () => {
      const errors: string[] = [];
      const spy = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void errors.push(a.join(' ')));
      const log = vi.spyOn(console, 'log').mockImplementation(() => {});
      let code: number;
      try {
        code = await runCli(['node', 'losscape', ...args]);
      } finally {
        spy.mockRestore();
        log.mockRestore();
      }
      expect(errors.at(-1)).toBe(line);
      expect(code).toBe(1);
      // one line, no stack
      expect(errors.at(-1)).not.toMatch(/\n\s+at /);
    });
  }
});
