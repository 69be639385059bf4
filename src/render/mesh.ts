// A surface as a triangle mesh in display coordinates: x and y mapped from the grid's extent to
// [-1, 1], height z = the loss's place on the scale (0 to 1; 0 everywhere for a flat heatmap), the
// same place as the per-vertex colour value. Each grid cell is two triangles (a b c, a c d, counter-
// clockwise seen from above); a triangle touching a null (non-finite) vertex is dropped, so gaps
// show as gaps. Normals are the area-weighted sums of the kept triangles' normals.
import type { SurfaceFile } from '../landscape/surface.js';
import { normalize, type Scale } from './scale.js';

export interface SurfaceMesh {
  nx: number;
  ny: number;
  /** xyz per vertex, vertex iy·nx + ix */
  positions: Float32Array;
  /** unit normal per vertex ((0, 0, 1) where no triangle touches it) */
  normals: Float32Array;
  /** the vertex's place on the scale, 0 to 1, the colormap's input (0 for a null vertex) */
  values: Float32Array;
  /** 1 where the loss is finite */
  valid: Uint8Array;
  /** three vertex indices per kept triangle */
  triangles: Uint32Array;
  /** two vertex indices per wireframe segment between finite neighbours */
  edges: Uint32Array;
}

/** A coordinate on an axis (increasing values) to display units, the axis' ends to -1 and 1. */
export function toDisplay(axis: readonly number[], v: number): number {
  return -1 + (2 * (v - axis[0]!)) / (axis.at(-1)! - axis[0]!);
}

export function surfaceMesh(s: SurfaceFile, scale: Scale, flat = false): SurfaceMesh {
  const ys = s.y ?? [0, 1];
  const nx = s.x.length;
  const ny = s.y ? ys.length : 1;
  const n = nx * ny;
  const positions = new Float32Array(3 * n);
  const values = new Float32Array(n);
  const valid = new Uint8Array(n);
  for (let iy = 0; iy < ny; iy++) {
    for (let ix = 0; ix < nx; ix++) {
      const i = iy * nx + ix;
      const t = normalize(scale, s.loss[iy]![ix]!);
      valid[i] = t === null ? 0 : 1;
      values[i] = t ?? 0;
      positions.set([toDisplay(s.x, s.x[ix]!), s.y ? toDisplay(ys, ys[iy]!) : 0, flat ? 0 : (t ?? 0)], 3 * i);
    }
  }
  const tris: number[] = [];
  const edges: number[] = [];
  for (let iy = 0; iy < ny; iy++) {
    for (let ix = 0; ix < nx; ix++) {
      const a = iy * nx + ix;
      if (ix + 1 < nx && valid[a] && valid[a + 1]) edges.push(a, a + 1);
      if (iy + 1 < ny && valid[a] && valid[a + nx]) edges.push(a, a + nx);
      if (ix + 1 >= nx || iy + 1 >= ny) continue;
      const [b, c, d] = [a + 1, a + nx + 1, a + nx];
      if (valid[a] && valid[b] && valid[c]) tris.push(a, b, c);
      if (valid[a] && valid[c] && valid[d]) tris.push(a, c, d);
    }
  }
  const triangles = Uint32Array.from(tris);
  return { nx, ny, positions, normals: vertexNormals(positions, triangles), values, valid, triangles, edges: Uint32Array.from(edges) };
}

/** Area-weighted vertex normals of a triangle list, normalized; (0, 0, 1) for unused vertices. */
export function vertexNormals(positions: Float32Array, triangles: Uint32Array): Float32Array {
  const acc = new Float64Array(positions.length);
  const p = (i: number, k: number) => positions[3 * i + k]!;
  for (let t = 0; t < triangles.length; t += 3) {
    const [a, b, c] = [triangles[t]!, triangles[t + 1]!, triangles[t + 2]!];
    const u = [p(b, 0) - p(a, 0), p(b, 1) - p(a, 1), p(b, 2) - p(a, 2)];
    const v = [p(c, 0) - p(a, 0), p(c, 1) - p(a, 1), p(c, 2) - p(a, 2)];
    const nrm = [u[1]! * v[2]! - u[2]! * v[1]!, u[2]! * v[0]! - u[0]! * v[2]!, u[0]! * v[1]! - u[1]! * v[0]!];
    for (const i of [a, b, c]) for (let k = 0; k < 3; k++) acc[3 * i + k] += nrm[k]!;
  }
  const out = new Float32Array(positions.length);
  for (let i = 0; i < out.length; i += 3) {
    const len = Math.hypot(acc[i]!, acc[i + 1]!, acc[i + 2]!);
    out.set(len > 0 ? [acc[i]! / len, acc[i + 1]! / len, acc[i + 2]! / len] : [0, 0, 1], i);
  }
  return out;
}

/** Where (x, y) in the grid's coordinates falls: fractional indices, clamped to the grid. */
export function gridIndex(axis: readonly number[], v: number): number {
  if (v <= axis[0]!) return 0;
  const last = axis.length - 1;
  if (v >= axis[last]!) return last;
  let i = 0;
  while (axis[i + 1]! < v) i++;
  return i + (v - axis[i]!) / (axis[i + 1]! - axis[i]!);
}

/** The mesh's height at fractional grid indices: bilinear over the cell's finite corners, null if none. */
export function heightAt(mesh: SurfaceMesh, fx: number, fy: number): number | null {
  const ix = Math.min(Math.floor(fx), mesh.nx - 2);
  const iy = Math.min(Math.floor(fy), mesh.ny - 2);
  const [u, v] = [fx - ix, fy - iy];
  let sum = 0;
  let weight = 0;
  for (const [dx, dy, w] of [[0, 0, (1 - u) * (1 - v)], [1, 0, u * (1 - v)], [0, 1, (1 - u) * v], [1, 1, u * v]] as const) {
    const i = (iy + dy) * mesh.nx + ix + dx;
    if (!mesh.valid[i]) continue;
    sum += w * mesh.positions[3 * i + 2]!;
    weight += w;
  }
  return weight > 0 ? sum / weight : null;
}
