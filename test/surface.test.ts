import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';

const golden = (name: string) => readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8');

describe('surface files', () => {
  const x = [-1, 0, 1];
  const y = [-0.5, 0.5];
  const results = [1, 2, 3, 4, Infinity, 6].map((loss, i) => ({ loss, accuracy: i / 10 }));
  const s = L.buildSurface(x, y, results, { seed: 3 });

  it("keeps values[iy][ix] orientation and flags non-finite losses as null", () => {
    expect(s.loss).toEqual([[1, 2, 3], [4, null, 6]]);
    expect(s.accuracy[1]![2]).toBeCloseTo(0.5);
    expect(s.nonFinite).toEqual([[1, 1]]);
    expect(() => L.buildSurface(x, y, results.slice(1), {})).toThrow('surface: 5 results for a 2x3 grid');
  });

  it('writes CSV rows x-fastest and a legacy VTK structured grid that parses back', () => {
    const csv = L.surfaceCsv(s).trim().split('\n');
    expect(csv[0]).toBe('x,y,loss,accuracy');
    expect(csv[2]).toBe('0,-0.5,2,0.1');
    expect(csv[5]).toBe('0,0.5,nan,0.4');
    const text = L.surfaceVtk(s);
    // VTK's ASCII reader parses numbers with C++ streams, which reject "nan": none is written
    expect(text).not.toMatch(/nan/i);
    const vtk = L.parseVtk(text);
    expect(vtk.dims).toEqual([3, 2, 1]);
    // the overflowed point sits at the highest finite loss, hidden by VTK's blanking (HIDDENPOINT = 2)
    expect(vtk.points[4]).toEqual([0, 0.5, 6]);
    expect(vtk.data.vtkGhostType).toEqual([0, 0, 0, 0, 2, 0]);
    expect(vtk.points[5]).toEqual([1, 0.5, 6]);
    expect(vtk.data.loss!.slice(0, 4)).toEqual([1, 2, 3, 4]);
    expect(vtk.data.accuracy![3]).toBeCloseTo(0.3);
    expect(() => L.parseVtk('hello')).toThrow('vtk: missing "# vtk DataFile" header');
  });

  // golden files written by hand from the legacy VTK 3.0 format (see test/fixtures/README.md):
  // header, title, ASCII, DATASET STRUCTURED_GRID, DIMENSIONS nx ny nz, POINTS with x varying
  // fastest, then POINT_DATA with one SCALARS block (and its LOOKUP_TABLE line) per metric
  it('writes a plane exactly as the hand-written legacy VTK golden file', () => {
    const results = [1, 2, 3, 4, 5.5, 6].map((loss, i) => ({ loss, accuracy: i / 10 }));
    expect(L.surfaceVtk(L.buildSurface([-1, 0, 1], [-0.5, 0.5], results, {}))).toBe(golden('surface-plane.vtk'));
  });

  it('writes a line as a structured grid one point deep', () => {
    const results = [[0.75, 0.25], [0.5, 1], [0.625, 0.5]].map(([loss, accuracy]) => ({ loss: loss!, accuracy: accuracy! }));
    expect(L.surfaceVtk(L.buildSurface([-0.25, 0, 0.25], null, results, {}))).toBe(golden('surface-line.vtk'));
  });
});
