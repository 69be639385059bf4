// Colormaps by name, from d3-scale-chromatic's interpolators (viridis, magma, inferno, plasma,
// cividis, turbo, ...): the perceptually uniform ones are the default and the recommendation.
import * as chromatic from 'd3-scale-chromatic';

export type Rgb = [number, number, number];

const interpolators = new Map(
  Object.entries(chromatic)
    .filter(([k]) => k.startsWith('interpolate'))
    .map(([k, f]) => [k.slice('interpolate'.length).toLowerCase(), f as (t: number) => string]),
);

/** Every accepted name, lower case (d3-scale-chromatic's interpolator names without the prefix). */
export const colormapNames: readonly string[] = [...interpolators.keys()].sort();

/** "#rrggbb" or "rgb(r, g, b)", the two forms d3-scale-chromatic returns. */
export function parseRgb(text: string): Rgb {
  const hex = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(text);
  if (hex) return [parseInt(hex[1]!, 16), parseInt(hex[2]!, 16), parseInt(hex[3]!, 16)];
  const fn = /^rgb\((\d+),\s*(\d+),\s*(\d+)\)$/.exec(text);
  if (fn) return [Number(fn[1]), Number(fn[2]), Number(fn[3])];
  throw new Error(`colour: cannot read "${text}"`);
}

/** The colormap called `name` (case-insensitive) as t ∈ [0, 1] → [r, g, b] in 0–255. */
export function colormap(name: string): (t: number) => Rgb {
  const f = interpolators.get(name.toLowerCase());
  if (!f) throw new Error(`colormap: unknown "${name}"; choose viridis (default), magma, inferno, plasma, cividis, turbo, or one of ${colormapNames.join(', ')}`);
  return (t) => parseRgb(f(Math.min(1, Math.max(0, t))));
}

/** The colormap sampled at n evenly spaced t (0 and 1 included) as RGBA bytes: a 1-D texture. */
export function colormapTable(name: string, n = 256): Uint8Array {
  const map = colormap(name);
  const out = new Uint8Array(4 * n);
  for (let i = 0; i < n; i++) out.set([...map(i / (n - 1)), 255], 4 * i);
  return out;
}

/** A CSS colour for t on the colormap. */
export function cssColor(map: (t: number) => Rgb, t: number): string {
  return `rgb(${map(t).join(',')})`;
}
