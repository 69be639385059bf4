// Long landscape runs: points evaluated chunk by chunk (coarse grid first, then the points between),
// each chunk's results streamed to a callback and saved to a partial file, so that a run killed at
// any moment resumes and loses at most the chunk in flight; deterministic shards (--shard i/n) whose
// partial files `merge` joins into the whole surface (docs/LANDSCAPE.md: Kubernetes and Slurm).
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { buildSurface, type SurfaceFile } from './surface.js';
import type { PointResult } from './evaluate.js';

export interface Shard {
  index: number;
  count: number;
}

export interface PartialFile {
  format: 'losscape-partial/1';
  /** identifies the job: two files with the same fingerprint describe the same surface */
  fingerprint: string;
  x: number[];
  y: number[] | null;
  provenance: Record<string, unknown>;
  shard: Shard;
  /** point index (iy·nx + ix) -> [loss, accuracy]; non-finite values as null */
  results: Record<string, [number | null, number | null]>;
}

export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const shard = m ? { index: Number(m[1]), count: Number(m[2]) } : null;
  if (!shard || shard.count < 1 || shard.index >= shard.count) throw new Error(`shard: expected i/n with 0 <= i < n, got "${text}"`);
  return shard;
}

/** Point indices in evaluation order: every 2^k-th row and column first (coarsest k), then finer. */
export function coarseToFine(nx: number, ny: number): number[] {
  const order: number[] = [];
  const seen = new Uint8Array(nx * ny);
  for (let step = 2 ** Math.floor(Math.log2(Math.max(nx, ny, 1))); step >= 1; step /= 2) {
    for (let iy = 0; iy < ny; iy += ny === 1 ? 1 : step) {
      for (let ix = 0; ix < nx; ix += step) {
        const i = iy * nx + ix;
        if (!seen[i]) {
          seen[i] = 1;
          order.push(i);
        }
      }
    }
  }
  return order;
}

/** This shard's points, in coarse-to-fine order: index i belongs to shard i mod n. */
export function shardIndices(nx: number, ny: number, shard: Shard): number[] {
  return coarseToFine(nx, ny).filter((i) => i % shard.count === shard.index);
}

const finiteOrNull = (v: number) => (Number.isFinite(v) ? v : null);

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

export function readPartial(file: string): PartialFile {
  let p: PartialFile;
  try {
    p = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not a readable partial landscape file (${(e as Error).message})`);
  }
  if (p.format !== 'losscape-partial/1' || typeof p.fingerprint !== 'string' || !p.results) throw new Error(`${file}: not a losscape partial landscape file`);
  return p;
}

export interface LandscapeRun {
  x: number[];
  y: number[] | null;
  fingerprint: string;
  provenance: Record<string, unknown>;
  shard?: Shard;
  /** points evaluated per call of `evaluate` (and per save) */
  chunk: number;
  /** evaluates points given as (x, y) coordinates, in order */
  evaluate: (points: Array<[number, number]>) => Promise<PointResult[]>;
  /** saved after every chunk; with resume, results already there are kept and skipped */
  partialFile?: string;
  resume?: boolean;
  /** each chunk's results as they finish (a live view can draw them), with the count done and due */
  onChunk?: (chunk: Array<{ index: number; result: PointResult }>, done: number, total: number) => void;
}

/** Runs (or resumes) a landscape job; returns this shard's partial results. */
export async function runLandscape(run: LandscapeRun): Promise<PartialFile> {
  const nx = run.x.length;
  const ny = run.y?.length ?? 1;
  const shard = run.shard ?? { index: 0, count: 1 };
  let state: PartialFile = { format: 'losscape-partial/1', fingerprint: run.fingerprint, x: run.x, y: run.y, provenance: run.provenance, shard, results: {} };
  if (run.resume && run.partialFile && existsSync(run.partialFile)) {
    const old = readPartial(run.partialFile);
    if (old.fingerprint !== run.fingerprint) {
      throw new Error(`${run.partialFile}: written by a different job (plan, checkpoints, directions or data differ); remove it or drop --resume`);
    }
    if (old.shard.index !== shard.index || old.shard.count !== shard.count) throw new Error(`${run.partialFile}: holds shard ${old.shard.index}/${old.shard.count}, not ${shard.index}/${shard.count}`);
    state = { ...state, results: old.results };
  }
  const todo = shardIndices(nx, ny, shard).filter((i) => !(String(i) in state.results));
  const total = shardIndices(nx, ny, shard).length;
  const coord = (i: number): [number, number] => [run.x[i % nx]!, run.y ? run.y[Math.floor(i / nx)]! : 0];
  for (let c = 0; c < todo.length; c += run.chunk) {
    const indices = todo.slice(c, c + run.chunk);
    const results = await run.evaluate(indices.map(coord));
    indices.forEach((i, k) => (state.results[String(i)] = [finiteOrNull(results[k]!.loss), finiteOrNull(results[k]!.accuracy)]));
    if (run.partialFile) writeAtomic(run.partialFile, JSON.stringify(state));
    run.onChunk?.(indices.map((index, k) => ({ index, result: results[k]! })), Object.keys(state.results).length, total);
  }
  return state;
}

/** Joins partial files of one job (all shards, or a single complete run) into the surface. */
export function mergePartials(parts: PartialFile[], names: string[] = parts.map((_, i) => `part ${i}`)): SurfaceFile {
  const first = parts[0];
  if (!first) throw new Error('merge: no partial files given');
  parts.forEach((p, i) => {
    if (p.fingerprint !== first.fingerprint) throw new Error(`merge: ${names[i]} belongs to another job than ${names[0]}`);
  });
  const nx = first.x.length;
  const ny = first.y?.length ?? 1;
  const results: PointResult[] = [];
  const missing: number[] = [];
  for (let i = 0; i < nx * ny; i++) {
    const hit = parts.find((p) => String(i) in p.results)?.results[String(i)];
    if (!hit) missing.push(i);
    results.push({ loss: hit?.[0] ?? NaN, accuracy: hit?.[1] ?? NaN });
  }
  if (missing.length) {
    const shards = [...new Set(missing.map((i) => i % first.shard.count))];
    throw new Error(`merge: ${missing.length} of ${nx * ny} points missing (shards ${shards.join(', ')} of ${first.shard.count} incomplete or not given)`);
  }
  return buildSurface(first.x, first.y, results, { ...first.provenance, shards: first.shard.count });
}
