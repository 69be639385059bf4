// A figure: one panel per surface, side by side, each with its scale (one scale for all panels
// unless `scale: 'own'`), its mesh, contour lines, checkpoints and labels, laid out in figure
// pixels. Everything here is plain data computed once; the camera (orbit, zoom) is applied when
// drawing (draw.ts, WebGL) and composing the overlay (svg.ts), so the viewer can move it freely.
import { defaultView, orbitCamera, project, toPixels, topCamera, type Mat4, type Rect, type View } from './camera.js';
import { colormap } from './colormap.js';
import { contourLines, type ContourLine } from './contours.js';
import { panelLabels, type PanelLabels } from './labels.js';
import { surfaceMesh, toDisplay, type SurfaceMesh } from './mesh.js';
import { planPath, type PlanPath } from './path.js';
import { computeScale, contourLevels, lossStats, normalize, type Scale } from './scale.js';
import { checkSameGrid, type NamedSurface } from './surface-check.js';

export interface FigureOptions {
  /** '3d' (default): a lit surface; 'contour': a heatmap with contour lines. Lines are always line plots. */
  view?: '3d' | 'contour';
  /** 'shared' (default): one scale for every panel; 'own': each panel its own (and its colour bar) */
  scale?: 'shared' | 'own';
  log?: boolean;
  /** clip losses above this (they take the top colour and height) */
  zmax?: number;
  /** figure size in pixels (default: 480×460 per panel, plus the colour bar) */
  width?: number;
  height?: number;
  /** a d3-scale-chromatic colormap name (default viridis) */
  colormap?: string;
  /** grid lines over the 3-D surface */
  wireframe?: boolean;
  /** contour lines in the contour view (default true) */
  contours?: boolean;
  /** the plan's checkpoints (training path, plane3 points), when the file has them (default true) */
  path?: boolean;
  /** the 3-D camera (degrees; defaults: azimuth -60, elevation 30, zoom 1) */
  azimuth?: number;
  elevation?: number;
  zoom?: number;
  /** panels per row (default: all in one row up to three, else a square-ish grid) */
  columns?: number;
  /**
   * allow surfaces on different grids on one shared scale: for one slice at several distances,
   * each panel's axes stating its own range (by default a shared scale refuses different grids)
   */
  differentGrids?: boolean;
  /** lighting of the 3-D surface: colour × (ambient + diffuse · max(n·l, 0)) */
  ambient?: number;
  diffuse?: number;
}

export interface Panel {
  name: string;
  kind: 'surface' | 'line';
  surface: NamedSurface['surface'];
  scale: Scale;
  stats: { points: number; nonFinite: number; clipped: number };
  labels: PanelLabels;
  /** the panel's whole area, its drawing area (WebGL viewport or line plot frame), its own colour bar */
  cell: Rect;
  plot: Rect;
  colorbar: Rect | null;
  mesh: SurfaceMesh | null;
  contours: ContourLine[];
  path: PlanPath | null;
}

export interface Figure {
  width: number;
  height: number;
  view: '3d' | 'contour';
  colormap: string;
  /** the shared colour bar (null with own scales, or when every panel is a line plot) */
  colorbar: Rect | null;
  shared: boolean;
  panels: Panel[];
  options: Required<Pick<FigureOptions, 'wireframe' | 'ambient' | 'diffuse' | 'path'>>;
  /** the camera the figure starts with */
  initialView: View;
  /** things the reader should know: empty surfaces, unstated slices */
  warnings: string[];
}

const CELL = { w: 480, h: 460 };
const SHARED_BAR = 120;
const OWN_BAR = 96;
const HEADER = 62;

function positive(v: number | undefined, what: string): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= 64 && v <= 16384)) throw new Error(`${what}: expected a whole number of pixels from 64 to 16384, got ${v}`);
}

/** The panel grid and, unless given, the figure's size: about 480×460 pixels a panel, plus colour bars. */
export function figureGrid(surfaces: NamedSurface[], opts: Pick<FigureOptions, 'scale' | 'width' | 'height' | 'columns'> = {}) {
  const n = surfaces.length;
  const cols = opts.columns ? Math.min(n, opts.columns) : n <= 3 ? n : Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  const shared = (opts.scale ?? 'shared') === 'shared';
  const allLines = surfaces.every((s) => s.surface.y === null);
  const barW = allLines || !shared ? 0 : SHARED_BAR;
  const ownW = !shared && !allLines ? OWN_BAR : 0;
  return { cols, rows, barW, width: opts.width ?? cols * (CELL.w + ownW) + barW, height: opts.height ?? rows * CELL.h };
}

/** Checks the options and surfaces and lays the figure out; every error is thrown before any drawing. */
export function planFigure(surfaces: NamedSurface[], opts: FigureOptions = {}): Figure {
  const view = opts.view ?? '3d';
  if (view !== '3d' && view !== 'contour') throw new Error(`--view: expected 3d or contour, got "${view}"`);
  const scaleMode = opts.scale ?? 'shared';
  if (scaleMode !== 'shared' && scaleMode !== 'own') throw new Error(`--scale: expected shared or own, got "${scaleMode}"`);
  const cmap = opts.colormap ?? 'viridis';
  colormap(cmap);
  positive(opts.width, '--width');
  positive(opts.height, '--height');
  if (!surfaces.length) throw new Error('render: no surfaces given');
  const shared = scaleMode === 'shared';
  if (opts.columns !== undefined && !(Number.isInteger(opts.columns) && opts.columns >= 1)) throw new Error(`columns: expected an integer of at least 1, got ${opts.columns}`);
  if (shared && surfaces.length > 1 && !opts.differentGrids) checkSameGrid(surfaces);
  const scaleOpts = { log: opts.log, zmax: opts.zmax };
  const sharedScale = shared ? computeScale(surfaces, scaleOpts) : null;
  const scales = surfaces.map((s) => sharedScale ?? computeScale([s], scaleOpts));

  const { cols, rows, barW, width, height } = figureGrid(surfaces, opts);
  const cellW = (width - barW) / cols;
  const cellH = height / rows;
  const warnings: string[] = [];

  const panels = surfaces.map((s, i): Panel => {
    const scale = scales[i]!;
    const st = lossStats(s, scale.zmax);
    const points = st.finite + st.nonFinite;
    if (st.finite === 0) warnings.push(`${s.name}: all ${points} points are non-finite: drawn empty`);
    const labels = panelLabels(s.surface);
    if (labels.unstated) warnings.push(`${s.name}: ${labels.unstated}`);
    const cell = { x: (i % cols) * cellW, y: Math.floor(i / cols) * cellH, w: cellW, h: cellH };
    const line = s.surface.y === null;
    const ownBar = !shared && !line ? OWN_BAR : 0;
    // margins: ticks and axis names left and below for flat plots; the 3-D box carries its own
    const [left, bottom] = line || view === 'contour' ? [62, 62] : [16, 34];
    const avail = { x: cell.x + left, y: cell.y + HEADER, w: cell.w - left - ownBar - 16, h: cell.h - HEADER - bottom };
    const side = Math.max(16, Math.min(avail.w, avail.h));
    const plot = line
      ? { x: Math.round(avail.x), y: Math.round(avail.y), w: Math.round(avail.w), h: Math.round(Math.min(avail.h, avail.w * 0.75)) }
      : { x: Math.round(avail.x + (avail.w - side) / 2), y: Math.round(avail.y + (avail.h - side) / 2), w: Math.round(side), h: Math.round(side) };
    const flat = view === 'contour';
    const levels = !line && flat && opts.contours !== false ? contourLevels(scale) : [];
    return {
      name: s.name,
      kind: line ? 'line' : 'surface',
      surface: s.surface,
      scale,
      stats: { points, nonFinite: st.nonFinite, clipped: st.clipped },
      labels,
      cell,
      plot,
      colorbar: ownBar ? { x: cell.x + cell.w - ownBar + 8, y: plot.y + plot.h * 0.1, w: 14, h: plot.h * 0.8 } : null,
      mesh: line ? null : surfaceMesh(s.surface, scale, flat),
      contours: contourLines(s.surface, scale, levels),
      path: opts.path === false ? null : planPath(s.surface),
    };
  });
  return {
    width,
    height,
    view,
    colormap: cmap,
    colorbar: barW ? { x: width - barW + 16, y: height * 0.2, w: 16, h: height * 0.6 } : null,
    shared,
    panels,
    options: { wireframe: opts.wireframe ?? false, ambient: opts.ambient ?? 0.55, diffuse: opts.diffuse ?? 0.45, path: opts.path ?? true },
    initialView: { azimuth: opts.azimuth ?? defaultView.azimuth, elevation: opts.elevation ?? defaultView.elevation, zoom: opts.zoom ?? defaultView.zoom },
    warnings,
  };
}

/** The camera of a panel: the orbit for 3-D panels, straight down for contour panels. */
export function panelCamera(fig: Figure, panel: Panel, view: View): Mat4 {
  return fig.view === '3d' ? orbitCamera(view, panel.plot.w / panel.plot.h) : topCamera();
}

/** Figure pixels of a display-space point seen through the panel's camera (null behind the eye). */
export function panelPixels(fig: Figure, p: Panel, view: View): (xyz: ArrayLike<number>) => [number, number] | null {
  const cam = panelCamera(fig, p, view);
  return (xyz) => {
    const ndc = project(cam, xyz);
    return ndc ? toPixels(ndc, p.plot) : null;
  };
}

/** Where grid point (ix, iy) of a panel is drawn, in figure pixels (null for a gap or behind the eye). */
export function pointPixel(fig: Figure, panel: number, view: View, ix: number, iy: number): [number, number] | null {
  const p = fig.panels[panel]!;
  const s = p.surface;
  if (p.kind === 'line') {
    const t = normalize(p.scale, s.loss[0]![ix]!);
    return t === null ? null : [p.plot.x + ((toDisplay(s.x, s.x[ix]!) + 1) / 2) * p.plot.w, p.plot.y + (1 - t) * p.plot.h];
  }
  const i = iy * s.x.length + ix;
  return p.mesh!.valid[i] ? panelPixels(fig, p, view)(p.mesh!.positions.subarray(3 * i, 3 * i + 3)) : null;
}
