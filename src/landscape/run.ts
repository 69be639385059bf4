// Long landscape runs: points evaluated chunk by chunk (coarse grid first, then the points between),
// each chunk's results streamed to a callback and saved to a partial file, so that a run killed at
// any moment resumes and loses at most the chunk in flight; deterministic shards (--shard i/n) whose
// partial files `merge` joins into the whole surface (docs/LANDSCAPE.md: Kubernetes and Slurm).
// Where partial results are kept is the caller's: a PartialStore (files in Node: src/node/landscape.ts).
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
  /** evaluation time of the points in `results`, over every session that added to them */
  timings?: { seconds: number; points: number };
}

/** Where a run keeps its partial results between chunks (a file in Node, memory or IndexedDB in a page). */
export interface PartialStore {
  /** what an earlier run saved, or null */
  load(): Promise<PartialFile | null>;
  save(p: PartialFile): Promise<void>;
  /** names it in errors */
  readonly name: string;
}

export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const shard = m ? { index: Number(m[1]), count: Number(m[2]) } : null;
  if (!shard || !Number.isSafeInteger(shard.count) || shard.count < 1 || shard.index >= shard.count) throw new Error(`shard: expected i/n with 0 <= i < n, got "${text}"`);
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

/**
 * A coarse-to-fine run's surface so far, for a live view: the grid of the finest level whose points
 * have all arrived (every 2^k-th row and column of the grid), with the grid's last row and column,
 * which coarse levels miss when steps − 1 is not a power of two; points there not yet evaluated are
 * null (gaps). When every point has arrived it is the whole surface.
 */
export function surfaceSoFar(x: number[], y: number[] | null, results: PartialFile['results'], provenance: Record<string, unknown>): SurfaceFile {
  const nx = x.length;
  const ny = y?.length ?? 1;
  const has = (ix: number, iy: number) => String(iy * nx + ix) in results;
  const multiples = (n: number, step: number) => Array.from({ length: Math.ceil(n / step) }, (_, i) => i * step);
  const along = (n: number, step: number) => [...new Set([...multiples(n, step), n - 1])];
  const complete = (step: number) => multiples(ny, step).every((iy) => multiples(nx, step).every((ix) => has(ix, iy)));
  const top = 2 ** Math.floor(Math.log2(Math.max(nx, ny, 1)));
  let step = 1;
  while (step < top && !complete(step)) step *= 2;
  const xs = along(nx, step);
  const ys = ny === 1 ? [0] : along(ny, step);
  const points = ys.flatMap((iy) => xs.map((ix): PointResult => {
    const r = results[String(iy * nx + ix)];
    return { loss: r?.[0] ?? NaN, accuracy: r?.[1] ?? NaN };
  }));
  const surface = buildSurface(xs.map((i) => x[i]!), y ? ys.map((i) => y[i]!) : null, points, provenance);
  // only evaluated points are non-finite; the others are just not there yet
  surface.nonFinite = surface.nonFinite.filter(([iy, ix]) => has(xs[ix]!, ys[iy]!));
  return surface;
}

/** This shard's points, in coarse-to-fine order: index i belongs to shard i mod n. */
export function shardIndices(nx: number, ny: number, shard: Shard): number[] {
  return coarseToFine(nx, ny).filter((i) => i % shard.count === shard.index);
}

const finiteOrNull = (v: number) => (Number.isFinite(v) ? v : null);

const isCoordList = (v: unknown): v is number[] => Array.isArray(v) && v.length >= 1 && v.every((c) => typeof c === 'number' && Number.isFinite(c));
const isValue = (v: unknown) => v === null || (typeof v === 'number' && Number.isFinite(v));

/** Parses and checks a partial file's text; `name` names it in errors. */
export function parsePartial(text: string, name: string): PartialFile {
  const fail = (why: string) => new Error(`${name}: not a losscape partial landscape file: ${why}`);
  let p: PartialFile;
  try {
    p = JSON.parse(text);
  } catch (e) {
    throw fail(`not JSON (${(e as Error).message})`);
  }
  if (!p || typeof p !== 'object' || p.format !== 'losscape-partial/1') throw fail('"format" is not "losscape-partial/1"');
  if (typeof p.fingerprint !== 'string') throw fail('no "fingerprint"');
  if (!isCoordList(p.x) || !(p.y === null || isCoordList(p.y))) throw fail('"x" and "y" must be lists of numbers (y may be null)');
  const s = p.shard;
  if (!s || !Number.isInteger(s.count) || !Number.isInteger(s.index) || s.count < 1 || s.index < 0 || s.index >= s.count) throw fail('"shard" must be {index, count} with 0 <= index < count');
  if (!p.results || typeof p.results !== 'object' || Array.isArray(p.results)) throw fail('"results" must be an object');
  const points = p.x.length * (p.y?.length ?? 1);
  for (const [key, v] of Object.entries(p.results)) {
    const i = Number(key);
    if (!Number.isInteger(i) || i < 0 || i >= points || String(i) !== key) throw fail(`result key "${key}" is not a point index below ${points}`);
    if (i % s.count !== s.index) throw fail(`result ${key} belongs to shard ${i % s.count}/${s.count}, not ${s.index}/${s.count}`);
    if (!Array.isArray(v) || v.length !== 2 || !isValue(v[0]) || !isValue(v[1])) throw fail(`result ${key} is not [loss, accuracy]`);
  }
  if (!p.provenance || typeof p.provenance !== 'object' || Array.isArray(p.provenance)) throw fail('no "provenance" object');
  const t = p.timings;
  const seconds = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  if (t !== undefined && (!t || typeof t !== 'object' || !seconds(t.seconds) || !seconds(t.points))) throw fail('"timings" must be {seconds, points}, both numbers of at least 0');
  return p;
}

export interface LandscapeRun {
  x: number[];
  y: number[] | null;
  fingerprint: string;
  provenance: Record<string, unknown>;
  shard?: Shard;
  /** points evaluated per call of `evaluate` (and per save); with `chunkSeconds`, the most */
  chunk: number;
  /**
   * a time per chunk to aim at (a page that must answer Stop soon): chunks start at one point and
   * are resized after each to take about this long, up to `chunk` points
   */
  chunkSeconds?: number;
  /** evaluates points given as (x, y) coordinates, in order */
  evaluate: (points: Array<[number, number]>) => Promise<PointResult[]>;
  /** saved after every chunk; with resume, results already there are kept and skipped */
  store?: PartialStore;
  resume?: boolean;
  /** before the first chunk: points already done (resumed) and due in this shard */
  onStart?: (done: number, total: number) => void;
  /** each chunk's results as they finish (a live view can draw them), with the count done and due */
  onChunk?: (chunk: Array<{ index: number; result: PointResult }>, done: number, total: number) => void | Promise<void>;
}

/** Runs (or resumes) a landscape job; returns this shard's partial results. */
export async function runLandscape(run: LandscapeRun): Promise<PartialFile> {
  const nx = run.x.length;
  const ny = run.y?.length ?? 1;
  const shard = run.shard ?? { index: 0, count: 1 };
  let state: PartialFile = { format: 'losscape-partial/1', fingerprint: run.fingerprint, x: run.x, y: run.y, provenance: run.provenance, shard, results: {}, timings: { seconds: 0, points: 0 } };
  const old = run.resume && run.store ? await run.store.load() : null;
  if (old) {
    const where = run.store!.name;
    if (old.fingerprint !== run.fingerprint) {
      throw new Error(`${where}: written by a different job (plan, checkpoints, directions or data differ); remove it or drop --resume`);
    }
    if (old.shard.index !== shard.index || old.shard.count !== shard.count) throw new Error(`${where}: holds shard ${old.shard.index}/${old.shard.count}, not ${shard.index}/${shard.count}`);
    state = { ...state, results: old.results, timings: old.timings ?? { seconds: 0, points: 0 } };
  }
  const mine = shardIndices(nx, ny, shard);
  const todo = mine.filter((i) => !(String(i) in state.results));
  run.onStart?.(mine.length - todo.length, mine.length);
  const coord = (i: number): [number, number] => [run.x[i % nx]!, run.y ? run.y[Math.floor(i / nx)]! : 0];
  let size = run.chunkSeconds ? 1 : run.chunk;
  for (let c = 0; c < todo.length; ) {
    const indices = todo.slice(c, c + size);
    c += indices.length;
    const t0 = performance.now();
    const results = await run.evaluate(indices.map(coord));
    const seconds = (performance.now() - t0) / 1e3;
    if (run.chunkSeconds) size = Math.max(1, Math.min(run.chunk, Math.floor((indices.length * run.chunkSeconds) / Math.max(seconds, 1e-3))));
    const timings = state.timings!;
    timings.seconds += seconds;
    timings.points += indices.length;
    indices.forEach((i, k) => (state.results[String(i)] = [finiteOrNull(results[k]!.loss), finiteOrNull(results[k]!.accuracy)]));
    if (run.store) await run.store.save(state);
    await run.onChunk?.(indices.map((index, k) => ({ index, result: results[k]! })), Object.keys(state.results).length, mine.length);
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
  const seconds = parts.reduce((t, p) => t + (p.timings?.seconds ?? 0), 0);
  const points = parts.reduce((t, p) => t + (p.timings?.points ?? 0), 0);
  const timings = { seconds, pointsPerSecond: seconds > 0 ? points / seconds : null, ...(parts.length > 1 ? { shardSeconds: parts.map((p) => p.timings?.seconds ?? null) } : {}) };
  return buildSurface(first.x, first.y, results, { ...first.provenance, fingerprint: first.fingerprint, shards: first.shard.count, timings });
}
