import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import * as N from '../src/node/index.js';
import { SEED } from './helpers.js';

function job() {
  const data = L.blobs(97, 3, 6, SEED);
  const model = new L.MLP({ kind: 'mlp', sizes: [6, 10, 3] }, 5);
  const flat = L.FlatParameters.of(model);
  const d1 = L.randomDirection(flat, { seed: 1 });
  const d2 = L.randomDirection(flat, { seed: 2 });
  const set = L.prepareEvalSet(data, 50);
  const x = L.linspace(-1, 1, 7);
  const y = L.linspace(-1, 1, 5);
  return { x, y, fingerprint: 'job-a', provenance: { test: true }, chunk: 4, evaluate: (p: Array<[number, number]>) => L.evaluateBatched(model, flat, d1, d2, p, set) };
}

describe('long landscape runs', () => {
  it('orders points coarse to fine, each once; shards split them deterministically', () => {
    const order = L.coarseToFine(7, 5);
    expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: 35 }, (_, i) => i));
    expect(order.slice(0, 4)).toEqual([0, 4, 28, 32]); // the corners of the 4-step grid come first
    const shards = [0, 1, 2].map((i) => L.shardIndices(7, 5, { index: i, count: 3 }));
    expect(shards.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 35 }, (_, i) => i));
    expect(() => L.parseShard('3/3')).toThrow('shard: expected i/n with 0 <= i < n, got "3/3"');
  });

  it('resumes a run killed between chunks and ends with the values of an uninterrupted run', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'losscape-run-'));
    const partialFile = path.join(dir, 'p.json');
    const store = N.partialFileStore(partialFile);
    const whole = await L.runLandscape(job());
    let chunks = 0;
    await expect(L.runLandscape({ ...job(), store, onChunk: () => { if (++chunks === 3) throw new Error('killed'); } })).rejects.toThrow('killed');
    expect(Object.keys(N.readPartial(partialFile).results).length).toBe(12); // three chunks of 4 were saved
    const streamed: number[] = [];
    let startedAt = -1;
    const resumed = await L.runLandscape({ ...job(), store, resume: true, onStart: (done) => (startedAt = done), onChunk: (c) => void streamed.push(...c.map((r) => r.index)) });
    expect(startedAt).toBe(12); // a resumed run's progress starts where it was
    expect(resumed.timings!.points).toBe(35); // and its timings cover both sessions
    expect(streamed.length).toBe(35 - 12);
    expect(resumed.results).toEqual(whole.results);
    await expect(L.runLandscape({ ...job(), fingerprint: 'job-b', store, resume: true })).rejects.toThrow(/written by a different job/);
  });

  it('stores a loss that overflows far from the minimum as non-finite and flags it, without failing', async () => {
    const base = job();
    const far = await L.runLandscape({ ...base, x: [0, 1e30], y: null });
    const surface = L.mergePartials([far]);
    expect(surface.loss[0]![0]).not.toBeNull();
    expect(surface.loss[0]![1]).toBeNull();
    expect(surface.nonFinite).toEqual([[0, 1]]);
  });

  it('merges shards into the whole surface, and names what is missing', async () => {
    const whole = L.mergePartials([await L.runLandscape(job())]);
    const parts = await Promise.all([0, 1, 2].map((index) => L.runLandscape({ ...job(), shard: { index, count: 3 } })));
    const merged = L.mergePartials(parts);
    expect(merged.loss).toEqual(whole.loss);
    expect(merged.accuracy).toEqual(whole.accuracy);
    expect(() => L.mergePartials([parts[0]!, parts[2]!])).toThrow(/merge: \d+ of 35 points missing \(shards 1 of 3 incomplete or not given\)/);
    expect(() => L.mergePartials([parts[0]!, { ...parts[1]!, fingerprint: 'other' }], ['a.json', 'b.json'])).toThrow('merge: b.json belongs to another job than a.json');
  });
});
