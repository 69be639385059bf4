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

  it('sizes chunks to a time per chunk, from one point up to the most, every point once in coarse-to-fine order', async () => {
    const sizes: number[] = [];
    const order: number[] = [];
    const perPoint = 0.01;
    const run = await L.runLandscape({
      x: L.linspace(-1, 1, 9), y: L.linspace(-1, 1, 9), fingerprint: 'f', provenance: {}, chunk: 6, chunkSeconds: 5 * perPoint,
      evaluate: async (pts) => {
        sizes.push(pts.length);
        await new Promise((r) => setTimeout(r, pts.length * perPoint * 1e3));
        return pts.map(([a, b]) => ({ loss: a + b, accuracy: 0 }));
      },
      onChunk: (chunk) => {
        order.push(...chunk.map((c) => c.index));
      },
    });
    expect(order).toEqual(L.coarseToFine(9, 9));
    expect(Object.keys(run.results)).toHaveLength(81);
    expect(sizes[0]).toBe(1);
    // about five points per chunk once measured: never more (timers are late, not early), and
    // three or more at least once however loaded the machine
    expect(Math.max(...sizes), `chunk sizes ${sizes}`).toBeLessThanOrEqual(5);
    expect(Math.max(...sizes), `chunk sizes ${sizes}`).toBeGreaterThanOrEqual(3);
  });

  it('shows a run so far at its finest complete level, the grid edge the coarse levels miss as gaps', () => {
    const x = L.linspace(-1, 1, 6); // steps - 1 = 5: the coarse levels reach x[0] and x[4], not x[5]
    const y = L.linspace(0, 1, 3);
    const order = L.coarseToFine(6, 3);
    const upTo = (n: number) => Object.fromEntries(order.slice(0, n).map((i): [string, [number, null]] => [String(i), [i, null]]));
    // the 4-step level: (0, 0), (4, 0); 2-step: columns 0, 2, 4 of rows 0 and 2; 1-step: the rest
    const coarse = L.surfaceSoFar(x, y, upTo(6), { plan: { kind: 'plane' } });
    expect(coarse.x).toEqual([x[0], x[2], x[4], x[5]]);
    expect(coarse.y).toEqual([y[0], y[2]]);
    expect(coarse.loss).toEqual([[0, 2, 4, null], [12, 14, 16, null]]);
    expect(coarse.nonFinite).toEqual([]); // not yet evaluated is not non-finite
    const whole = L.surfaceSoFar(x, y, upTo(18), {});
    expect(whole.x).toEqual(x);
    expect(whole.loss).toEqual([[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11], [12, 13, 14, 15, 16, 17]]);
    const line = L.surfaceSoFar(x, null, { 0: [1, 1], 4: [null, null] }, {});
    expect(line.x).toEqual([x[0], x[4], x[5]]);
    expect(line.loss).toEqual([[1, null, null]]);
    expect(line.nonFinite).toEqual([[0, 1]]); // evaluated, and not finite
  });
});
