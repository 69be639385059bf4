// `losscape demo`: the study a user comes for, in one command. From one seed and one
// initialization it trains a model with AdamW and with SAM (over AdamW, so the ascent step is the
// only difference), evaluates both filter-normalized 2-D landscapes with the same directions' seed,
// and writes a folder with the surfaces, a side-by-side figure on one shared scale (3-D and
// contour), the training curves, a table (test accuracy, loss at the centre, at the grid's edge, a
// basin width) and report.html, which embeds the viewer, the figures and the table.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { chartSvg, type ChartPanel } from '../render/chart.js';
import { basinWidths } from '../sharpness/basin.js';
import { renderFigure, svgToPng } from './render.js';
import { edgeMean, htmlTable, Study, type Column, type PanelResult, type Row, type RunResult, type StudyEvents, type StudySettings } from './study.js';
import { viewerHtml } from './viewer.js';

export type DemoSettings = Omit<StudySettings, 'optimizer' | 'samBase'>;

/** The demo's sizes: about 5 minutes on a 2-core machine with no GPU (software Vulkan). */
export const DEMO_DEFAULTS: DemoSettings = {
  out: 'demo', model: 'cnn', dataset: 'mnist', trainSamples: 12000, testSamples: 2000, epochs: 2, batchSize: 64, lr: 2e-3, rho: 0.05,
  seed: 0, directionSeed: 0, normalization: 'filter', steps: 21, range: 1, samples: 1000, resume: false,
};

/** Tiny sizes for a smoke test: every file is written, in seconds. */
export const DEMO_SMOKE: Partial<DemoSettings> = { trainSamples: 256, testSamples: 128, epochs: 1, steps: 5, samples: 64 };

/** The rise above the centre's loss that bounds the basin (the width column). */
export const WIDTH_DELTA = 0.5;

export const DEMO_COLUMNS: Column[] = [
  { key: 'optimizer', title: 'optimizer', definition: 'AdamW, and SAM over AdamW (the same AdamW, one ρ-ascent step before each update)' },
  { key: 'testAccuracy', title: 'test accuracy', definition: 'accuracy on the test samples after the last epoch', digits: 4 },
  { key: 'testLoss', title: 'test loss', definition: 'mean cross-entropy on the test samples after the last epoch', digits: 4 },
  { key: 'centre', title: 'loss at centre', definition: 'mean cross-entropy at the trained weights (coordinates 0, 0) on the landscape\'s evaluation samples', digits: 4 },
  { key: 'edge', title: 'loss at edge', definition: 'mean cross-entropy over the grid\'s border (filter-normalized distance ±range along d₁ and d₂)', digits: 4 },
  { key: 'edgeMax', title: 'edge max', definition: 'the highest loss on the grid\'s border', digits: 4 },
  { key: 'width', title: `width (Δ=${WIDTH_DELTA})`, definition: `mean basin width along d₁ and d₂: the distance between the two points where the loss first rises ${WIDTH_DELTA} above the centre's, walking out from the centre along each axis (linear interpolation; a side that never rises that far counts as the grid's edge)`, digits: 3 },
];

export interface DemoResult {
  runs: RunResult[];
  panels: PanelResult[];
  columns: Column[];
  rows: Row[];
  files: string[];
}

/** Mean of the two axes' widths, a side beyond the grid counted at the grid's edge. */
export function meanWidth(panel: PanelResult, delta = WIDTH_DELTA): number {
  const b = basinWidths(panel.surface, { delta });
  const edge = (axis: 'x' | 'y', side: 'left' | 'right') => {
    const coords = axis === 'x' ? panel.surface.x : panel.surface.y!;
    return Math.abs(side === 'left' ? coords[0]! : coords.at(-1)!);
  };
  const widths = b.axes.map((a) => (a.left === 'beyond range' ? edge(a.axis, 'left') : a.left) + (a.right === 'beyond range' ? edge(a.axis, 'right') : a.right));
  return widths.reduce((s, w) => s + w, 0) / widths.length;
}

/** Training curves of several runs: loss and accuracy per epoch, train dashed, test solid. */
export function trainingCurves(runs: RunResult[], title: string): string {
  const series = (key: 'Loss' | 'Accuracy') =>
    runs.flatMap((r, i) => [
      { label: `${r.label} train`, group: i, dashed: true, points: r.history.map((h): [number, number] => [h.epoch, h[`train${key}`]]) },
      { label: `${r.label} test`, group: i, points: r.history.map((h): [number, number] => [h.epoch, h[`test${key}`]]) },
    ]);
  const panels: ChartPanel[] = [
    { title: 'Loss', xLabel: 'epoch', yLabel: 'cross-entropy', series: series('Loss') },
    { title: 'Accuracy', xLabel: 'epoch', yLabel: 'accuracy', series: series('Accuracy') },
  ];
  return chartSvg(panels, { title });
}

export async function runDemo(settings: DemoSettings, events: StudyEvents = {}): Promise<DemoResult> {
  const study = new Study({ ...settings, optimizer: 'adamw', samBase: 'adamw' }, events);
  const s = study.s;
  const out = (f: string) => path.join(s.out, f);
  const runs = [await study.train('AdamW', { optimizer: 'adamw' }), await study.train('SAM', { optimizer: 'sam', samBase: 'adamw', rho: s.rho })];
  const panels: PanelResult[] = [];
  for (const r of runs) panels.push(await study.landscape(r.label, { checkpoints: [r.checkpoint] }));
  events.phase?.('figures and report');
  const files: string[] = [];
  const named = panels.map((p) => ({ name: p.label, surface: p.surface }));
  for (const view of ['3d', 'contour'] as const) {
    writeFileSync(out(`landscape-${view}.png`), await renderFigure(named, { view, scale: 'shared' }));
    files.push(out(`landscape-${view}.png`));
  }
  const curves = trainingCurves(runs, `${s.model} on ${s.dataset}: AdamW and SAM (ρ = ${s.rho}) from one initialization`);
  writeFileSync(out('training.svg'), curves);
  writeFileSync(out('training.png'), svgToPng(curves));
  files.push(out('training.png'), out('training.svg'));
  const rows: Row[] = runs.map((r, i) => ({
    optimizer: r.label, testAccuracy: r.final.testAccuracy, testLoss: r.final.testLoss,
    centre: panels[i]!.summary.centre.loss, edge: edgeMean(panels[i]!.surface), edgeMax: panels[i]!.summary.edgeMax, width: meanWidth(panels[i]!),
  }));
  const table = study.writeTable('table', DEMO_COLUMNS, rows, [`landscape: ${s.steps}×${s.steps} plane, ±${s.range} along two random directions (seed ${s.directionSeed}, ${s.normalization}-normalized per model), ${s.samples} test samples per point`]);
  writeFileSync(out('viewer.html'), await viewerHtml(named, {}, 'losscape demo: AdamW and SAM'));
  writeFileSync(out('report.html'), reportHtml(s, runs, panels, DEMO_COLUMNS, rows));
  files.push(table.json, table.md, out('viewer.html'), out('report.html'), ...panels.map((p) => p.file));
  return { runs, panels, columns: DEMO_COLUMNS, rows, files };
}

const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** report.html: the settings, the table, the figures, the viewer (viewer.html in an iframe). */
function reportHtml(s: StudySettings, runs: RunResult[], panels: PanelResult[], columns: Column[], rows: Row[]): string {
  const prov = panels[0]!.surface.provenance as { adapter?: string; evaluator?: string };
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>losscape demo: AdamW and SAM</title>
<style>body{font-family:'DejaVu Sans',Arial,sans-serif;max-width:1100px;margin:2em auto;color:#222;padding:0 1em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}th{background:#f4f4f4}
img{max-width:100%;border:1px solid #eee}iframe{width:100%;height:640px;border:1px solid #ccc}code{background:#f4f4f4;padding:1px 4px}</style></head>
<body>
<h1>AdamW and SAM: two landscapes on one scale</h1>
<p>The ${esc(s.model)} model, trained on the first ${s.trainSamples} ${esc(s.dataset)} training images for ${s.epochs} epoch(s) from one initialization (seed ${s.seed}, batch ${s.batchSize}, learning rate ${s.lr}),
with AdamW and with SAM over AdamW (ρ = ${s.rho}). Each landscape is a ${s.steps}×${s.steps} plane of the test loss (${s.samples} test images) at
θ + α·d₁ + β·d₂ for α, β in [−${s.range}, ${s.range}], directions drawn with seed ${s.directionSeed} and ${esc(s.normalization)}-normalized to each model's weights (Li et al. 2018).
Both panels share one colour scale: the same colour is the same loss.</p>
<h2>Numbers</h2>
${htmlTable(columns, rows)}
<h2>Landscapes</h2>
<img src="landscape-3d.png" alt="3-D landscapes on a shared scale">
<img src="landscape-contour.png" alt="contour maps on a shared scale">
<h2>Explore</h2>
<p>Drag to orbit, scroll to zoom, hover to read the loss; toggles switch contour, log scale and colormap. (<a href="viewer.html">open alone</a>)</p>
<iframe src="viewer.html" title="landscape viewer"></iframe>
<h2>Training</h2>
<img src="training.png" alt="training curves">
<h2>Reproduce</h2>
<p><code>npx losscape demo --model ${esc(s.model)} --epochs ${s.epochs} --steps ${s.steps} --samples ${s.samples} --train-samples ${s.trainSamples} --seed ${s.seed}</code>.
Evaluated with the ${esc(prov.evaluator ?? '?')} evaluator on ${esc(prov.adapter ?? '?')}. Runs: ${runs.map((r) => `<code>${esc(path.relative(s.out, r.checkpoint))}</code>`).join(', ')}; surfaces: ${panels.map((p) => `<a href="${esc(path.relative(s.out, p.file))}">${esc(p.label)}</a>`).join(', ')}.</p>
</body></html>
`;
}
