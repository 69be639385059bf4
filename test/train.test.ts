import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import { SEED } from './helpers.js';

const note = `seed ${SEED} (replay with LOSSCAPE_TEST_SEED=${SEED})`;

describe('training', () => {
  it('drives the loss on Gaussian blobs below a bound, with every optimizer', async () => {
    const data = L.blobs(768, 4, 8, SEED, 4);
    const train = L.take(data, 512);
    const test = { ...data, inputs: data.inputs.slice(512 * 8), labels: data.labels.slice(512) };
    for (const [optimizer, lr] of [['adamw', 1e-2], ['sgd', 5e-2], ['sam', 5e-2], ['asam', 5e-2]] as const) {
      const r = await L.train({ model: { kind: 'mlp', sizes: [8, 32, 4] }, optimizer, lr, epochs: 6, batchSize: 32, seed: SEED % 1000, train, test });
      expect(r.final.trainLoss, `${optimizer}; ${note}`).toBeLessThan(0.3);
      expect(r.final.testAccuracy, `${optimizer}; ${note}`).toBeGreaterThan(0.85);
      expect(r.history[0]!.trainLoss, `${optimizer}: the loss falls; ${note}`).toBeGreaterThan(r.final.trainLoss);
      r.model.dispose();
    }
  });

  it('resumes a killed run from its last checkpoint and ends where an uninterrupted run ends', async () => {
    const data = L.spirals(384, 3, SEED);
    const base = {
      model: { kind: 'mlp', sizes: [2, 16, 3] } as L.ModelConfig, optimizer: 'adamw' as const, lr: 2e-2, batchSize: 32,
      seed: 7, train: data, test: data,
    };
    const dir = mkdtempSync(path.join(tmpdir(), 'losscape-resume-'));
    await L.train({ ...base, epochs: 2, outDir: dir }); // "killed" after epoch 2
    const resumed = await L.train({ ...base, epochs: 4, outDir: dir, resume: true });
    const straight = await L.train({ ...base, epochs: 4 });
    expect(resumed.history.map((h) => h.epoch)).toEqual([0, 1, 2, 3]);
    expect(resumed.final.trainLoss).toBe(straight.final.trainLoss);
    expect(resumed.final.testAccuracy).toBe(straight.final.testAccuracy);
    const [a, b] = [resumed.model.parameters()[0]!, straight.model.parameters()[0]!];
    expect([...(await a.data())]).toEqual([...(await b.data())]);
  });
});
