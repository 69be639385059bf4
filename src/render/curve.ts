// Training curves as SVG (the live page's loss curve): values against optimizer steps, a polyline
// (or dots) per series on linear axes with d3-scale's ticks, and a legend.
import { scaleLinear } from 'd3-scale';
import { short } from './labels.js';
import { f1, FONT, polyline, text } from './svg.js';

export interface CurveSeries {
  name: string;
  color: string;
  /** [step, value] in order of step */
  points: Array<[number, number]>;
  /** dots instead of a line (a value per epoch) */
  dots?: boolean;
}

export interface CurveOptions {
  width: number;
  height: number;
  xLabel?: string;
  yLabel?: string;
}

const INK = '#222';

/** The series on one pair of axes, as an <svg> element's text. */
export function curveSvg(series: CurveSeries[], o: CurveOptions): string {
  const plot = { x: 56, y: 10, w: o.width - 56 - 12, h: o.height - 10 - 44 };
  const all = series.flatMap((s) => s.points).filter(([, v]) => Number.isFinite(v));
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${o.width}" height="${o.height}" font-family="${FONT}">`];
  out.push(`<rect x="${plot.x}" y="${plot.y}" width="${plot.w}" height="${plot.h}" fill="none" stroke="${INK}" stroke-width="0.8"/>`);
  if (all.length) {
    const sx = scaleLinear().domain([Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]), 1)]).range([plot.x, plot.x + plot.w]);
    const sy = scaleLinear().domain([Math.min(0, ...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))]).nice().range([plot.y + plot.h, plot.y]);
    for (const v of sx.ticks(6).filter(Number.isInteger)) {
      out.push(`<line x1="${f1(sx(v))}" x2="${f1(sx(v))}" y1="${plot.y + plot.h}" y2="${plot.y + plot.h + 5}" stroke="${INK}"/>`);
      out.push(text(sx(v), plot.y + plot.h + 18, short(v), 'font-size="11" text-anchor="middle"'));
    }
    for (const v of sy.ticks(5)) {
      out.push(`<line x1="${plot.x - 5}" x2="${plot.x}" y1="${f1(sy(v))}" y2="${f1(sy(v))}" stroke="${INK}"/>`);
      out.push(text(plot.x - 8, sy(v) + 4, short(v), 'font-size="11" text-anchor="end"'));
    }
    for (const s of series) {
      const pts = s.points.filter(([, v]) => Number.isFinite(v)).map(([x, y]): [number, number] => [sx(x), sy(y)]);
      if (s.dots) for (const [x, y] of pts) out.push(`<circle cx="${f1(x)}" cy="${f1(y)}" r="3" fill="${s.color}"/>`);
      else if (pts.length) out.push(polyline(pts, `stroke="${s.color}" stroke-width="1.5"`));
    }
  }
  series.forEach((s, i) => {
    const x = plot.x + plot.w - 150;
    const y = plot.y + 16 + 16 * i;
    out.push(`<line x1="${x}" x2="${x + 18}" y1="${y - 4}" y2="${y - 4}" stroke="${s.color}" stroke-width="${s.dots ? 6 : 2}" stroke-dasharray="${s.dots ? '6 12' : 'none'}"/>`);
    out.push(text(x + 24, y, s.name, 'font-size="11"'));
  });
  if (o.xLabel) out.push(text(plot.x + plot.w / 2, plot.y + plot.h + 36, o.xLabel, 'font-size="12" text-anchor="middle"'));
  if (o.yLabel) {
    const [yx, yy] = [plot.x - 42, plot.y + plot.h / 2];
    out.push(text(yx, yy, o.yLabel, `font-size="12" text-anchor="middle" transform="rotate(-90 ${f1(yx)} ${f1(yy)})"`));
  }
  out.push('</svg>');
  return out.join('');
}
