// The studies losscape is built for, one command each (`losscape study NAME`):
//   lr         the same initialization trained at several learning rates; final landscapes side by side
//   rho        SAM at several ρ (ρ = 0 reproduces the base optimizer exactly) against the base optimizer
//   evolution  landscapes through training for the base optimizer and SAM, one set of directions (drawn
//              at the shared initialization) and one colour scale in every panel, the edge-of-grid
//              loss against the initialization's loss over time
//   traversal  one model under whole-model, per-layer and per-filter normalization
//   distance   one set of directions at several ranges
// Each writes its surfaces, one figure on a shared scale, a JSON and Markdown table and a
// README-ready summary.md (study.ts has the pieces).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { sha256Hex } from '../nn/checkpoint.js';
import { FlatParameters } from '../nn/flat.js';
import { createModel } from '../nn/models.js';
import { take } from '../nn/data.js';
import { directionToBytes, randomDirection, type Normalization } from '../landscape/directions.js';
import { disposeEvalSet, prepareEvalSet } from '../landscape/evaluate.js';
import { chartSvg } from '../render/chart.js';
import { HessianOperator } from '../sharpness/hvp.js';
import { topEigen } from '../sharpness/lanczos.js';
import { samSharpness } from '../sharpness/metrics.js';
import { loadWeights, readSidecar } from './checkpoint.js';
import { imageDataset } from './data.js';
import { meanWidth, trainingCurves, WIDTH_DELTA } from './demo.js';
import { readBytes, writeAtomic } from './files.js';
import { renderFigure, svgToPng } from './render.js';
import { edgeMean, Study, type Column, type PanelResult, type Row, type RunResult, type StudyEvents, type StudySettings } from './study.js';
import { numberedCheckpoint } from './train.js';

export const STUDIES = ['lr', 'rho', 'evolution', 'traversal', 'distance'] as const;
export type StudyName = (typeof STUDIES)[number];

export interface StudyConfig extends StudySettings {
  /** lr: the learning rates (too small, right, too large) */
  lrs: number[];
  /** rho: SAM's radii, 0 included to check it reproduces the base optimizer */
  rhos: number[];
  /** evolution: a landscape every this many epochs (and at the initialization) */
  every: number;
  /** traversal: the normalizations side by side */
  norms: Normalization[];
  /** distance: the ranges (±r) of the same directions */
  ranges: number[];
  /** ρ of the SAM-sharpness column (every study's final checkpoints) */
  sharpnessRho: number;
  /** the Hessian's top eigenvalue in the tables (Lanczos; costs about 20-60 Hessian-vector products per checkpoint) */
  hessian: boolean;
}

export const STUDY_DEFAULTS: Omit<StudyConfig, 'out'> = {
  model: 'cnn', dataset: 'mnist', trainSamples: 12000, testSamples: 2000, epochs: 2, batchSize: 64, lr: 2e-3, optimizer: 'adamw', samBase: 'adamw', rho: 0.05,
  seed: 0, directionSeed: 0, normalization: 'filter', steps: 21, range: 1, samples: 500, resume: false,
  lrs: [1e-4, 2e-3, 3e-2], rhos: [0, 0.02, 0.05, 0.1], every: 1, norms: ['model', 'layer', 'filter'], ranges: [0.5, 1, 2], sharpnessRho: 0.05, hessian: true,
};

/** Tiny sizes: every study end to end in seconds (the test suite runs these). */
export const STUDY_SMOKE: Partial<StudyConfig> = { model: 'mlp', trainSamples: 256, testSamples: 128, epochs: 1, steps: 5, samples: 64, hessian: true };

export interface StudyResult {
  name: StudyName;
  columns: Column[];
  rows: Row[];
  runs: RunResult[];
  panels: PanelResult[];
  files: string[];
}

/** Numbers at a checkpoint beyond its surface: SAM sharpness and the Hessian's top eigenvalue, on the landscape's samples. */
async function checkpointNumbers(file: string, c: StudyConfig): Promise<Row> {
  const model = createModel(readSidecar(file).config, 0);
  const flat = FlatParameters.of(model);
  loadWeights(model, file);
  const set = prepareEvalSet(take(imageDataset(c.dataset, 'test'), c.samples), Math.min(500, c.samples));
  try {
    const sam = await samSharpness(model, flat, set, { rho: [c.sharpnessRho] });
    const row: Row = { samSharpness: sam.rows[0]!.sharpness };
    if (c.hessian) {
      const eig = await topEigen(new HessianOperator(model, flat, set), { k: 1, allowUnconverged: true });
      eig.vectors.forEach((v) => v.dispose());
      row.lambdaMax = eig.converged[0] ? eig.values[0]! : null;
      row.lambdaResidual = eig.residuals[0]!;
    }
    return row;
  } finally {
    disposeEvalSet(set);
    model.dispose();
    flat.dispose();
  }
}

const COLUMNS: Record<string, Column> = {
  testAccuracy: { key: 'testAccuracy', title: 'test accuracy', definition: 'accuracy on the test samples after the last epoch', digits: 4 },
  testLoss: { key: 'testLoss', title: 'test loss', definition: 'mean cross-entropy on the test samples after the last epoch', digits: 4 },
  centre: { key: 'centre', title: 'loss at centre', definition: 'mean cross-entropy at the checkpoint (coordinates 0, 0) on the landscape\'s samples', digits: 4 },
  edge: { key: 'edge', title: 'loss at edge', definition: 'mean cross-entropy over the grid\'s border', digits: 4 },
  width: { key: 'width', title: `width (Δ=${WIDTH_DELTA})`, definition: `mean basin width along d₁ and d₂: the distance between the points where the loss first rises ${WIDTH_DELTA} above the centre's, walking out along each axis (a side that never rises that far counts as the grid's edge)`, digits: 3 },
};

function sharpnessColumns(c: StudyConfig): Column[] {
  return [
    { key: 'samSharpness', title: `SAM sharpness (ρ=${c.sharpnessRho})`, definition: `L(θ + ρ·g/‖g‖) − L(θ) with ρ = ${c.sharpnessRho}, g the gradient of the mean loss over the landscape's samples (Foret et al. 2021)`, digits: 4 },
    ...(c.hessian ? [{ key: 'lambdaMax', title: 'λ_max', definition: 'the largest eigenvalue of the Hessian of the mean loss over the landscape\'s samples (Lanczos, exact Hessian-vector products; n/a when it did not converge: see lambdaResidual in table.json)', digits: 4 }] : []),
  ];
}

/** A panel's numbers from its surface. */
function surfaceNumbers(p: PanelResult): Row {
  return { centre: p.summary.centre.loss, edge: edgeMean(p.surface), width: p.surface.y ? meanWidth(p) : null };
}

/** Runs a study and writes its outputs. */
export async function runStudy(name: StudyName, c: StudyConfig, events: StudyEvents = {}): Promise<StudyResult> {
  if (!STUDIES.includes(name)) throw new Error(`study: unknown study "${name}"; choose ${STUDIES.join(', ')}`);
  checkStudyConfig(name, c);
  const study = new Study(c, events);
  const base = c.optimizer === 'sam' || c.optimizer === 'asam' ? c.samBase : c.optimizer;
  const baseName = base === 'adamw' ? 'AdamW' : base.toUpperCase();
  const runs: RunResult[] = [];
  const panels: PanelResult[] = [];
  const rows: Row[] = [];
  let columns: Column[];
  let figure: { title: string; columns?: number; differentGrids?: boolean };
  const notes: string[] = [];
  const extraFiles: string[] = [];
  const finalNumbers = async (r: RunResult, p: PanelResult, extra: Row) => {
    events.phase?.(`sharpness ${r.label}`);
    rows.push({ ...extra, testAccuracy: r.final.testAccuracy, testLoss: r.final.testLoss, ...surfaceNumbers(p), ...(await checkpointNumbers(r.checkpoint, c)) });
  };
  switch (name) {
    case 'lr': {
      for (const lr of c.lrs) {
        const r = await study.train(`lr=${lr}`, { optimizer: base, lr });
        runs.push(r);
        const p = await study.landscape(r.label, { checkpoints: [r.checkpoint] });
        panels.push(p);
        await finalNumbers(r, p, { run: r.label, lr });
      }
      columns = [{ key: 'lr', title: 'learning rate', definition: `${baseName}'s learning rate, the only difference between the runs` }, COLUMNS.testAccuracy!, COLUMNS.testLoss!, COLUMNS.centre!, COLUMNS.edge!, COLUMNS.width!, ...sharpnessColumns(c)];
      figure = { title: `${baseName} at ${c.lrs.length} learning rates from one initialization` };
      break;
    }
    case 'rho': {
      const baseRun = await study.train(baseName, { optimizer: base });
      runs.push(baseRun);
      const baseBytes = await sha256Hex(readBytes(baseRun.checkpoint, 'checkpoint'));
      const list: Array<[RunResult, number | null]> = [[baseRun, null]];
      for (const rho of c.rhos) list.push([await study.train(`SAM rho=${rho}`, { optimizer: 'sam', samBase: base === 'adamw' ? 'adamw' : 'sgd', rho }), rho]);
      for (const [r, rho] of list) {
        if (r !== baseRun) runs.push(r);
        const p = await study.landscape(r.label, { checkpoints: [r.checkpoint] });
        panels.push(p);
        const same = rho === 0 ? ((await sha256Hex(readBytes(r.checkpoint, 'checkpoint'))) === baseBytes ? 'yes' : 'NO') : null;
        await finalNumbers(r, p, { run: r.label, rho, sameAsBase: same });
      }
      if (rows.some((r) => r.sameAsBase === 'NO')) notes.push(`SAM with ρ = 0 did NOT reproduce ${baseName}: its final weights differ`);
      columns = [
        { key: 'run', title: 'run', definition: `${baseName}, and SAM over ${baseName} at radius ρ` },
        { key: 'sameAsBase', title: `ρ=0 = ${baseName}`, definition: `for ρ = 0: whether the final weights are bit-identical to ${baseName}'s (sha256 of the checkpoint files)` },
        COLUMNS.testAccuracy!, COLUMNS.centre!, COLUMNS.edge!, COLUMNS.width!, ...sharpnessColumns(c),
      ];
      figure = { title: `${baseName} and SAM at ρ = ${c.rhos.join(', ')}` };
      break;
    }
    case 'evolution': {
      const every = { epochs: c.every };
      const pair = [await study.train(baseName, { optimizer: base, saveEvery: every }), await study.train('SAM', { optimizer: 'sam', samBase: base === 'adamw' ? 'adamw' : 'sgd', rho: c.rho, saveEvery: every })];
      runs.push(...pair);
      // one set of directions for every panel: drawn at the shared initialization, normalized to it
      const dirs = await initialDirections(pair[0]!, c);
      notes.push(`every panel uses the same directions (sha256 ${dirs.sha256.map((h) => h.slice(0, 12)).join(', ')}), drawn with seed ${c.directionSeed} and ${c.normalization}-normalized at the initialization`);
      extraFiles.push(...dirs.files);
      const steps = pair[0]!.history.filter((h) => h.epoch % c.every === 0).map((h) => h.step);
      const points: Record<string, Array<[number, number | null]>> = {};
      let initLoss: number | null = null;
      for (const r of pair) {
        points[r.label] = [];
        for (const step of [0, ...steps]) {
          const p = await study.landscape(`${r.label} step ${step}`, { checkpoints: [numberedCheckpoint(r.dir, step)], directionFiles: dirs.files });
          panels.push(p);
          initLoss ??= p.summary.centre.loss;
          const n = surfaceNumbers(p);
          rows.push({ run: r.label, step, epoch: step === 0 ? 0 : r.history.find((h) => h.step === step)?.epoch ?? null, ...n });
          points[r.label]!.push([step, n.edge as number | null]);
        }
      }
      const chart = chartSvg([{
        title: 'Loss at the grid\'s edge through training', xLabel: 'optimizer step', yLabel: 'mean loss on the border',
        series: pair.map((r, i) => ({ label: r.label, group: i, points: points[r.label]! })),
        ...(initLoss !== null ? { reference: { value: initLoss, label: 'loss at the initialization' } } : {}),
      }], { width: 640 });
      extraFiles.push(...writeChart(c.out, 'edge-loss', chart));
      columns = [
        { key: 'run', title: 'run', definition: `${baseName}, and SAM over ${baseName}` },
        { key: 'step', title: 'step', definition: 'optimizer steps taken at the checkpoint (0: the initialization, the same for both runs)' },
        { key: 'epoch', title: 'epoch', definition: 'epochs completed at the checkpoint' },
        COLUMNS.centre!, COLUMNS.edge!, COLUMNS.width!,
      ];
      figure = { title: `${baseName} (top) and SAM (bottom) through training: one set of directions, one scale`, columns: steps.length + 1 };
      break;
    }
    case 'traversal': {
      const r = await study.train(baseName, { optimizer: base });
      runs.push(r);
      for (const norm of c.norms) {
        const p = await study.landscape(`${norm}-normalized`, { checkpoints: [r.checkpoint], normalization: norm });
        panels.push(p);
        rows.push({ normalization: norm, ...surfaceNumbers(p) });
      }
      columns = [
        { key: 'normalization', title: 'normalization', definition: 'how each random direction is scaled to the weights: model (the whole vector to ‖θ‖), layer (each parameter tensor to its ‖θ‖), filter (each output unit\'s weights to theirs, Li et al. 2018); biases and norm weights fixed' },
        COLUMNS.centre!, COLUMNS.edge!, COLUMNS.width!,
      ];
      figure = { title: `One ${baseName} model, one seed, three normalizations` };
      break;
    }
    case 'distance': {
      const r = await study.train(baseName, { optimizer: base });
      runs.push(r);
      for (const range of c.ranges) {
        const p = await study.landscape(`range ${range}`, { checkpoints: [r.checkpoint], range });
        panels.push(p);
        rows.push({ range, ...surfaceNumbers(p) });
      }
      columns = [{ key: 'range', title: 'range', definition: 'the plane spans −range to range along each (filter-normalized) direction; the directions are the same in every panel' }, COLUMNS.centre!, COLUMNS.edge!, COLUMNS.width!];
      figure = { title: `One ${baseName} model along the same directions at ${c.ranges.length} distances`, differentGrids: true };
      break;
    }
  }
  events.phase?.('figures and tables');
  const named = panels.map((p) => ({ name: p.label, surface: p.surface }));
  const files: string[] = [];
  for (const view of ['3d', 'contour'] as const) {
    const file = path.join(c.out, `figure-${view}.png`);
    writeFileSync(file, await renderFigure(named, { view, scale: 'shared', columns: figure.columns, differentGrids: figure.differentGrids }));
    files.push(file);
  }
  if (name !== 'distance' && name !== 'traversal') files.push(...writeChart(c.out, 'training', trainingCurves(runs, `Training: ${runs.map((r) => r.label).join(', ')}`)));
  const table = study.writeTable('table', columns, rows, [settingsNote(name, c), ...notes]);
  writeFileSync(path.join(c.out, 'summary.md'), summaryMarkdown(name, figure.title, c, table.markdown, files));
  files.push(table.json, table.md, path.join(c.out, 'summary.md'), ...extraFiles, ...panels.map((p) => p.file));
  return { name, columns, rows, runs, panels, files };
}

function writeChart(out: string, name: string, svg: string): string[] {
  const files = [path.join(out, `${name}.svg`), path.join(out, `${name}.png`)];
  writeFileSync(files[0]!, svg);
  writeFileSync(files[1]!, svgToPng(svg));
  return files;
}

/** Random directions drawn and normalized at a run's initialization (step 0), saved once. */
async function initialDirections(run: RunResult, c: StudyConfig): Promise<{ files: string[]; sha256: string[] }> {
  const init = numberedCheckpoint(run.dir, 0);
  const model = createModel(readSidecar(init).config, 0);
  const flat = FlatParameters.of(model);
  loadWeights(model, init);
  const files: string[] = [];
  const sha256: string[] = [];
  try {
    for (const [i, seed] of [c.directionSeed, c.directionSeed + 1].entries()) {
      const d = randomDirection(flat, { seed, normalization: c.normalization });
      const bytes = await directionToBytes(flat, d);
      d.dispose();
      const file = path.join(c.out, `directions.d${i + 1}.safetensors`);
      writeAtomic(file, bytes);
      files.push(file);
      sha256.push(await sha256Hex(bytes));
    }
  } finally {
    model.dispose();
    flat.dispose();
  }
  return { files, sha256 };
}

function settingsNote(name: StudyName, c: StudyConfig): string {
  const range = name === 'distance' ? 'at each row\'s range' : `±${c.range}`;
  const norm = name === 'traversal' ? 'normalized as each row says' : `${c.normalization}-normalized`;
  return `${c.model} on the first ${c.trainSamples} ${c.dataset} training images, ${c.epochs} epoch(s), batch ${c.batchSize}, seed ${c.seed} (the same initialization and data order for every run); landscapes ${c.steps}×${c.steps}, ${range} along two random directions (seed ${c.directionSeed}, ${norm}) on ${c.samples} test images`;
}

function summaryMarkdown(name: StudyName, title: string, c: StudyConfig, table: string, figures: string[]): string {
  const rel = (f: string) => path.relative(c.out, f);
  return `## ${title}\n\n![${name}: landscapes on one scale](${rel(figures[0]!)})\n\n${table}\nReproduce: \`npx losscape study ${name} --model ${c.model} --epochs ${c.epochs} --steps ${c.steps} --samples ${c.samples} --train-samples ${c.trainSamples} --seed ${c.seed}\`\n`;
}

/** Checks a study's configuration before any work. */
export function checkStudyConfig(name: StudyName, c: StudyConfig): void {
  const positive = (what: string, list: number[]) => {
    if (!list.length || list.some((v) => !(Number.isFinite(v) && v > 0))) throw new Error(`${what}: expected a list of numbers above 0, got ${list.join(',')}`);
  };
  if (name === 'lr') positive('--lrs', c.lrs);
  if (name === 'rho') {
    if (!c.rhos.length || c.rhos.some((v) => !(Number.isFinite(v) && v >= 0))) throw new Error(`--rhos: expected a list of numbers of at least 0 (a negative ρ ascends the wrong way), got ${c.rhos.join(',')}`);
  }
  if (name === 'distance') positive('--ranges', c.ranges);
  if (name === 'evolution' && !(Number.isInteger(c.every) && c.every >= 1 && c.every <= c.epochs)) throw new Error(`--every: expected an integer from 1 to --epochs (${c.epochs}), got ${c.every}`);
  if (c.batchSize > c.trainSamples) throw new Error(`--batch-size ${c.batchSize} is more than --train-samples ${c.trainSamples}`);
  if (!(c.sharpnessRho > 0)) throw new Error(`--sharpness-rho: expected a number above 0, got ${c.sharpnessRho}`);
}
