// The landscape command's library function (landscapeFromFiles) end to end at tiny sizes: every
// plan's wiring checked against the model evaluated at the checkpoints themselves (interp's
// direction and default range, plane3's and trajectory's coordinates, given directions used as
// given), the fingerprint guarding resume and merge, shard names; then one process-level run of
// each command that has no other.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import * as N from '../src/node/index.js';
import { seedNote, SEED } from './helpers.js';

const run = promisify(execFile);
const dir = mkdtempSync(path.join(tmpdir(), 'losscape-plans-'));
const file = (f: string) => path.join(dir, f);
const CONFIG: L.ModelConfig = { kind: 'mlp', sizes: [784, 8, 10] };
const SAMPLES = 64;
const data = L.take(N.mnist('test'), SAMPLES);
const base = { dataset: 'mnist' as const, samples: SAMPLES, batchSize: 32, steps: 5 };

/** The mean loss of a checkpoint's model on the landscape's samples, as train()'s evaluation computes it. */
async function lossOf(checkpoint: string): Promise<number> {
  const model = L.createModel(CONFIG);
  N.loadWeights(model, checkpoint);
  const { loss } = await L.evaluate(model, data, 32);
  model.dispose();
  return loss;
}

const close = (got: number | null, want: number, what: string) => expect(Math.abs(got! - want) / want, `${what}: ${got} against ${want}; ${seedNote}`).toBeLessThanOrEqual(1e-5);

describe('landscape jobs on files, every plan', () => {
  const losses: number[] = [];
  beforeAll(async () => {
    // three checkpoints of one model, different weights
    for (let i = 0; i < 3; i++) {
      const m = L.createModel(CONFIG, (SEED % 1000) + i);
      await N.saveCheckpoint(file(`c${i}.safetensors`), m);
      m.dispose();
      losses.push(await lossOf(file(`c${i}.safetensors`)));
    }
  });

  it('line: the checkpoint at 0, random directions saved beside it; given directions are used as given', async () => {
    const r = await N.landscapeFromFiles({ ...base, checkpoints: [file('c0.safetensors')], plan: 'line', directions: { kind: 'random', seed: 3 }, out: file('line') });
    expect(r.surface!.x).toEqual([-1, -0.5, 0, 0.5, 1]);
    close(r.surface!.loss[0]![2]!, losses[0]!, 'line at 0');
    expect(r.surface!.provenance.plan).toMatchObject({ kind: 'line', seed: 3, normalization: 'filter', oneD: 'ignore' });
    expect(existsSync(file('line.d1.safetensors'))).toBe(true);
    // a direction file holding c1 − c0, by parameter name: used as given, the line reaches c1 at 1
    const [a, b] = [L.createModel(CONFIG), L.createModel(CONFIG)];
    N.loadWeights(a, file('c0.safetensors'));
    N.loadWeights(b, file('c1.safetensors'));
    await N.saveTensors(file('c1-c0.safetensors'), a.namedParameters().map(([n, t], i) => [n, L.sub(b.parameters()[i]!, t)]));
    const g = await N.landscapeFromFiles({ ...base, checkpoints: [file('c0.safetensors')], plan: 'line', directions: { kind: 'given', files: [file('c1-c0.safetensors')] }, range: [0, 1], steps: 2, out: file('given') });
    close(g.surface!.loss[0]![0]!, losses[0]!, 'given direction at 0');
    close(g.surface!.loss[0]![1]!, losses[1]!, 'given direction at 1 (c0 + (c1 − c0))');
    expect((g.surface!.provenance.plan as { directions: Array<{ file: string }> }).directions[0]!.file).toBe(file('c1-c0.safetensors'));
  });

  it('hessian: the plane of the two sharpest directions, whose curvature at the centre is the top eigenvalue', async () => {
    // a softmax regression: smooth, so finite differences see its Hessian (a ReLU net's loss has kinks
    // that the Hessian, exact between them, does not; measured: the curvature then wanders with h)
    const linear = L.createModel({ kind: 'mlp', sizes: [784, 10] }, SEED % 1000);
    await N.saveCheckpoint(file('linear.safetensors'), linear);
    linear.dispose();
    const h = 0.01;
    const r = await N.landscapeFromFiles({ ...base, checkpoints: [file('linear.safetensors')], plan: 'plane', directions: { kind: 'hessian', seed: 1 }, range: [-h, h], steps: 3, out: file('hessian') });
    const plan = r.surface!.provenance.plan as { directions: string; eigenvalues: number[]; residuals: number[] };
    expect(plan.directions).toBe('hessian');
    expect(plan.eigenvalues.length).toBe(2);
    expect(plan.eigenvalues[0]).toBeGreaterThanOrEqual(plan.eigenvalues[1]!);
    // unit directions: the second difference of the loss along each is its eigenvalue (to O(h²))
    const L0 = r.surface!.loss[1]![1]!;
    const along = [(r.surface!.loss[1]![0]! + r.surface!.loss[1]![2]! - 2 * L0) / h ** 2, (r.surface!.loss[0]![1]! + r.surface!.loss[2]![1]! - 2 * L0) / h ** 2];
    along.forEach((c, i) => expect(Math.abs(c - plan.eigenvalues[i]!) / plan.eigenvalues[i]!, `curvature along d${i + 1}: ${c} against λ${i + 1} = ${plan.eigenvalues[i]}; ${seedNote}`).toBeLessThan(0.01));
    expect(existsSync(file('hessian.d1.safetensors')) && existsSync(file('hessian.d2.safetensors'))).toBe(true);
  });

  it('interp: 0 is the first checkpoint, 1 the second, the default range -0.5 to 1.5', async () => {
    const r = await N.landscapeFromFiles({ ...base, checkpoints: [file('c0.safetensors'), file('c1.safetensors')], plan: 'interp', out: file('interp') });
    expect(r.surface!.x).toEqual([-0.5, 0, 0.5, 1, 1.5]);
    expect(r.surface!.y).toBeNull();
    close(r.surface!.loss[0]![1]!, losses[0]!, 'interp at 0');
    close(r.surface!.loss[0]![3]!, losses[1]!, 'interp at 1');
  });

  for (const plan of ['plane3', 'trajectory'] as const) {
    it(`${plan}: the checkpoints at their coordinates, inside the default ranges`, async () => {
      const checkpoints = [0, 1, 2].map((i) => file(`c${i}.safetensors`));
      const r = await N.landscapeFromFiles({ ...base, checkpoints, plan, out: file(plan) });
      const coords = (r.surface!.provenance.plan as { coords: Array<[number, number]> }).coords;
      expect(coords.length).toBe(3);
      // the origin: plane3's first checkpoint, trajectory's last
      expect(coords[plan === 'plane3' ? 0 : 2]!.map((c) => Math.abs(c) < 1e-6)).toEqual([true, true]);
      const s = r.surface!;
      for (const [cx, cy] of coords) {
        expect(cx > s.x[0]! && cx < s.x.at(-1)! && cy > s.y![0]! && cy < s.y!.at(-1)!, `(${cx}, ${cy}) inside the default ranges`).toBe(true);
      }
      // three checkpoints lie in their plane: the job evaluated at their coordinates gives their own losses
      const job = await L.prepareLandscape({
        config: CONFIG, checkpoints: checkpoints.map((c) => ({ name: c, bytes: readFileSync(c) })), plan, steps: 5, data, dataInfo: { dataset: 'mnist' }, batchSize: 32,
      });
      const at = await job.evaluate(coords);
      job.dispose();
      at.forEach((p, i) => close(p.loss, losses[i]!, `${plan}: checkpoint ${i} at its coordinates`));
    });
  }

  it('shards are named by index and count; resume and merge refuse parts of another job (the fingerprint)', async () => {
    const one = { ...base, checkpoints: [file('c0.safetensors')], plan: 'plane' as const, out: file('sharded') };
    await N.landscapeFromFiles({ ...one, shard: { index: 0, count: 2 } });
    await N.landscapeFromFiles({ ...one, shard: { index: 1, count: 2 } });
    const parts = [0, 1].map((i) => file(`sharded.shard-${i}-of-2.json`));
    expect(parts.every((p) => existsSync(p))).toBe(true);
    const merged = N.mergeFiles(parts, file('merged'));
    const whole = await N.landscapeFromFiles({ ...one, out: file('whole') });
    expect(merged.surface.loss).toEqual(whole.surface!.loss);
    // another job (the same directions on fewer samples): resuming this one's partial is refused, and so is merging
    await expect(N.landscapeFromFiles({ ...one, samples: 48, shard: { index: 0, count: 2 }, resume: true })).rejects.toThrow(/written by a different job/);
    await N.landscapeFromFiles({ ...one, samples: 48, out: file('other'), shard: { index: 1, count: 2 } });
    expect(() => N.mergeFiles([parts[0]!, file('other.shard-1-of-2.json')], file('bad'))).toThrow(/belongs to another job/);
    // and random directions of another seed where this job's are saved: refused by name
    await expect(N.landscapeFromFiles({ ...one, directions: { kind: 'random', seed: 9 }, shard: { index: 0, count: 2 }, resume: true })).rejects.toThrow(/sharded\.d1\.safetensors: exists with other directions/);
  });
});

describe('every command runs once as a process', () => {
  const cli = (args: string[]) => run(process.execPath, ['bin/losscape.mjs', ...args], { timeout: 180_000 });

  it('info, showcase, train, landscape, merge, hessian and sharpness', async () => {
    const info = JSON.parse((await cli(['info'])).stdout);
    expect(typeof info.description).toBe('string');
    expect((await cli(['showcase', '--sizes', '16', '--versions', 'v1'])).stdout).toMatch(/16/);
    const out = file('run');
    await cli(['train', '--model', 'mlp', '--train-subset', '256', '--test-subset', '64', '--epochs', '1', '--out', out]);
    const ckpt = path.join(out, 'checkpoint.safetensors');
    expect(N.readSidecar(ckpt).meta.epoch).toBe(1);
    for (const i of [0, 1]) await cli(['landscape', '--checkpoint', ckpt, '--steps', '3', '--samples', '32', '--shard', `${i}/2`, '--out', file('cli')]);
    const merged = JSON.parse((await cli(['merge', '--out', file('cli-merged'), file('cli.shard-0-of-2.json'), file('cli.shard-1-of-2.json')])).stdout);
    expect(merged.points).toBe(9);
    const hessian = file('h.json');
    await cli(['hessian', '--checkpoint', ckpt, '--top-k', '1', '--samples', '32', '--allow-unconverged', '--out', hessian]);
    const top = JSON.parse(readFileSync(hessian, 'utf8')).topEigenvalues;
    expect(top.values.length).toBe(1);
    expect(Number.isFinite(top.values[0])).toBe(true);
    const sharp = file('s.json');
    await cli(['sharpness', '--checkpoint', ckpt, '--rho', '0.05', '--samples', '32', '--surface', file('cli-merged.json'), '--out', sharp]);
    expect(Object.keys(JSON.parse(readFileSync(sharp, 'utf8')))).toEqual(expect.arrayContaining(['sam', 'epsilonSharpness', 'basin']));
  }, 300_000);
});
