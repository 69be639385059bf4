import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import { hostRng, SEED } from './helpers.js';

const note = `seed ${SEED} (replay with LOSSCAPE_TEST_SEED=${SEED})`;
const rng = hostRng(SEED ^ 0x91a);

describe('plans', () => {
  it('linspace includes both ends; bad ranges and step counts are refused', () => {
    expect(L.linspace(-1, 1, 5)).toEqual([-1, -0.5, 0, 0.5, 1]);
    expect(L.linspace(0, 0.3, 4).at(-1)).toBe(0.3);
    expect(() => L.linspace(1, 1, 5)).toThrow('range: min (1) must be below max (1)');
    expect(() => L.linspace(2, 1, 5)).toThrow('range: min (2) must be below max (1)');
    expect(() => L.linspace(0, 1, 1)).toThrow('steps: need at least 2 points per axis, got 1');
  });

  it('orders grid points y outer, x inner: point iy·nx + ix is values[iy][ix]', () => {
    const pts = L.gridPoints([1, 2, 3], [10, 20]);
    expect(pts).toEqual([[1, 10], [2, 10], [3, 10], [1, 20], [2, 20], [3, 20]]);
    expect(L.gridPoints([1, 2], null)).toEqual([[1, 0], [2, 0]]);
  });

  it('Jacobi eigen-decomposition of a symmetric matrix', () => {
    const { values, vectors } = L.jacobiEigen([2, 1, 0, 1, 2, 0, 0, 0, 5], 3);
    expect([...values].sort((a, b) => a - b).map((v) => +v.toFixed(10))).toEqual([1, 3, 5]);
    // A v = λ v for each column
    for (let k = 0; k < 3; k++) {
      const v = vectors.map((r) => r[k]!);
      const av = [2 * v[0]! + v[1]!, v[0]! + 2 * v[1]!, 5 * v[2]!];
      av.forEach((x, i) => expect(x).toBeCloseTo(values[k]! * v[i]!, 10));
    }
  });

  it('the plane through three points: orthonormal basis and exact coordinates', async () => {
    const n = 301;
    const vec = () => Array.from({ length: n }, () => rng() * 2 - 1);
    const [a, b, c] = [vec(), vec(), vec()];
    const basis = await L.planeThrough(L.fromArray(a), L.fromArray(b), L.fromArray(c));
    const dist = (x: number[], y: number[]) => Math.sqrt(x.reduce((s, v, i) => s + (v - y[i]!) ** 2, 0));
    expect(basis.coords[0]).toEqual([0, 0]);
    expect(basis.coords[1]![0] / dist(a, b), note).toBeCloseTo(1, 5);
    expect(Math.abs(basis.coords[1]![1])).toBeLessThan(1e-4);
    const [x2, y2] = basis.coords[2]!;
    expect(Math.hypot(x2, y2) / dist(a, c), note).toBeCloseTo(1, 5);
    expect(Math.hypot(x2 - basis.coords[1]![0], y2) / dist(b, c), note).toBeCloseTo(1, 5);
    const d1 = await basis.d1.data();
    const d2 = await basis.d2.data();
    expect(d1.reduce((s, v, i) => s + v * d2[i]!, 0)).toBeCloseTo(0, 5);
  });

  it('the trajectory plane: PCA of checkpoint differences recovers a path that lies in a plane', async () => {
    const n = 257;
    const e1 = Array.from({ length: n }, () => rng() - 0.5);
    const e2 = Array.from({ length: n }, () => rng() - 0.5);
    const final = Array.from({ length: n }, () => rng() - 0.5);
    const path = Array.from({ length: 6 }, (_, i) => [Math.cos(i) * (6 - i), Math.sin(2 * i) * (3 - i / 2)]);
    path[5] = [0, 0];
    const checkpoints = path.map(([a, b]) => L.fromArray(final.map((f, k) => f + a! * e1[k]! + b! * e2[k]!)));
    const t = await L.trajectoryPlane(checkpoints);
    expect(t.explained[0] + t.explained[1], note).toBeCloseTo(1, 4);
    expect(t.explained[0]).toBeGreaterThanOrEqual(t.explained[1]);
    expect(t.coords.at(-1)).toEqual([0, 0]);
    // distances between projected checkpoints equal distances between the checkpoints themselves
    const host = await Promise.all(checkpoints.map((c) => c.data()));
    for (let i = 0; i < 5; i++) {
      const d = Math.sqrt(host[i]!.reduce((s, v, k) => s + (v - host[5]![k]!) ** 2, 0));
      expect(Math.hypot(...t.coords[i]!) / d, `checkpoint ${i}; ${note}`).toBeCloseTo(1, 4);
    }
    await expect(L.trajectoryPlane(checkpoints.slice(0, 2))).rejects.toThrow('trajectory: needs at least 3 checkpoints, got 2');
  });
});
