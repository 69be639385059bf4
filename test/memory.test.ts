// GPU memory stays flat: live bytes (getEngine().stats) sampled over 1,000 training steps, over a
// 51×51 landscape with each evaluator, and around 100 failed ops, inside tidy() and outside it.
import { beforeAll, describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import { SEED } from './helpers.js';

const note = `seed ${SEED} (replay with LOSSCAPE_TEST_SEED=${SEED})`;

async function settled(): Promise<L.EngineStats> {
  const e = L.getEngine();
  await e.sync();
  return e.stats;
}

/** Every sample after the first `warmup` equals the first of them: no growth, no drift. */
function expectFlat(samples: number[], warmup: number, what: string): void {
  const steady = samples.slice(warmup);
  expect(steady.length, what).toBeGreaterThan(0);
  expect(Math.max(...steady) - Math.min(...steady), `${what}: live bytes moved within [${Math.min(...steady)}, ${Math.max(...steady)}]; ${note}`).toBe(0);
}

describe('GPU memory', () => {
  // the debug poison (a fill per allocation) is for correctness tests; here it would only double the time
  beforeAll(() => void (L.getEngine().poison = false));
  it('is given back when ops fail: 100 failures inside tidy() and 100 outside leave live bytes where they were', async () => {
    const before = await settled();
    const kept = L.keep(L.ones([3, 4]));
    const failures: Array<() => unknown> = [
      () => L.matmul(L.add(L.ones([37, 5]), 1), L.ones([6, 2])), // inner dimensions differ
      () => L.add(L.mul(L.ones([2, 3]), 2), L.ones([4, 5])), // shapes do not broadcast
      () => L.crossEntropy(L.ones([4, 3]), L.fromArray(new Int32Array([0, 1]))), // 2 labels for 4 rows
      () => L.reshape(L.add(kept, 1), [5, 5]), // 12 elements are not 25
      () => {
        const t = L.ones([8]);
        L.sum(t).dispose();
        t.dispose();
        return L.add(t, 1); // a disposed tensor
      },
    ];
    for (let i = 0; i < 100; i++) expect(() => L.tidy(failures[i % failures.length]!), `failure ${i % failures.length}`).toThrow();
    // outside tidy: ops check their inputs before they allocate
    const a = L.keep(L.ones([5, 7]));
    for (let i = 0; i < 100; i++) expect(() => L.matmul(a, a)).toThrow(/matmul/);
    a.dispose();
    kept.dispose();
    const after = await settled();
    expect(after.bytesLive, `live bytes after 200 failed ops; ${note}`).toBe(before.bytesLive);
    expect(after.buffersLive).toBe(before.buffersLive);
  });

  it('is given back when prepareLandscape() refuses a spec after building the model', async () => {
    const config: L.ModelConfig = { kind: 'mlp', sizes: [2, 8, 3] };
    const model = L.createModel(config, 1);
    const good = { name: 'a.safetensors', bytes: await L.weightsToBytes(model) };
    model.dispose();
    const other = L.createModel({ kind: 'mlp', sizes: [2, 9, 3] }, 1);
    const bad = { name: 'b.safetensors', bytes: await L.weightsToBytes(other) };
    other.dispose();
    const before = await settled();
    const spec = { config, plan: 'interp' as const, steps: 3, data: L.spirals(16, 3, 1), dataInfo: {}, batchSize: 16 };
    // the data do not fit the model (checked with one sample once the model exists)
    await expect(L.prepareLandscape({ ...spec, checkpoints: [good, good], data: L.blobs(16, 3, 5, 1) })).rejects.toThrow(/^evaluation data: the model .* does not take samples of shape \[5\]/);
    // the second checkpoint does not fit: refused after the first was loaded and copied
    await expect(L.prepareLandscape({ ...spec, checkpoints: [good, bad] })).rejects.toThrow(/^b\.safetensors: does not fit the model \(MLP\)/);
    const after = await settled();
    expect(after.bytesLive, `live bytes after two refused specs; ${note}`).toBe(before.bytesLive);
  });

  it('stays flat over 1,000 training steps (train() with an onStep hook sampling the engine)', async () => {
    const data = L.spirals(2000, 3, SEED % 1000);
    const live: number[] = [];
    const created: number[] = [];
    const r = await L.train({
      model: { kind: 'mlp', sizes: [2, 16, 3] }, optimizer: 'adamw', lr: 1e-2, epochs: 4, batchSize: 8, seed: SEED % 1000,
      train: data, test: L.take(data, 200),
      onStep: (s) => {
        if (s.step === 0) return;
        const st = L.getEngine().stats;
        live.push(st.bytesLive);
        created.push(st.created);
      },
    });
    expect(live.length).toBe(1000);
    expectFlat(live, 1, 'training steps');
    // after the first epoch every buffer comes from the pool: no new GPU buffers
    expect(created.at(-1), `GPU buffers created after epoch 1; ${note}`).toBe(created[250]);
    r.model.dispose();
    r.flat.dispose();
  });

  for (const evaluator of ['batched', 'sequential'] as const) {
    it(`stays flat over a 51×51 landscape with the ${evaluator} evaluator`, async () => {
      const config: L.ModelConfig = { kind: 'mlp', sizes: [2, 8, 3] };
      const model = L.createModel(config, SEED % 1000);
      const bytes = await L.weightsToBytes(model);
      model.dispose();
      const before = await settled();
      const live: number[] = [];
      const job = await L.prepareLandscape({
        config, checkpoints: [{ name: 'tiny', bytes }], plan: 'plane', steps: 51, directions: { kind: 'random', seed: 1 },
        data: L.spirals(64, 3, 5), dataInfo: { dataset: 'spirals' }, batchSize: 64, evaluator, chunk: evaluator === 'batched' ? 51 : 17,
      });
      const part = await job.run({ onChunk: () => void live.push(L.getEngine().stats.bytesLive) });
      job.dispose();
      expect(Object.keys(part.results).length).toBe(51 * 51);
      expectFlat(live, 1, `${evaluator} landscape chunks`);
      const after = await settled();
      expect(after.bytesLive, `live bytes after the job is disposed; ${note}`).toBe(before.bytesLive);
    });
  }
});
