// Landscape jobs on files: checkpoints and direction files read from disk, partial results saved to
// OUT.partial.json (or OUT.shard-i-of-n.json) after every chunk, the surface written as OUT.json,
// OUT.csv and OUT.vtk, the random directions beside it (OUT.d1/d2.safetensors, written once).
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { size, take } from '../nn/data.js';
import { decodeSafetensors } from '../nn/safetensors.js';
import { initTuned } from './tune.js';
import { checkLandscapeSpec, prepareLandscape, type DirectionsSpec, type LandscapeJob, type PlanKind } from '../landscape/job.js';
import { mergePartials, parsePartial, type PartialFile, type PartialStore, type LandscapeRun, type Shard } from '../landscape/run.js';
import { summarizeSurface, surfaceCsv, surfaceVtk, type SurfaceFile, type SurfaceSummary } from '../landscape/surface.js';
import { readSidecar } from './checkpoint.js';
import { imageDataset, type ImageDatasetName } from './data.js';
import { readBytes, removeStaleTemporaries, writeAtomic } from './files.js';

export interface LandscapeFileOptions {
  checkpoints: string[];
  plan: PlanKind;
  range?: [number, number];
  yrange?: [number, number];
  steps: number;
  /** random directions, or direction files (safetensors keyed by parameter name) used as given */
  directions?: Exclude<DirectionsSpec, { kind: 'given' }> | { kind: 'given'; files: string[] };
  dataset: ImageDatasetName;
  samples: number;
  batchSize: number;
  evaluator?: 'auto' | 'batched' | 'sequential';
  batchNorm?: 'eval' | 'recalibrate';
  /** training samples for batchNorm 'recalibrate' */
  calibration?: number;
  /** output path without extension */
  out: string;
  chunk?: number;
  shard?: Shard;
  resume?: boolean;
}

export interface LandscapeFileResult {
  job: Pick<LandscapeJob, 'evaluator' | 'warnings' | 'chunk' | 'points' | 'fingerprint'>;
  /** files written */
  files: string[];
  /** a whole run's surface and summary (a shard leaves its partial file instead) */
  surface?: SurfaceFile;
  summary?: SurfaceSummary;
  partial?: PartialFile;
}

export function partialFileStore(file: string): PartialStore {
  return {
    name: file,
    load: async () => (existsSync(file) ? parsePartial(readFileSync(file, 'utf8'), file) : null),
    save: async (p) => writeAtomic(file, JSON.stringify(p)),
  };
}

export function readPartial(file: string): PartialFile {
  return parsePartial(new TextDecoder().decode(readBytes(file, 'partial landscape file')), file);
}

export function writeSurface(out: string, surface: SurfaceFile): string[] {
  const files = [`${out}.json`, `${out}.csv`, `${out}.vtk`];
  writeAtomic(files[0]!, `${JSON.stringify(surface)}\n`);
  writeAtomic(files[1]!, surfaceCsv(surface));
  writeAtomic(files[2]!, surfaceVtk(surface));
  return files;
}

/** Writes a file once: kept when it exists with the same bytes (concurrent shards, resume), refused when they differ unless `replace`. */
function writeOnce(file: string, bytes: Uint8Array, replace: boolean): void {
  if (existsSync(file)) {
    if (Buffer.compare(readFileSync(file), bytes) === 0) return;
    if (!replace) throw new Error(`${file}: exists with other directions (written by another job); remove it or choose another --out`);
  }
  writeAtomic(file, bytes);
}

/** The partial file a run (or shard) of `out` keeps its results in. */
export function partialFileOf(out: string, shard: Shard = { index: 0, count: 1 }): string {
  return shard.count > 1 ? `${out}.shard-${shard.index}-of-${shard.count}.json` : `${out}.partial.json`;
}

/**
 * Checks the options and reads the small inputs (sidecars, checkpoints, direction files, the partial
 * file to resume) before any dataset loads or the GPU starts: every refusal names the option or file.
 */
function readInputs(o: LandscapeFileOptions) {
  const random = o.directions?.kind === 'given' ? undefined : o.directions;
  const given = o.directions?.kind === 'given' ? o.directions.files : null;
  checkLandscapeSpec({ ...o, calibration: undefined, directions: given ? { kind: 'given', inputs: given } : random });
  if (!(Number.isInteger(o.samples) && o.samples >= 1)) throw new Error(`samples: need an integer of at least 1, got ${o.samples}`);
  if (o.batchNorm === 'recalibrate' && !(Number.isInteger(o.calibration ?? 1000) && (o.calibration ?? 1000) >= 1)) throw new Error(`calibration: need an integer of at least 1 training samples, got ${o.calibration}`);
  const sides = o.checkpoints.map((file) => readSidecar(file));
  o.checkpoints.forEach((file, i) => {
    if (JSON.stringify(sides[i]!.config) !== JSON.stringify(sides[0]!.config)) throw new Error(`${file}: another model (${JSON.stringify(sides[i]!.config)}) than ${o.checkpoints[0]} (${JSON.stringify(sides[0]!.config)})`);
  });
  // read and parsed here (a truncated or foreign file is refused now); loaded into the model later
  const parsed = (file: string, what: string) => {
    const bytes = readBytes(file, what);
    decodeSafetensors(bytes, file);
    return { name: file, bytes };
  };
  const checkpoints = o.checkpoints.map((file) => parsed(file, 'checkpoint'));
  const directions: DirectionsSpec | undefined = given ? { kind: 'given', inputs: given.map((f) => parsed(f, 'direction file')) } : random;
  const shard = o.shard ?? { index: 0, count: 1 };
  const partialFile = partialFileOf(o.out, shard);
  const base = path.basename(o.out);
  const ours = new Set([path.basename(partialFile), ...['d1.safetensors', 'd2.safetensors', 'json', 'csv', 'vtk'].map((ext) => `${base}.${ext}`)]);
  removeStaleTemporaries(path.dirname(partialFile), (name) => ours.has(name));
  if (o.resume && existsSync(partialFile)) {
    const old = readPartial(partialFile);
    if (old.shard.index !== shard.index || old.shard.count !== shard.count) throw new Error(`${partialFile}: holds shard ${old.shard.index}/${old.shard.count}, not ${shard.index}/${shard.count}`);
  }
  return { config: sides[0]!.config, checkpoints, directions, shard, partialFile };
}

/** Runs (or resumes, or runs one shard of) a landscape job on files; starts the GPU engine when the inputs pass their checks. */
export async function landscapeFromFiles(
  o: LandscapeFileOptions, events: Pick<LandscapeRun, 'onStart' | 'onChunk'> & { onWarning?: (message: string) => void } = {},
): Promise<LandscapeFileResult> {
  const started = performance.now();
  const { config, checkpoints, directions, shard, partialFile } = readInputs(o);
  const some = (split: 'test' | 'train', n: number, what: string) => {
    const all = imageDataset(o.dataset, split);
    if (n > size(all)) throw new Error(`${what}: ${n} is more than the ${size(all)} ${split} samples of ${o.dataset}`);
    return take(all, n);
  };
  const data = some('test', o.samples, 'samples');
  const calibration = o.batchNorm === 'recalibrate' ? some('train', o.calibration ?? 1000, 'calibration') : undefined;
  await initTuned();
  const job = await prepareLandscape({
    config, checkpoints, plan: o.plan, range: o.range, yrange: o.yrange, steps: o.steps, directions,
    data, dataInfo: { dataset: o.dataset, split: 'test' }, batchSize: o.batchSize, evaluator: o.evaluator, batchNorm: o.batchNorm, calibration, chunk: o.chunk,
  });
  try {
    job.warnings.forEach((w) => events.onWarning?.(w));
    const files: string[] = [];
    // the directions used, saved beside the output, so the surface can be reproduced or compared
    for (const { axis, bytes } of (await job.directionBytes()) ?? []) {
      const file = `${o.out}.${axis}.safetensors`;
      writeOnce(file, bytes, !o.resume && shard.count === 1);
      files.push(file);
    }
    const info = { evaluator: job.evaluator, warnings: job.warnings, chunk: job.chunk, points: job.points, fingerprint: job.fingerprint };
    // a resumed run that had already finished (a requeued job, say) ends with its surface as it is
    const done = o.resume && shard.count === 1 ? finishedSurface(`${o.out}.json`, job.fingerprint) : null;
    if (done) {
      events.onStart?.(job.points, job.points);
      return { job: info, files: [...files, ...['json', 'csv', 'vtk'].map((e) => `${o.out}.${e}`)], surface: done, summary: summarizeSurface(done) };
    }
    const part = await job.run({ shard, store: partialFileStore(partialFile), resume: o.resume, onStart: events.onStart, onChunk: events.onChunk });
    if (shard.count > 1) return { job: info, files: [...files, partialFile], partial: part };
    const surface = mergePartials([part], [partialFile]);
    (surface.provenance.timings as Record<string, unknown>).totalSeconds = (performance.now() - started) / 1e3;
    files.push(...writeSurface(o.out, surface));
    rmSync(partialFile, { force: true });
    return { job: info, files, surface, summary: summarizeSurface(surface) };
  } finally {
    job.dispose();
  }
}

/** The surface a finished run of this job wrote (its provenance holds the fingerprint), or null. */
function finishedSurface(file: string, fingerprint: string): SurfaceFile | null {
  if (!existsSync(file)) return null;
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as SurfaceFile;
    return s.format === 'losscape-surface/1' && s.provenance?.fingerprint === fingerprint ? s : null;
  } catch {
    return null;
  }
}

/** Joins the partial files of a sharded run into OUT.json, OUT.csv and OUT.vtk. */
export function mergeFiles(parts: string[], out: string): { surface: SurfaceFile; files: string[]; summary: SurfaceSummary } {
  const surface = mergePartials(parts.map(readPartial), parts);
  return { surface, files: writeSurface(out, surface), summary: summarizeSurface(surface) };
}
