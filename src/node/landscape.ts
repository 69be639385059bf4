// Landscape jobs on files: checkpoints and direction files read from disk, partial results saved to
// OUT.partial.json (or OUT.shard-i-of-n.json) after every chunk, the surface written as OUT.json,
// OUT.csv and OUT.vtk, the random directions beside it (OUT.d1/d2.safetensors, written once).
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { take } from '../nn/data.js';
import { prepareLandscape, type DirectionsSpec, type LandscapeJob, type PlanKind } from '../landscape/job.js';
import { mergePartials, parsePartial, type PartialFile, type PartialStore, type LandscapeRun, type Shard } from '../landscape/run.js';
import { summarizeSurface, surfaceCsv, surfaceVtk, type SurfaceFile, type SurfaceSummary } from '../landscape/surface.js';
import { readSidecar } from './checkpoint.js';
import { imageDataset, type ImageDatasetName } from './data.js';
import { readBytes, writeAtomic } from './files.js';

export interface LandscapeFileOptions {
  checkpoints: string[];
  plan: PlanKind;
  range?: [number, number];
  yrange?: [number, number];
  steps: number;
  /** random directions, or direction files (safetensors keyed by parameter name) used as given */
  directions?: Extract<DirectionsSpec, { kind: 'random' }> | { kind: 'given'; files: string[] };
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

/** Runs (or resumes, or runs one shard of) a landscape job on files. */
export async function landscapeFromFiles(
  o: LandscapeFileOptions, events: Pick<LandscapeRun, 'onStart' | 'onChunk'> & { onWarning?: (message: string) => void } = {},
): Promise<LandscapeFileResult> {
  const started = performance.now();
  const side = readSidecar(o.checkpoints[0]!);
  const checkpoints = o.checkpoints.map((file) => ({ name: file, bytes: readBytes(file, 'checkpoint') }));
  const directions: DirectionsSpec | undefined =
    o.directions?.kind === 'given' ? { kind: 'given', inputs: o.directions.files.map((f) => ({ name: f, bytes: readBytes(f, 'direction file') })) } : o.directions;
  const data = take(imageDataset(o.dataset, 'test'), o.samples);
  const calibration = o.batchNorm === 'recalibrate' ? take(imageDataset(o.dataset, 'train'), o.calibration ?? 1000) : undefined;
  const job = await prepareLandscape({
    config: side.config, checkpoints, plan: o.plan, range: o.range, yrange: o.yrange, steps: o.steps, directions,
    data, dataInfo: { dataset: o.dataset, split: 'test' }, batchSize: o.batchSize, evaluator: o.evaluator, batchNorm: o.batchNorm, calibration, chunk: o.chunk,
  });
  try {
    job.warnings.forEach((w) => events.onWarning?.(w));
    const shard = o.shard ?? { index: 0, count: 1 };
    const files: string[] = [];
    // the directions used, saved beside the output, so the surface can be reproduced or compared
    for (const { axis, bytes } of (await job.directionBytes()) ?? []) {
      const file = `${o.out}.${axis}.safetensors`;
      writeOnce(file, bytes, !o.resume && shard.count === 1);
      files.push(file);
    }
    const partialFile = shard.count > 1 ? `${o.out}.shard-${shard.index}-of-${shard.count}.json` : `${o.out}.partial.json`;
    const part = await job.run({ shard, store: partialFileStore(partialFile), resume: o.resume, onStart: events.onStart, onChunk: events.onChunk });
    const info = { evaluator: job.evaluator, warnings: job.warnings, chunk: job.chunk, points: job.points, fingerprint: job.fingerprint };
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

/** Joins the partial files of a sharded run into OUT.json, OUT.csv and OUT.vtk. */
export function mergeFiles(parts: string[], out: string): { surface: SurfaceFile; files: string[]; summary: SurfaceSummary } {
  const surface = mergePartials(parts.map(readPartial), parts);
  return { surface, files: writeSurface(out, surface), summary: summarizeSurface(surface) };
}
