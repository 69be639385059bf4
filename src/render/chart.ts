// Line charts as SVG: several series on shared axes, one panel per quantity (training curves: loss
// and accuracy per epoch for each run; a study's edge loss through training; the live page's loss). Colours from
// d3-scale-chromatic's Tableau10, one per run; a second style per run (dashed) for its second
// series kind (train against test). Pure: rasterized by resvg in Node, or put in a page as is.
import { scaleLinear } from 'd3-scale';
import { schemeTableau10 } from 'd3-scale-chromatic';
import { esc, f1, FONT, INK, polyline, text } from './svg.js';

export interface Series {
  /** legend text */
  label: string;
  /** which colour: series of one run share it */
  group: number;
  dashed?: boolean;
  /** dots instead of a line (e.g. one value per epoch among per-step values) */
  dots?: boolean;
  points: Array<[number, number | null]>;
}

export interface ChartPanel {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** a horizontal reference line, e.g. the loss at initialization */
  reference?: { value: number; label: string };
}

export interface ChartOptions {
  width?: number;
  height?: number;
  title?: string;
}

const MARGIN = { left: 62, right: 16, top: 34, bottom: 46 };

function panelSvg(p: ChartPanel, x0: number, y0: number, w: number, h: number): string {
  const values = p.series.flatMap((s) => s.points.map(([, v]) => v)).filter((v): v is number => v !== null && Number.isFinite(v));
  if (p.reference) values.push(p.reference.value);
  const xs = p.series.flatMap((s) => s.points.map(([x]) => x));
  const plot = { x: x0 + MARGIN.left, y: y0 + MARGIN.top, w: w - MARGIN.left - MARGIN.right, h: h - MARGIN.top - MARGIN.bottom };
  const sx = scaleLinear().domain(xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1]).range([plot.x, plot.x + plot.w]);
  const sy = scaleLinear().domain(values.length ? [Math.min(...values), Math.max(...values)] : [0, 1]).range([plot.y + plot.h, plot.y]).nice();
  if (sx.domain()[0] === sx.domain()[1]) sx.domain([sx.domain()[0]! - 1, sx.domain()[1]! + 1]);
  if (sy.domain()[0] === sy.domain()[1]) sy.domain([sy.domain()[0]! - 1, sy.domain()[1]! + 1]);
  const out = [text(x0 + w / 2, y0 + 20, p.title, 'font-size="14" text-anchor="middle" font-weight="bold"')];
  out.push(`<rect x="${f1(plot.x)}" y="${f1(plot.y)}" width="${f1(plot.w)}" height="${f1(plot.h)}" fill="none" stroke="${INK}" stroke-width="0.8"/>`);
  for (const v of sy.ticks(5)) {
    const y = sy(v);
    out.push(`<line x1="${f1(plot.x)}" x2="${f1(plot.x + plot.w)}" y1="${f1(y)}" y2="${f1(y)}" stroke="#ddd"/>`, text(plot.x - 6, y + 4, sy.tickFormat(5)(v), 'font-size="11" text-anchor="end"'));
  }
  // integer positions (epochs, steps) get integer ticks
  const integral = xs.every(Number.isInteger);
  for (const v of sx.ticks(Math.min(8, Math.max(2, xs.length))).filter((t) => !integral || Number.isInteger(t))) {
    const x = sx(v);
    out.push(`<line x1="${f1(x)}" x2="${f1(x)}" y1="${f1(plot.y + plot.h)}" y2="${f1(plot.y + plot.h + 5)}" stroke="${INK}"/>`, text(x, plot.y + plot.h + 18, integral ? String(v) : sx.tickFormat(8)(v), 'font-size="11" text-anchor="middle"'));
  }
  out.push(text(plot.x + plot.w / 2, y0 + h - 8, p.xLabel, 'font-size="12" text-anchor="middle"'));
  const ly = plot.y + plot.h / 2;
  out.push(text(x0 + 14, ly, p.yLabel, `font-size="12" text-anchor="middle" transform="rotate(-90 ${f1(x0 + 14)} ${f1(ly)})"`));
  if (p.reference) {
    const y = sy(p.reference.value);
    out.push(`<line x1="${f1(plot.x)}" x2="${f1(plot.x + plot.w)}" y1="${f1(y)}" y2="${f1(y)}" stroke="#888" stroke-dasharray="2 3"/>`, text(plot.x + plot.w - 4, y - 4, p.reference.label, 'font-size="10" text-anchor="end" fill="#666"'));
  }
  const legend: string[] = [];
  const box = { w: 36 + 6.5 * Math.max(0, ...p.series.map((s) => s.label.length)), h: 15 * p.series.length + 6 };
  const corner = legendCorner(p, plot, box, (x) => sx(x), (v) => sy(v));
  if (p.series.length) legend.push(`<rect x="${f1(corner.x)}" y="${f1(corner.y)}" width="${f1(box.w)}" height="${f1(box.h)}" fill="#fff" fill-opacity="0.85" stroke="#ccc"/>`);
  p.series.forEach((s, i) => {
    const color = schemeTableau10[s.group % schemeTableau10.length]!;
    // a null (non-finite) value breaks the line
    let run: Array<[number, number]> = [];
    const flush = () => {
      if (s.dots) for (const [x, y] of run) out.push(`<circle cx="${f1(x)}" cy="${f1(y)}" r="3" fill="${color}"/>`);
      else if (run.length > 1) out.push(polyline(run, `stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}`));
      else if (run.length === 1) out.push(`<circle cx="${f1(run[0]![0])}" cy="${f1(run[0]![1])}" r="2.5" fill="${color}"/>`);
      run = [];
    };
    for (const [x, v] of s.points) {
      if (v === null || !Number.isFinite(v)) flush();
      else run.push([sx(x), sy(v)]);
    }
    flush();
    const lx = corner.x + 5;
    const lyy = corner.y + 11 + 15 * i;
    const mark = s.dots
      ? `<circle cx="${f1(lx + 11)}" cy="${f1(lyy - 4)}" r="3" fill="${color}"/>`
      : `<line x1="${f1(lx)}" x2="${f1(lx + 22)}" y1="${f1(lyy - 4)}" y2="${f1(lyy - 4)}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`;
    legend.push(mark, text(lx + 28, lyy, s.label, 'font-size="11"'));
  });
  return [...out, ...legend].join('');
}

type Box = { x: number; y: number; w: number; h: number };

/**
 * Where the legend goes: the plot's corner (top left, top right, bottom left, bottom right, in that
 * order of preference) whose box covers the least of the drawn lines and the reference line.
 */
function legendCorner(p: ChartPanel, plot: Box, box: { w: number; h: number }, sx: (x: number) => number, sy: (v: number) => number): { x: number; y: number } {
  const marks: Array<[number, number]> = [];
  const along = (a: [number, number], b: [number, number]) => {
    for (let t = 0; t <= 16; t++) marks.push([a[0] + ((b[0] - a[0]) * t) / 16, a[1] + ((b[1] - a[1]) * t) / 16]);
  };
  for (const s of p.series) {
    const pts = s.points.filter((q): q is [number, number] => q[1] !== null && Number.isFinite(q[1])).map(([x, v]): [number, number] => [sx(x), sy(v)]);
    pts.forEach((q, i) => (i ? along(pts[i - 1]!, q) : marks.push(q)));
  }
  if (p.reference) along([plot.x, sy(p.reference.value)], [plot.x + plot.w, sy(p.reference.value)]);
  const corners = [
    { x: plot.x + 3, y: plot.y + 3 }, { x: plot.x + plot.w - box.w - 3, y: plot.y + 3 },
    { x: plot.x + 3, y: plot.y + plot.h - box.h - 3 }, { x: plot.x + plot.w - box.w - 3, y: plot.y + plot.h - box.h - 3 },
  ];
  const covered = (c: { x: number; y: number }) => marks.filter(([x, y]) => x >= c.x - 4 && x <= c.x + box.w + 4 && y >= c.y - 4 && y <= c.y + box.h + 4).length;
  return corners.reduce((best, c) => (covered(c) < covered(best) ? c : best));
}

/** Panels side by side, each its own axes. */
export function chartSvg(panels: ChartPanel[], opts: ChartOptions = {}): string {
  const w = opts.width ?? 440 * panels.length;
  const top = opts.title ? 28 : 0;
  const h = opts.height ?? 340 + top;
  const pw = w / Math.max(1, panels.length);
  const body = panels.map((p, i) => panelSvg(p, i * pw, top, pw, h - top)).join('');
  const title = opts.title ? text(w / 2, 20, opts.title, 'font-size="15" text-anchor="middle"') : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="${esc(FONT)}" fill="${INK}"><rect width="${w}" height="${h}" fill="#fff"/>${title}${body}</svg>`;
}
