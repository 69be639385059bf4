import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import * as N from '../src/node/index.js';
import { SEED, seedNote as note } from './helpers.js';

// The blobs are fixed (data seed 1), so that the thresholds hold on every run: over random data
// seeds, about 1-2% of draws are too hard for them by the data alone. The model's seed (its
// initialization and batch order) varies with the test seed; over 64 model seeds on these blobs the
// worst final train loss of the four optimizers was 0.093 (bound 0.3) and the worst test accuracy
// 0.969 (bound 0.85).
const DATA_SEED = 1;

describe('training', () => {
  it('drives the loss on Gaussian blobs below a bound, with every optimizer', async () => {
    const data = L.blobs(768, 4, 8, DATA_SEED, 4);
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

  it('resumes a killed run from its last snapshot, between epochs and mid-epoch, and ends where an uninterrupted run ends', async () => {
    const data = L.spirals(384, 3, 11); // 12 batches of 32 per epoch
    const base = {
      model: { kind: 'mlp', sizes: [2, 16, 3] } as L.ModelConfig, optimizer: 'adamw' as const, lr: 2e-2, batchSize: 32,
      seed: 7, train: data, test: data, cropPadding: 0,
    };
    const straight = await L.train({ ...base, epochs: 4 });
    const expectSameEnd = async (r: L.TrainResult, what: string) => {
      expect(r.history, what).toEqual(straight.history.map((h, i) => ({ ...h, seconds: r.history[i]!.seconds, samplesPerSecond: r.history[i]!.samplesPerSecond })));
      // bit-identical weights: the optimizer's moments were restored (zeroed moments would differ)
      for (const [k, p] of r.model.parameters().entries()) expect([...(await p.data())], `${what}: parameter ${k}`).toEqual([...(await straight.model.parameters()[k]!.data())]);
    };
    // killed after epoch 2: the resumed call trains epochs 3 and 4 only
    const dir = mkdtempSync(path.join(tmpdir(), 'losscape-resume-'));
    await L.train({ ...base, epochs: 2, store: N.checkpointDir(dir) });
    const ran: number[] = [];
    const resumed = await L.train({ ...base, epochs: 4, store: N.checkpointDir(dir), resume: true, onEpoch: (m) => void ran.push(m.epoch) });
    expect(ran).toEqual([3, 4]);
    await expectSameEnd(resumed, 'resumed after epoch 2');
    // killed mid-epoch 3 (step 29): snapshots every 5 steps, the last at step 25; resuming starts at step 26
    const dir2 = mkdtempSync(path.join(tmpdir(), 'losscape-resume-'));
    const kill = (s: L.StepInfo) => {
      if (s.step === 29) throw new Error('killed');
    };
    await expect(L.train({ ...base, epochs: 4, store: N.checkpointDir(dir2), saveEvery: { steps: 5 }, onStep: kill })).rejects.toThrow('killed');
    const steps: number[] = [];
    const again = await L.train({ ...base, epochs: 4, store: N.checkpointDir(dir2), saveEvery: { steps: 5 }, resume: true, onStep: (s) => void steps.push(s.step) });
    expect(steps[0]).toBe(26);
    expect(steps.at(-1)).toBe(48);
    await expectSameEnd(again, 'resumed mid-epoch');
    // numbered checkpoints every 5 steps from step 0, each with its sidecar, loadable
    const numbered = readdirSync(dir2).filter((f) => /^checkpoint-step\d{7}\.safetensors$/.test(f)).sort();
    expect(numbered).toEqual(Array.from({ length: 10 }, (_, i) => `checkpoint-step${String(5 * i).padStart(7, '0')}.safetensors`));
    expect(N.readSidecar(path.join(dir2, numbered[5]!)).meta.step).toBe(25);
    const last = L.createModel(base.model);
    N.loadWeights(last, path.join(dir2, 'checkpoint.safetensors'));
    expect([...(await last.parameters()[0]!.data())]).toEqual([...(await straight.model.parameters()[0]!.data())]);
  });

  it('refuses bad options before any work, naming the option', async () => {
    const data = L.spirals(64, 3, 1);
    const base = { model: { kind: 'mlp', sizes: [2, 4, 3] } as L.ModelConfig, optimizer: 'sgd' as const, lr: 0.1, epochs: 1, batchSize: 8, seed: 0, train: data, test: data };
    await expect(L.train({ ...base, epochs: -1 })).rejects.toThrow('epochs: need an integer of at least 1, got -1');
    await expect(L.train({ ...base, lr: NaN })).rejects.toThrow('lr: need a number above 0, got NaN');
    await expect(L.train({ ...base, batchSize: 100 })).rejects.toThrow(/batch size: 100 is more than the 64 training samples/);
    await expect(L.train({ ...base, optimizer: 'sam', rho: -0.1 })).rejects.toThrow('rho: need a number of at least 0, got -0.1');
    await expect(L.train({ ...base, saveEvery: { steps: 0 } })).rejects.toThrow('save every (steps): need an integer of at least 1, got 0');
    // options that would do nothing in the combination given
    await expect(L.train({ ...base, rho: 0.1 })).rejects.toThrow('rho: the radius of SAM and ASAM; sgd has none');
    await expect(L.train({ ...base, optimizer: 'adamw', momentum: 0.9 })).rejects.toThrow("momentum: SGD's (and SAM's over SGD); adamw has its betas instead");
    await expect(L.train({ ...base, optimizer: 'sam', samBase: 'adamw', momentum: 0.9 })).rejects.toThrow("momentum: SGD's (and SAM's over SGD); sam over adamw");
    await expect(L.train({ ...base, samBase: 'adamw' })).rejects.toThrow('samBase: only SAM and ASAM wrap a base optimizer, not sgd');
    await expect(L.train({ ...base, optimizer: 'adam' as L.OptimizerName })).rejects.toThrow('optimizer: expected one of sgd, adamw, sam, asam, got "adam"');
    await expect(L.train({ ...base, cropPadding: 2 })).rejects.toThrow('crop padding and flip: need images [C, H, W]; spirals has samples of shape [2]');
    await expect(L.train({ ...base, resume: true })).rejects.toThrow('resume: needs a store');
    await expect(L.train({ ...base, schedule: { kind: 'cosine', totalSteps: 0 } })).rejects.toThrow('schedule total steps: need an integer of at least 1, got 0');
    // data that does not fit the model, or itself: refused before the first step, naming the set
    await expect(L.train({ ...base, model: { kind: 'mlp', sizes: [3, 4, 3] } })).rejects.toThrow(/^training set \(spirals\): the model .* does not take samples of shape \[2\] \(matmul: inner dimensions differ/);
    await expect(L.train({ ...base, model: { kind: 'mlp', sizes: [2, 4, 2] } })).rejects.toThrow('training set (spirals): 3 classes, but the model (mlp) gives 2 outputs per sample');
    await expect(L.train({ ...base, train: { ...data, labels: data.labels.map((l, i) => (i === 5 ? 7 : l)) } })).rejects.toThrow('training set (spirals): label 7 of sample 5 is outside 0..2');
    await expect(L.train({ ...base, test: { ...data, inputs: data.inputs.subarray(1) } })).rejects.toThrow('test set (spirals): 127 input values for 64 samples of shape [2] (128 expected)');
  });

  it('refuses to resume a run with other settings, naming each', async () => {
    const data = L.spirals(64, 3, 1);
    const base = { model: { kind: 'mlp', sizes: [2, 4, 3] } as L.ModelConfig, optimizer: 'sgd' as const, lr: 0.1, epochs: 1, batchSize: 8, seed: 0, train: data, test: data };
    const dir = mkdtempSync(path.join(tmpdir(), 'losscape-resume-'));
    (await L.train({ ...base, store: N.checkpointDir(dir) })).model.dispose();
    await expect(L.train({ ...base, epochs: 2, lr: 0.2, batchSize: 16, store: N.checkpointDir(dir), resume: true }))
      .rejects.toThrow(/train-state.safetensors: written by a run with other settings; resume with the same lr \(0.1, not 0.2\), batchSize \(8, not 16\)$/);
    await expect(L.train({ ...base, epochs: 2, model: { kind: 'mlp', sizes: [2, 5, 3] }, store: N.checkpointDir(dir), resume: true })).rejects.toThrow(/written for another model configuration/);
    const more = await L.train({ ...base, epochs: 2, store: N.checkpointDir(dir), resume: true });
    expect(more.history.map((h) => h.epoch)).toEqual([1, 2]);
    more.model.dispose();
  });
});

describe('SAM with BatchNorm and data augmentation', () => {
  it("updates BatchNorm running statistics in SAM's first pass only", async () => {
    const x = L.keep(new L.Generator(SEED % 997).normal([4, 1, 8, 8]));
    const y = L.keep(L.fromArray(new Int32Array([0, 1, 2, 3])));
    const config: L.ModelConfig = { kind: 'resnet', blocks: [1], widths: [4], channels: 1, classes: 4, stem: 'cifar' };
    const stats = (m: L.Module) => Promise.all(m.stateDict().filter(([k]) => k.startsWith('bn1.running')).map(([, t]) => t.data()));
    // reference: one training forward from the same initial state
    const ref = L.createModel(config, 3);
    L.tidy(() => void ref.forward(x));
    const expected = await stats(ref);
    const model = L.createModel(config, 3);
    const flat = L.FlatParameters.of(model);
    const sam = new L.SAM(new L.SGD(flat, { lr: 0.1 }), { rho: 0.05 });
    sam.stepWith(() => L.tidy(() => { const loss = L.crossEntropy(model.forward(x), y); L.backward(loss); return L.keep(loss); })).dispose();
    const got = await stats(model);
    got.forEach((g, i) => expect([...g], `running statistics ${i}; ${note}`).toEqual([...expected[i]!]));
    const counts = model.stateDict().filter(([k]) => k.endsWith('num_batches_tracked'));
    for (const [k, t] of counts) expect((await t.toArray())[0], `${k}; ${note}`).toBe(1);
  });

  it('random crops shift images within the zero padding, flips mirror them, all seeded', async () => {
    const img = Float32Array.from({ length: 16 }, (_, i) => i + 1); // one 4x4 image
    const d: L.Dataset = { name: 'one', sampleShape: [1, 4, 4], inputs: img, labels: new Int32Array([0]), classes: 1 };
    const seen = new Set<string>();
    for (let epoch = 0; epoch < 40; epoch++) {
      for (const b of L.batches(d, { batchSize: 1, seed: 3, epoch, cropPadding: 1, flip: true })) {
        const v = [...(await b.x.data())];
        seen.add(v.join(','));
        // every output pixel is 0 (padding) or a pixel of the image, and the multiset of non-zero
        // values is a window of the (possibly mirrored) image
        expect(v.every((p) => p === 0 || img.includes(p))).toBe(true);
        b.x.dispose();
        b.y.dispose();
      }
    }
    expect(seen.has([...img].join(','))).toBe(true); // no shift, no flip
    expect(seen.has([4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9, 16, 15, 14, 13].join(','))).toBe(true); // mirrored
    expect(seen.size).toBeGreaterThan(8); // shifts in several directions
    const a = [...L.batches(d, { batchSize: 1, seed: 3, epoch: 5, cropPadding: 1, flip: true })][0]!;
    const b = [...L.batches(d, { batchSize: 1, seed: 3, epoch: 5, cropPadding: 1, flip: true })][0]!;
    expect([...(await a.x.data())]).toEqual([...(await b.x.data())]);
  });
});
