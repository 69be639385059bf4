// The figure's overlay as SVG: titles stating the slice, axes and ticks, contour lines, the plan's
// checkpoints, legends (non-finite points, clipping), colour bars, and the whole of a line plot.
// It is drawn over the WebGL image: in Node, rasterized by resvg and composed into one PNG; in a
// page, an <svg> element over the canvas. Everything placed in 3-D goes through the panel's camera.
import { scaleLinear } from 'd3-scale';
import type { View } from './camera.js';
import { colormap, cssColor } from './colormap.js';
import { panelPixels, pointPixel, type Figure, type Panel } from './figure.js';
import { short } from './labels.js';
import { toDisplay } from './mesh.js';
import { pathDisplay } from './path.js';
import { normalize, scaleText, scaleTicks, type Scale } from './scale.js';

export const FONT = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';
/** The colour of the plan's checkpoints and path. */
export const PATH_COLOR = '#e4002b';
export const INK = '#222';

export const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
export const f1 = (v: number) => (Math.round(v * 10) / 10).toString();

export function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${f1(x)}" y="${f1(y)}" ${attrs}>${esc(s)}</text>`;
}

export function polyline(points: Array<[number, number]>, attrs: string): string {
  return `<polyline points="${points.map(([x, y]) => `${f1(x)},${f1(y)}`).join(' ')}" fill="none" ${attrs}/>`;
}

/** A fractional grid index to display units (-1 to 1), following the axis' own spacing. */
function indexToDisplay(axis: readonly number[], g: number): number {
  const i = Math.min(Math.floor(g), axis.length - 2);
  return toDisplay(axis, axis[i]! + (g - i) * (axis[i + 1]! - axis[i]!));
}

function colorbar(id: string, bar: { x: number; y: number; w: number; h: number }, scale: Scale, cmap: string, levels: number[], title: string): string {
  const map = colormap(cmap);
  const stops = Array.from({ length: 33 }, (_, i) => `<stop offset="${i / 32}" stop-color="${cssColor(map, i / 32)}"/>`).join('');
  const out = [`<defs><linearGradient id="${id}" x1="0" y1="1" x2="0" y2="0">${stops}</linearGradient></defs>`];
  out.push(`<rect x="${f1(bar.x)}" y="${f1(bar.y)}" width="${bar.w}" height="${f1(bar.h)}" fill="url(#${id})" stroke="${INK}" stroke-width="0.8"/>`);
  const yOf = (t: number) => bar.y + (1 - t) * bar.h;
  for (const level of levels) {
    const y = yOf(normalize(scale, level)!);
    out.push(`<line x1="${f1(bar.x)}" x2="${f1(bar.x + bar.w)}" y1="${f1(y)}" y2="${f1(y)}" stroke="#000" stroke-opacity="0.55"/>`);
  }
  if (!scale.empty) {
    for (const tk of scaleTicks(scale)) {
      const y = yOf(tk.t);
      out.push(`<line x1="${f1(bar.x + bar.w)}" x2="${f1(bar.x + bar.w + 5)}" y1="${f1(y)}" y2="${f1(y)}" stroke="${INK}"/>`);
      out.push(text(bar.x + bar.w + 8, y + 4, tk.label, 'font-size="11"'));
    }
  }
  const tx = bar.x + bar.w + 52;
  const ty = bar.y + bar.h / 2;
  out.push(text(tx, ty, scale.empty ? 'no finite values' : title, `font-size="11" text-anchor="middle" transform="rotate(-90 ${f1(tx)} ${f1(ty)})"`));
  return out.join('');
}

/** Ticks and axis names below and left of a flat plot (contour panels and line plots). */
function flatAxes(p: Panel, yTicks: Array<{ y: number; label: string }>, yName: string): string {
  const { plot } = p;
  const s = p.surface;
  const out: string[] = [`<rect x="${plot.x}" y="${plot.y}" width="${plot.w}" height="${plot.h}" fill="none" stroke="${INK}" stroke-width="0.8"/>`];
  const sx = scaleLinear().domain([s.x[0]!, s.x.at(-1)!]).range([plot.x, plot.x + plot.w]);
  for (const v of sx.ticks(6)) {
    out.push(`<line x1="${f1(sx(v))}" x2="${f1(sx(v))}" y1="${plot.y + plot.h}" y2="${plot.y + plot.h + 5}" stroke="${INK}"/>`);
    out.push(text(sx(v), plot.y + plot.h + 18, short(v), 'font-size="11" text-anchor="middle"'));
  }
  for (const tk of yTicks) {
    out.push(`<line x1="${plot.x - 5}" x2="${plot.x}" y1="${f1(tk.y)}" y2="${f1(tk.y)}" stroke="${INK}"/>`);
    out.push(text(plot.x - 8, tk.y + 4, tk.label, 'font-size="11" text-anchor="end"'));
  }
  out.push(text(plot.x + plot.w / 2, plot.y + plot.h + 36, p.labels.xLabel, 'font-size="12" text-anchor="middle"'));
  const yx = plot.x - 48;
  const yy = plot.y + plot.h / 2;
  out.push(text(yx, yy, yName, `font-size="12" text-anchor="middle" transform="rotate(-90 ${f1(yx)} ${f1(yy)})"`));
  return out.join('');
}

/** The base square of the 3-D box with x and y ticks on the edges nearest the eye, and a loss axis. */
function boxAxes(p: Panel, view: View, px: (xyz: ArrayLike<number>) => [number, number] | null): string {
  const s = p.surface;
  const az = (view.azimuth * Math.PI) / 180;
  const yEdge = Math.sin(az) < 0 ? -1 : 1;
  const xEdge = Math.cos(az) < 0 ? -1 : 1;
  const out: string[] = [];
  const corners = [[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0], [-1, -1, 0]].map(px);
  if (corners.every(Boolean)) out.push(polyline(corners as Array<[number, number]>, `stroke="${INK}" stroke-opacity="0.6" stroke-width="0.8"`));
  const axis = (values: readonly number[], along: 0 | 1, edge: number, name: string) => {
    for (const v of scaleLinear().domain([values[0]!, values.at(-1)!]).ticks(5)) {
      const d = toDisplay(values, v);
      const at = (k: number) => (along === 0 ? [d, edge * k, 0] : [edge * k, d, 0]);
      const [a, b, l] = [px(at(1)), px(at(1.06)), px(at(1.2))];
      if (!a || !b || !l) continue;
      out.push(`<line x1="${f1(a[0])}" y1="${f1(a[1])}" x2="${f1(b[0])}" y2="${f1(b[1])}" stroke="${INK}"/>`);
      out.push(text(l[0], l[1] + 4, short(v), 'font-size="10" text-anchor="middle"'));
    }
    const n = px(along === 0 ? [0, edge * 1.5, 0] : [edge * 1.5, 0, 0]);
    if (n) out.push(text(n[0], n[1] + 4, name, 'font-size="12" text-anchor="middle"'));
  };
  axis(s.x, 0, yEdge, p.labels.xLabel);
  axis(s.y!, 1, xEdge, p.labels.yLabel);
  // the loss axis stands at the base corner on the left of the picture
  const corner = [[-1, -1], [1, -1], [1, 1], [-1, 1]].map(([x, y]) => ({ x: x!, y: y!, at: px([x!, y!, 0]) })).filter((c) => c.at).sort((a, b) => a.at![0] - b.at![0])[0];
  if (corner && !p.scale.empty) {
    const [bottom, top] = [px([corner.x, corner.y, 0]), px([corner.x, corner.y, 1])];
    if (bottom && top) out.push(`<line x1="${f1(bottom[0])}" y1="${f1(bottom[1])}" x2="${f1(top[0])}" y2="${f1(top[1])}" stroke="${INK}" stroke-opacity="0.6"/>`);
    for (const tk of scaleTicks(p.scale, 5)) {
      const a = px([corner.x, corner.y, tk.t]);
      if (!a) continue;
      out.push(`<line x1="${f1(a[0] - 5)}" x2="${f1(a[0])}" y1="${f1(a[1])}" y2="${f1(a[1])}" stroke="${INK}"/>`);
      out.push(text(a[0] - 8, a[1] + 4, tk.label, 'font-size="10" text-anchor="end"'));
    }
  }
  return out.join('');
}

function linePlot(fig: Figure, p: Panel): string {
  const { plot, scale, surface: s } = p;
  const yOf = (t: number) => plot.y + (1 - t) * plot.h;
  const out = [flatAxes(p, scale.empty ? [] : scaleTicks(scale).map((tk) => ({ y: yOf(tk.t), label: tk.label })), scaleText(scale, fig.shared ? fig.panels.length : 1))];
  const runs: Array<Array<[number, number]>> = [[]];
  const panel = fig.panels.indexOf(p);
  s.x.forEach((_, ix) => {
    const at = pointPixel(fig, panel, fig.initialView, ix, 0);
    if (at) runs.at(-1)!.push(at);
    else runs.push([]);
  });
  for (const run of runs.filter((r) => r.length)) {
    out.push(polyline(run, `stroke="${INK}" stroke-width="1.5"`));
    for (const [x, y] of run) out.push(`<circle cx="${f1(x)}" cy="${f1(y)}" r="2" fill="${INK}"/>`);
  }
  return out.join('');
}

function checkpoints(fig: Figure, p: Panel, px: (xyz: ArrayLike<number>) => [number, number] | null): string {
  if (!p.path || !p.mesh) return '';
  const pts = pathDisplay(p.path, p.surface, p.mesh, fig.view === 'contour').map(px);
  const out: string[] = [];
  const drawn = pts.filter(Boolean) as Array<[number, number]>;
  if (p.path.kind === 'path' && drawn.length > 1) {
    out.push(polyline(drawn, 'stroke="#fff" stroke-width="4" stroke-opacity="0.8"'));
    out.push(polyline(drawn, `stroke="${PATH_COLOR}" stroke-width="2"`));
  }
  p.path.points.forEach((pt, i) => {
    const at = pts[i];
    if (!at) return;
    out.push(`<circle cx="${f1(at[0])}" cy="${f1(at[1])}" r="${pt.label ? 4 : 2.5}" fill="${PATH_COLOR}" stroke="#fff" stroke-width="1"/>`);
    if (pt.label) out.push(text(at[0] + 7, at[1] - 6, pt.label, `font-size="11" fill="${PATH_COLOR}" stroke="#fff" stroke-width="3" paint-order="stroke"`));
  });
  return out.join('');
}

/** Text cut to about `width` pixels at `size` (an ellipsis at the end; DejaVu Sans averages 0.56 em a character). */
function fit(s: string, width: number, size: number): string {
  const chars = Math.max(4, Math.floor(width / (0.56 * size)));
  return s.length <= chars ? s : `${s.slice(0, chars - 1).trimEnd()}…`;
}

function panelSvg(fig: Figure, p: Panel, i: number, view: View, id: string): string {
  const { cell, plot, stats } = p;
  // a header line longer than the cell is cut, not run into the next panel (a page shows it whole on hover)
  const header = (y: number, s: string, size: number, attrs: string) => text(cell.x + 12, y, fit(s, cell.w - 24, size), `font-size="${size}"${attrs}`).replace('</text>', `<title>${esc(s)}</title></text>`);
  const out = [
    header(cell.y + 20, p.name, 14, ' font-weight="bold"'),
    header(cell.y + 37, p.labels.slice, 11, p.labels.unstated ? ' fill="#b00020"' : ''),
    header(cell.y + 52, p.labels.source, 11, ' fill="#555"'),
  ];
  const px = panelPixels(fig, p, view);
  if (p.kind === 'line') out.push(linePlot(fig, p));
  else if (fig.view === 'contour') {
    const ys = p.surface.y!;
    const sy = scaleLinear().domain([ys[0]!, ys.at(-1)!]).range([plot.y + plot.h, plot.y]);
    out.push(flatAxes(p, sy.ticks(6).map((v) => ({ y: sy(v), label: short(v) })), p.labels.yLabel));
    out.push(`<clipPath id="${id}-clip${i}"><rect x="${plot.x}" y="${plot.y}" width="${plot.w}" height="${plot.h}"/></clipPath>`);
    const lines: string[] = [];
    for (const c of p.contours) {
      for (const line of c.lines) {
        const pts = line.map(([gx, gy]) => px([indexToDisplay(p.surface.x, gx), indexToDisplay(ys, gy), 0])!);
        lines.push(polyline(pts, 'stroke="#000" stroke-opacity="0.55" stroke-width="1"'));
      }
    }
    out.push(`<g clip-path="url(#${id}-clip${i})">${lines.join('')}${checkpoints(fig, p, px)}</g>`);
  } else {
    out.push(boxAxes(p, view, px));
    out.push(checkpoints(fig, p, px));
  }
  const finite = stats.points - stats.nonFinite;
  if (finite === 0) out.push(text(plot.x + plot.w / 2, plot.y + plot.h / 2, `all ${stats.points} points non-finite: nothing to draw`, 'font-size="13" text-anchor="middle" fill="#b00020"'));
  const legend = [`${stats.points} points`];
  if (stats.nonFinite) legend.push(finite ? `${stats.nonFinite} non-finite (gaps)` : 'all non-finite');
  if (stats.clipped) legend.push(`${stats.clipped} above zmax (clipped)`);
  out.push(text(cell.x + 12, cell.y + cell.h - 8, legend.join(' · '), `font-size="11" fill="${stats.nonFinite ? '#b00020' : '#555'}"`));
  if (p.colorbar) out.push(colorbar(`${id}-bar${i}`, p.colorbar, p.scale, fig.colormap, p.contours.map((c) => c.level), scaleText(p.scale, 1)));
  return out.join('');
}

/** The overlay for the figure seen from `view`: a complete SVG document of the figure's size, transparent. */
export function figureSvg(fig: Figure, view: View, id = 'losscape'): string {
  const parts = fig.panels.map((p, i) => panelSvg(fig, p, i, view, id));
  const surfacePanels = fig.panels.filter((p) => p.kind === 'surface');
  if (fig.colorbar && surfacePanels.length) {
    const first = surfacePanels[0]!;
    parts.push(colorbar(`${id}-bar`, fig.colorbar, first.scale, fig.colormap, first.contours.map((c) => c.level), scaleText(first.scale, fig.panels.length)));
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${fig.width}" height="${fig.height}" viewBox="0 0 ${fig.width} ${fig.height}" font-family="${FONT}" fill="${INK}">${parts.join('')}</svg>`;
}
