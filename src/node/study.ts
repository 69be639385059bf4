// A study: training runs from one initialization (the same seed: the same initial weights and data
// order), their landscapes evaluated around chosen checkpoints with the same directions' seed, one
// figure on one colour scale, and a table of numbers, written to a folder:
//   runs/LABEL/          each run's checkpoints (resumable: a killed study continues with resume)
//   surfaces/LABEL.json  each panel's surface (plus .csv, .vtk and its directions)
//   figure-3d.png, figure-contour.png   every panel on one shared scale
//   table.json, table.md, summary.md    the numbers, each column defined; summary.md is README-ready
// `losscape demo` and `losscape study NAME` (studies.ts) are built from these pieces.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { take, type Dataset } from '../nn/data.js';
import { presetConfig } from '../nn/models.js';
import { train, type EpochMetrics, type OptimizerName, type Progress, type TrainOptions } from '../nn/train.js';
import type { Normalization } from '../landscape/directions.js';
import type { PlanKind } from '../landscape/job.js';
import { summarizeSurface, type SurfaceFile, type SurfaceSummary } from '../landscape/surface.js';
import { imageDataset, type ImageDatasetName } from './data.js';
import { landscapeFromFiles } from './landscape.js';
import { checkpointDir, CHECKPOINT } from './train.js';

/** What every run and panel of a study shares. */
export interface StudySettings {
  /** the study's folder */
  out: string;
  /** model preset (src/nn/models.ts) */
  model: string;
  dataset: ImageDatasetName;
  /** the first N training samples */
  trainSamples: number;
  /** the first N test samples: per-epoch test metrics */
  testSamples: number;
  epochs: number;
  batchSize: number;
  lr: number;
  optimizer: OptimizerName;
  samBase: 'sgd' | 'adamw';
  rho?: number;
  /** initialization and data order: the same for every run */
  seed: number;
  /** the random directions' seed: the same for every panel */
  directionSeed: number;
  normalization: Normalization;
  /** points per axis */
  steps: number;
  /** coordinates from −range to range along each direction */
  range: number;
  /** test samples each landscape point is evaluated on */
  samples: number;
  /** continue runs and landscapes a killed study left */
  resume: boolean;
}

export interface StudyEvents {
  phase?(text: string): void;
  trainProgress?(label: string, p: Progress): void;
  epoch?(label: string, m: EpochMetrics, epochs: number): void;
  landscapeStart?(label: string, done: number, total: number): void;
  landscapeChunk?(label: string, done: number, total: number): void;
}

export interface RunResult {
  label: string;
  dir: string;
  /** the final checkpoint */
  checkpoint: string;
  history: EpochMetrics[];
  final: EpochMetrics;
}

export interface PanelResult {
  label: string;
  file: string;
  surface: SurfaceFile;
  summary: SurfaceSummary;
}

export interface PanelOptions {
  checkpoints: string[];
  plan?: PlanKind;
  range?: number;
  normalization?: Normalization;
  /** direction files used as given (the same directions for every panel), instead of the seed */
  directionFiles?: string[];
}

/** A column of a study's table, with its definition (written beside the numbers). */
export interface Column {
  key: string;
  title: string;
  definition: string;
  digits?: number;
}

export type Row = Record<string, number | string | null>;

export class Study {
  #data: [Dataset, Dataset] | null = null;

  constructor(readonly s: StudySettings, readonly events: StudyEvents = {}) {
    mkdirSync(s.out, { recursive: true });
  }

  /** The training and test samples, loaded once. */
  data(): [Dataset, Dataset] {
    this.#data ??= [take(imageDataset(this.s.dataset, 'train'), this.s.trainSamples), take(imageDataset(this.s.dataset, 'test'), this.s.testSamples)];
    return this.#data;
  }

  /** Trains one run (from the study's initialization) into runs/LABEL, or continues it with resume. */
  async train(label: string, over: Partial<TrainOptions> = {}): Promise<RunResult> {
    const s = this.s;
    const dir = path.join(s.out, 'runs', label);
    const [trainSet, testSet] = this.data();
    this.events.phase?.(`training ${label}`);
    const epochs = over.epochs ?? s.epochs;
    const r = await train({
      model: presetConfig(s.model), optimizer: s.optimizer, lr: s.lr, epochs, batchSize: s.batchSize, seed: s.seed,
      train: trainSet, test: testSet, store: checkpointDir(dir), resume: s.resume,
      onProgress: (p) => this.events.trainProgress?.(label, p),
      onEpoch: (m) => this.events.epoch?.(label, m, epochs),
      ...over,
    });
    r.model.dispose();
    r.flat.dispose();
    return { label, dir, checkpoint: path.join(dir, CHECKPOINT), history: r.history, final: r.final };
  }

  /** Evaluates one panel's landscape into surfaces/LABEL.{json,csv,vtk}. */
  async landscape(label: string, o: PanelOptions): Promise<PanelResult> {
    const s = this.s;
    const range = o.range ?? s.range;
    const out = path.join(s.out, 'surfaces', label);
    this.events.phase?.(`landscape ${label}`);
    const plan = o.plan ?? 'plane';
    const given = o.directionFiles ? { kind: 'given' as const, files: o.directionFiles } : undefined;
    const r = await landscapeFromFiles({
      checkpoints: o.checkpoints, plan, steps: s.steps, range: plan === 'line' || plan === 'plane' ? [-range, range] : undefined,
      directions: plan === 'line' || plan === 'plane' ? given ?? { kind: 'random', seed: s.directionSeed, normalization: o.normalization ?? s.normalization } : undefined,
      dataset: s.dataset, samples: s.samples, batchSize: Math.min(500, s.samples), out, resume: s.resume,
    }, {
      onStart: (done, total) => this.events.landscapeStart?.(label, done, total),
      onChunk: (_, done, total) => this.events.landscapeChunk?.(label, done, total),
    });
    return { label, file: `${out}.json`, surface: r.surface!, summary: r.summary ?? summarizeSurface(r.surface!) };
  }

  /** Writes the table as JSON (numbers and definitions) and Markdown. */
  writeTable(name: string, columns: Column[], rows: Row[], notes: string[] = []): { json: string; md: string; markdown: string } {
    const json = path.join(this.s.out, `${name}.json`);
    const md = path.join(this.s.out, `${name}.md`);
    writeFileSync(json, `${JSON.stringify({ columns, rows, notes, settings: this.s }, null, 2)}\n`);
    const markdown = markdownTable(columns, rows, notes);
    writeFileSync(md, markdown);
    return { json, md, markdown };
  }
}

/** A table cell: numbers to `digits` significant digits, without trailing zeros (0.0001, not 0.0001000). */
const cell = (v: number | string | null | undefined, digits = 4) =>
  v === null || v === undefined ? 'n/a' : typeof v === 'number' ? String(Number(v.toPrecision(digits))) : v;

/** A Markdown table with the definitions of its columns below it. */
export function markdownTable(columns: Column[], rows: Row[], notes: string[] = []): string {
  const head = `| ${columns.map((c) => c.title).join(' | ')} |`;
  const rule = `| ${columns.map(() => '---').join(' | ')} |`;
  const body = rows.map((r) => `| ${columns.map((c) => cell(r[c.key], c.digits)).join(' | ')} |`);
  const defs = columns.map((c) => `- **${c.title}**: ${c.definition}`);
  return `${[head, rule, ...body].join('\n')}\n\n${[...defs, ...notes.map((n) => `- ${n}`)].join('\n')}\n`;
}

const html = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** An HTML table with the definitions of its columns below it. */
export function htmlTable(columns: Column[], rows: Row[], notes: string[] = []): string {
  const head = columns.map((c) => `<th>${html(c.title)}</th>`).join('');
  const body = rows.map((r) => `<tr>${columns.map((c) => `<td>${html(cell(r[c.key], c.digits))}</td>`).join('')}</tr>`).join('');
  const defs = [...columns.map((c) => `<li><b>${html(c.title)}</b>: ${html(c.definition)}</li>`), ...notes.map((n) => `<li>${html(n)}</li>`)].join('');
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>\n<ul>${defs}</ul>`;
}

/** The same table as plain text columns, for a terminal. */
export function textTable(columns: Column[], rows: Row[]): string {
  const cells = [columns.map((c) => c.title), ...rows.map((r) => columns.map((c) => cell(r[c.key], c.digits)))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return cells.map((row) => row.map((v, i) => v.padEnd(widths[i]!)).join('  ')).join('\n');
}

/** Mean loss over the grid's border (a line: its two ends); null when none is finite. */
export function edgeMean(s: SurfaceFile): number | null {
  const ys = s.y ?? [0];
  const values: number[] = [];
  ys.forEach((_, iy) =>
    s.x.forEach((__, ix) => {
      const edge = ix === 0 || ix === s.x.length - 1 || (s.y !== null && (iy === 0 || iy === ys.length - 1));
      const v = s.loss[iy]![ix];
      if (edge && v !== null && v !== undefined) values.push(v);
    }),
  );
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : null;
}
