// The value scale of a panel: what loss maps to the bottom and the top of the colormap and of the
// surface's height. Explicit on purpose: linear or log, an optional zmax clip, and one scale for
// every panel of a figure unless asked otherwise, so that two landscapes are never compared on
// colour scales that differ without saying so.
import { scaleLinear, scaleLog } from 'd3-scale';
import type { NamedSurface } from './surface-check.js';

export interface Scale {
  /** the lowest finite loss over the surfaces the scale serves */
  min: number;
  /** the top of the scale: zmax when given, else the highest finite loss */
  max: number;
  log: boolean;
  /** values above it are clipped to it (drawn at the top colour and height) */
  zmax: number | null;
  /** no finite value anywhere: a placeholder domain [0, 1] */
  empty: boolean;
}

export interface ScaleOptions {
  log?: boolean;
  zmax?: number;
}

export interface Tick {
  value: number;
  label: string;
  /** position on the scale, 0 (min) to 1 (max) */
  t: number;
}

/** Finite loss values of a surface, and how many points are null (non-finite) or above zmax. */
export function lossStats(s: NamedSurface, zmax: number | null = null): { min: number; max: number; finite: number; nonFinite: number; clipped: number } {
  let min = Infinity;
  let max = -Infinity;
  let finite = 0;
  let nonFinite = 0;
  let clipped = 0;
  for (const row of s.surface.loss) {
    for (const v of row) {
      if (v === null) {
        nonFinite++;
        continue;
      }
      finite++;
      if (v < min) min = v;
      if (v > max) max = v;
      if (zmax !== null && v > zmax) clipped++;
    }
  }
  return { min, max, finite, nonFinite, clipped };
}

/**
 * One scale for all the given surfaces (call it with one surface for a panel's own scale).
 * Refuses a log scale over a non-positive loss and a zmax that is not above the lowest loss, naming
 * the surface.
 */
export function computeScale(surfaces: NamedSurface[], opts: ScaleOptions = {}): Scale {
  const log = opts.log ?? false;
  const zmax = opts.zmax ?? null;
  if (zmax !== null && !Number.isFinite(zmax)) throw new Error(`--zmax: expected a finite number, got ${zmax}`);
  let min = Infinity;
  let max = -Infinity;
  let lowest = '';
  for (const s of surfaces) {
    const st = lossStats(s);
    if (st.min < min) [min, lowest] = [st.min, s.name];
    max = Math.max(max, st.max);
  }
  if (!Number.isFinite(min)) return { min: log ? 1 : 0, max: log ? 10 : 1, log, zmax, empty: true };
  if (log && min <= 0) throw new Error(`--log needs positive losses: ${lowest} has ${min}`);
  if (zmax !== null && zmax <= min) throw new Error(`--zmax ${zmax} is not above the lowest loss, ${min} in ${lowest}: nothing would be left to draw`);
  return { min, max: zmax ?? max, log, zmax, empty: false };
}

/** Where v sits on the scale, 0 to 1 (clipped at both ends); null stays null (a gap). */
export function normalize(scale: Scale, v: number | null): number | null {
  if (v === null) return null;
  const f = scale.log ? Math.log10 : (a: number) => a;
  const lo = f(scale.min);
  const hi = f(scale.max);
  if (!(hi > lo)) return 0.5;
  return Math.min(1, Math.max(0, (f(Math.min(Math.max(v, scale.min), scale.max)) - lo) / (hi - lo)));
}

function d3Scale(scale: Scale) {
  return scale.log ? scaleLog().domain([scale.min, scale.max]) : scaleLinear().domain([scale.min, scale.max]);
}

/** About `count` round values inside the scale, labelled (d3-scale's ticks and tick format). */
export function scaleTicks(scale: Scale, count = 6): Tick[] {
  if (!(scale.max > scale.min)) return [{ value: scale.min, label: String(scale.min), t: 0.5 }];
  const s = d3Scale(scale);
  // a log scale's format leaves out crowded labels; "~g" rather than its default SI prefixes (500m)
  const format = scale.log ? scaleLog().domain([scale.min, scale.max]).tickFormat(count, '~g') : s.tickFormat(count);
  return s
    .ticks(count)
    .map((value) => ({ value, label: format(value), t: normalize(scale, value)! }))
    .filter((tk) => tk.label !== '');
}

/** Loss values for contour lines: round values strictly inside the scale (d3-scale's ticks). */
export function contourLevels(scale: Scale, count = 10): number[] {
  if (scale.empty || !(scale.max > scale.min)) return [];
  return d3Scale(scale)
    .ticks(count)
    .filter((v) => v > scale.min && v < scale.max);
}

/** A short statement of the scale for the colour bar's title. */
export function scaleText(scale: Scale, shared: number): string {
  const parts = [scale.log ? 'log scale' : 'linear scale'];
  if (shared > 1) parts.push(`shared by ${shared} panels`);
  if (scale.zmax !== null) parts.push(`clipped at ${scale.zmax}`);
  return `loss (${parts.join(', ')})`;
}
