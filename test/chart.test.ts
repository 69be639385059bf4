// Line charts (src/render/chart.ts): the lines follow the data, a missing value breaks a line, and
// the legend sits in a corner the lines do not cross. Random series each run (seed printed).
import { describe, expect, it } from 'vitest';
import { chartSvg, type Series } from '../src/render/chart.js';
import { hostRng, seedNote } from './helpers.js';

const polylines = (svg: string) =>
  [...svg.matchAll(/<polyline points="([^"]+)"/g)].map((m) => m[1]!.split(' ').map((p) => p.split(',').map(Number) as [number, number]));
const legendBox = (svg: string) => {
  const m = svg.match(/<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" fill="#fff" fill-opacity="0.85"/)!;
  return { x: +m[1]!, y: +m[2]!, w: +m[3]!, h: +m[4]! };
};
const plotBox = (svg: string) => {
  const m = svg.match(/<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" fill="none"/)!;
  return { x: +m[1]!, y: +m[2]!, w: +m[3]!, h: +m[4]! };
};
const panel = (series: Series[]) => chartSvg([{ title: 't', xLabel: 'x', yLabel: 'y', series }], { width: 600 });

describe('line charts', () => {
  it('draw each series through its points in order, higher values higher up, breaking at a missing value', () => {
    const rand = hostRng();
    const values = Array.from({ length: 9 }, () => rand() * 10 - 5);
    const svg = panel([{ label: 'a', group: 0, points: values.map((v, i) => [i, i === 4 ? null : v]) }]);
    const lines = polylines(svg);
    expect(lines.map((l) => l.length), seedNote).toEqual([4, 4]);
    const drawn = [...lines[0]!, ...lines[1]!];
    const given = values.filter((_, i) => i !== 4);
    for (let i = 1; i < drawn.length; i++) {
      expect(drawn[i]![0], `x order; ${seedNote}`).toBeGreaterThan(drawn[i - 1]![0]);
      // screen y grows downwards: the larger value is drawn higher (smaller y), within rounding
      if (Math.abs(given[i]! - given[i - 1]!) > 0.05) expect(Math.sign(drawn[i - 1]![1] - drawn[i]![1]), `value order; ${seedNote}`).toBe(Math.sign(given[i]! - given[i - 1]!));
    }
  });

  it('put the legend in a corner the lines leave free', () => {
    const n = 12;
    const falling = (label: string, group: number, off: number): Series => ({ label, group, points: Array.from({ length: n }, (_, i) => [i, 10 - i + off]) });
    const rising = (label: string, group: number, off: number): Series => ({ label, group, points: Array.from({ length: n }, (_, i) => [i, i + off]) });
    const inside = (b: ReturnType<typeof legendBox>, [x, y]: [number, number]) => x >= b.x && x <= b.x + b.w && y >= b.y && y <= b.y + b.h;
    for (const series of [[falling('AdamW', 0, 0), falling('SAM', 1, -1)], [rising('train', 0, 0), rising('test', 0, 0.5)]]) {
      const svg = panel(series);
      const box = legendBox(svg);
      const plot = plotBox(svg);
      for (const line of polylines(svg)) for (const q of line) expect(inside(box, q), `a point of a line under the legend at ${JSON.stringify(box)}`).toBe(false);
      // the falling lines leave the top right free, the rising ones the top left
      const right = box.x + box.w / 2 > plot.x + plot.w / 2;
      expect(right).toBe(series[0]!.label === 'AdamW');
      expect(box.y).toBeLessThan(plot.y + plot.h / 2);
    }
  });
});
