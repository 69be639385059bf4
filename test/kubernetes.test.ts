// The Kubernetes indexed Job of docs/LANDSCAPE.md, checked as written: the manifest is parsed, its
// container command is run once per completion index with JOB_COMPLETION_INDEX set (paths /data and
// /results mapped into a temporary folder, `npx losscape` to this checkout's bin/losscape.mjs, the
// grid made small), then the merge command the page gives, and the merged surface must equal an
// unsharded run's point for point.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import * as L from '../src/index.js';
import * as N from '../src/node/index.js';

const docs = readFileSync(path.join(import.meta.dirname, '../docs/LANDSCAPE.md'), 'utf8');
const section = docs.slice(docs.indexOf('### Kubernetes indexed jobs'), docs.indexOf('### Slurm job arrays'));

function sh(command: string, env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

describe('the Kubernetes indexed Job in docs/LANDSCAPE.md', () => {
  it('runs for every completion index, and the shards merge into the unsharded surface', async () => {
    const manifest = parse(/```yaml\n([\s\S]*?)```/.exec(section)![1]!);
    expect(manifest.kind).toBe('Job');
    expect(manifest.spec.completionMode).toBe('Indexed');
    const completions: number = manifest.spec.completions;
    const container = manifest.spec.template.spec.containers[0];
    expect(container.command.slice(0, 2)).toEqual(['sh', '-c']);
    const merge = /once all complete: `([^`]+)`/.exec(section)![1]!;

    const root = mkdtempSync(path.join(tmpdir(), 'losscape-k8s-'));
    mkdirSync(path.join(root, 'data'));
    const config: L.ModelConfig = { kind: 'mlp', sizes: [784, 16, 10] };
    const model = L.createModel(config, 3);
    await N.saveCheckpoint(path.join(root, 'data/ckpt.safetensors'), model);
    model.dispose();
    const local = (cmd: string) =>
      cmd.replaceAll('/data/', `${root}/data/`).replaceAll('/results/', `${root}/results/`)
        .replace('npx losscape', `${process.execPath} ${path.join(import.meta.dirname, '../bin/losscape.mjs')}`)
        .replace('--steps 101', '--steps 7 --samples 100');

    // the pods, two at a time (two cores)
    const indices = Array.from({ length: completions }, (_, i) => i);
    for (let i = 0; i < indices.length; i += 2) {
      const runs = await Promise.all(indices.slice(i, i + 2).map((index) => sh(local(container.command[2]), { JOB_COMPLETION_INDEX: String(index) })));
      runs.forEach((r, k) => expect(r.code, `pod ${i + k}: ${r.stderr}`).toBe(0));
    }
    const merged = await sh(local(merge));
    expect(merged.code, merged.stderr).toBe(0);

    const whole = await N.landscapeFromFiles({
      checkpoints: [`${root}/data/ckpt.safetensors`], plan: 'plane', steps: 7, directions: { kind: 'random', seed: 0, normalization: 'filter', oneD: 'ignore' },
      dataset: 'mnist', samples: 100, batchSize: 500, out: `${root}/whole/plane`,
    });
    const surface = JSON.parse(readFileSync(`${root}/results/plane.json`, 'utf8'));
    expect(surface.provenance.shards).toBe(completions);
    expect(surface.x).toEqual(whole.surface!.x);
    expect(surface.loss).toEqual(whole.surface!.loss);
    expect(surface.accuracy).toEqual(whole.surface!.accuracy);
  }, 300_000);
});
