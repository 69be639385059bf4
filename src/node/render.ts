// Figures as PNG files in Node: the figure's WebGL part drawn by the same regl commands as in a page
// on a headless context, read back, the SVG overlay rasterized by resvg and laid over it, the whole
// supersampled and box-filtered down, encoded by pngjs.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import { PNG } from 'pngjs';
import createREGL from 'regl';
import type { SurfaceFile } from '../landscape/surface.js';
import { BACKGROUND, createFigureRenderer } from '../render/draw.js';
import { planFigure, type Figure, type FigureOptions } from '../render/figure.js';
import { checkSurface, parseSurface, type NamedSurface } from '../render/surface-check.js';
import { figureSvg } from '../render/svg.js';
import { createHeadlessGL, destroyHeadlessGL } from './display.js';

export interface RenderOptions extends FigureOptions {
  /** draw at this many times the size and average down (anti-aliasing; default 2) */
  supersample?: number;
  /** called with each warning (all-NaN surfaces, unstated slices); default: printed to stderr */
  warn?: (message: string) => void;
}

/** Reads and checks a surface file, named by its base name; errors name the path. */
export function readSurfaceFile(file: string): NamedSurface {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return { name: path.basename(file), surface: parseSurface(text, file) };
}

/** Surfaces given as objects or named objects, checked, named "surface 1", ... when unnamed. */
export function namedSurfaces(surfaces: Array<NamedSurface | SurfaceFile>): NamedSurface[] {
  return surfaces.map((s, i) => {
    const named = 'surface' in s && 'name' in s ? s : { name: `surface ${i + 1}`, surface: s };
    return { name: named.name, surface: checkSurface(named.surface, named.name) };
  });
}

/** RGBA pixels of the figure's WebGL part at `ss` times its size, top row first. */
async function drawGL(fig: Figure, ss: number): Promise<Uint8Array> {
  const [w, h] = [fig.width * ss, fig.height * ss];
  if (!fig.panels.some((p) => p.mesh && p.mesh.triangles.length)) {
    const out = new Uint8Array(4 * w * h);
    for (let i = 0; i < out.length; i += 4) out.set([...BACKGROUND, 255], i);
    return out;
  }
  const gl = await createHeadlessGL(w, h);
  const regl = createREGL({ gl, extensions: ['OES_element_index_uint'] });
  try {
    const renderer = createFigureRenderer(regl);
    renderer.draw(fig, fig.initialView, ss);
    const bottomUp = regl.read({ x: 0, y: 0, width: w, height: h });
    renderer.destroy();
    const out = new Uint8Array(bottomUp.length);
    const row = 4 * w;
    for (let y = 0; y < h; y++) out.set(bottomUp.subarray((h - 1 - y) * row, (h - y) * row), y * row);
    return out;
  } finally {
    regl.destroy();
    destroyHeadlessGL(gl);
  }
}

/** The overlay over the image (resvg's pixels are premultiplied), then a box filter down by ss. */
function compose(base: Uint8Array, overlay: Uint8Array, w: number, h: number, ss: number): PNG {
  const png = new PNG({ width: w, height: h });
  const W = w * ss;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const acc = [0, 0, 0];
      for (let dy = 0; dy < ss; dy++) {
        for (let dx = 0; dx < ss; dx++) {
          const i = 4 * ((y * ss + dy) * W + x * ss + dx);
          const keep = 1 - overlay[i + 3]! / 255;
          for (let c = 0; c < 3; c++) acc[c] += overlay[i + c]! + base[i + c]! * keep;
        }
      }
      const o = 4 * (y * w + x);
      for (let c = 0; c < 3; c++) png.data[o + c] = Math.round(acc[c]! / (ss * ss));
      png.data[o + 3] = 255;
    }
  }
  return png;
}

/**
 * Renders surfaces to a PNG (bytes): one panel, or a side-by-side grid on one shared scale (the
 * default; `scale: 'own'` gives each panel its own). Surfaces are checked and every option
 * validated before anything is drawn. Needs an X display for the WebGL part (started with Xvfb
 * when DISPLAY is unset) unless every surface is a line.
 */
export async function renderFigure(surfaces: Array<NamedSurface | SurfaceFile>, opts: RenderOptions = {}): Promise<Buffer> {
  const ss = opts.supersample ?? 2;
  if (!(Number.isInteger(ss) && ss >= 1 && ss <= 4)) throw new Error(`supersample: expected 1 to 4, got ${ss}`);
  const fig = planFigure(namedSurfaces(surfaces), opts);
  const warn = opts.warn ?? ((m: string) => console.warn(`losscape: warning: ${m}`));
  fig.warnings.forEach((m) => warn(m));
  const base = await drawGL(fig, ss);
  const overlay = new Resvg(figureSvg(fig, fig.initialView), {
    fitTo: { mode: 'zoom', value: ss },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  }).render();
  if (overlay.width !== fig.width * ss || overlay.height !== fig.height * ss) throw new Error(`resvg: overlay is ${overlay.width}x${overlay.height}, expected ${fig.width * ss}x${fig.height * ss}`);
  return PNG.sync.write(compose(base, overlay.pixels, fig.width, fig.height, ss));
}

/** An SVG (a chart, say) as PNG bytes, at `scale` times its size, text in the system's fonts. */
export function svgToPng(svg: string, scale = 2): Buffer {
  return new Resvg(svg, { fitTo: { mode: 'zoom', value: scale }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
}

/** renderFigure over files (checked, named by base name). */
export async function renderFigureFiles(files: string[], opts: RenderOptions = {}): Promise<Buffer> {
  return renderFigure(files.map(readSurfaceFile), opts);
}
