import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import { normalizeDirection, orthogonalize, parameterViews, randomDirection } from '../src/landscape/directions.js';
import { loadDirection, saveDirection } from '../src/node/directions.js';
import { hostRng, SEED } from './helpers.js';

const note = `seed ${SEED} (replay with LOSSCAPE_TEST_SEED=${SEED})`;
const rng = hostRng(SEED ^ 0xd1);

class Toy extends L.Module {
  constructor(values: Record<string, [number[], number[]]>) {
    super();
    for (const [name, [shape, data]] of Object.entries(values)) this.param(name, L.fromArray(data, shape));
  }
}

const rand = (n: number) => Array.from({ length: n }, () => rng() * 2 - 1);
const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));

function toy(): { flat: L.FlatParameters; theta: Record<string, number[]> } {
  const theta = { w1: rand(12), b1: rand(3), w2: [...rand(3), 0, 0, 0] }; // w2's second filter is all zero
  const flat = L.FlatParameters.of(new Toy({ w1: [[3, 4], theta.w1], b1: [[3], theta.b1], w2: [[2, 3], theta.w2] }));
  return { flat, theta };
}

async function views(flat: L.FlatParameters, d: L.Tensor): Promise<Record<string, Float32Array>> {
  const out: Record<string, Float32Array> = {};
  for (const [name, v] of parameterViews(flat, d)) out[name] = await v.data();
  return out;
}

describe('directions', () => {
  it('filter normalization: each slice along dim 0 gets the norm of the same slice of θ; 1-D ignored; zero slices stay zero', async () => {
    const { flat, theta } = toy();
    const d = await views(flat, randomDirection(flat, { seed: SEED % 10000, normalization: 'filter', oneD: 'ignore' }));
    for (let r = 0; r < 3; r++) expect(norm(d.w1!.slice(4 * r, 4 * r + 4)) / norm(theta.w1!.slice(4 * r, 4 * r + 4)), note).toBeCloseTo(1, 5);
    expect(norm(d.w2!.slice(0, 3)) / norm(theta.w2!.slice(0, 3)), note).toBeCloseTo(1, 5);
    expect([...d.w2!.slice(3)].every((v) => v === 0)).toBe(true); // θ slice of norm zero: defined, no NaN
    expect([...d.b1!]).toEqual([0, 0, 0]);
  });

  it('layer, model and weight normalization, and keeping 1-D parameters', async () => {
    const { flat, theta } = toy();
    const all = [...theta.w1!, ...theta.b1!, ...theta.w2!];
    const layer = await views(flat, randomDirection(flat, { seed: 3, normalization: 'layer', oneD: 'keep' }));
    for (const k of ['w1', 'b1', 'w2']) expect(norm(layer[k]!) / norm(theta[k]!), k).toBeCloseTo(1, 5);
    const model = await views(flat, randomDirection(flat, { seed: 3, normalization: 'model', oneD: 'keep' }));
    expect(norm([...model.w1!, ...model.b1!, ...model.w2!]) / norm(all)).toBeCloseTo(1, 5);
    const none = await views(flat, randomDirection(flat, { seed: 3, normalization: 'none', oneD: 'keep' }));
    const weight = await views(flat, randomDirection(flat, { seed: 3, normalization: 'weight', oneD: 'keep' }));
    weight.w1!.forEach((v, i) => expect(v).toBeCloseTo(none.w1![i]! * theta.w1![i]!, 6));
  });

  it('moves only the parameters a pattern names', async () => {
    const { flat } = toy();
    const d = await views(flat, randomDirection(flat, { seed: 5, normalization: 'layer', oneD: 'keep', only: /^w2$/ }));
    expect([...d.w1!].every((v) => v === 0) && [...d.b1!].every((v) => v === 0)).toBe(true);
    expect(norm(d.w2!)).toBeGreaterThan(0);
  });

  it('orthogonalizes d2 against d1, and round-trips through safetensors by parameter name', async () => {
    const { flat } = toy();
    const d1 = randomDirection(flat, { seed: 1, normalization: 'filter' });
    const d2 = randomDirection(flat, { seed: 2, normalization: 'filter' });
    orthogonalize(d2, d1);
    const dot = await L.sum(L.mul(d1, d2)).item();
    expect(Math.abs(dot) / (await L.sum(L.square(d2)).item())).toBeLessThan(1e-6);
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'losscape-dir-')), 'd1.safetensors');
    await saveDirection(file, flat, d1);
    const back = loadDirection(file, flat);
    expect([...(await back.data())]).toEqual([...(await d1.data())]);
    const other = L.FlatParameters.of(new Toy({ w1: [[3, 4], rand(12)] }));
    expect(() => loadDirection(file, other)).toThrow(/direction does not fit the model: unexpected b1, w2/);
    normalizeDirection(back, flat, { normalization: 'none', only: /^b/ , oneD: 'keep' });
    const kept = await views(flat, back);
    expect([...kept.w1!].every((v) => v === 0)).toBe(true);
  });
});
