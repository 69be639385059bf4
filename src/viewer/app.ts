// The viewer: the renderer's figure on a canvas (regl) with its SVG overlay, controls (open files,
// surface/contour, linear/log, shared/own scale, colormap, wireframe), orbit (drag) and zoom
// (wheel) of the 3-D panels, all together, and a readout of the point under the pointer.
// It imports the renderer only, never the GPU engine, so that it stays light enough to embed.
import createREGL from 'regl';
import { defaultView, type View } from '../render/camera.js';
import { colormapNames } from '../render/colormap.js';
import { createFigureRenderer, type FigureRenderer } from '../render/draw.js';
import { figureGrid, planFigure, pointPixel, type Figure, type FigureOptions } from '../render/figure.js';
import { pickPoint, type Picked } from '../render/pick.js';
import type { NamedSurface } from '../render/surface-check.js';
import { figureSvg } from '../render/svg.js';
import { readPickedFiles } from './load.js';
import { addStyle } from './style.js';

export interface Viewer {
  /** shows these surfaces (replacing what was shown) */
  setSurfaces(surfaces: NamedSurface[]): void;
  /** shows an error in the message area */
  showError(e: unknown): void;
  /** the figure on screen (null before any surface, or after an error) */
  readonly figure: Figure | null;
  destroy(): void;
}

const STYLE = `
.lc-viewer { padding: 8px 12px; }
.lc-toolbar { display: flex; flex-wrap: wrap; gap: 6px 16px; align-items: center; margin-bottom: 6px; }
.lc-toolbar label { display: inline-flex; gap: 4px; align-items: center; }
.lc-open input { max-width: 220px; }
.lc-viewer:not(.lc-many) .lc-scale { display: none; }
.lc-readout { display: block; min-height: 1.4em; font-variant-numeric: tabular-nums; margin-bottom: 4px; }
.lc-figure { position: relative; user-select: none; touch-action: none; }
.lc-figure canvas, .lc-overlay { position: absolute; left: 0; top: 0; }
.lc-overlay { pointer-events: none; }
.lc-marker { position: absolute; left: -5px; top: -5px; width: 8px; height: 8px; border: 1px solid #fff; border-radius: 50%; background: #000; pointer-events: none; }
.lc-messages { margin: 4px 0; padding-left: 18px; color: #555; }
.lc-messages .lc-error { color: #b00020; }
`;

const UNIFORM = ['viridis', 'magma', 'inferno', 'plasma', 'cividis', 'turbo'];

const CONTROLS = `
<div class="lc-toolbar">
  <label class="lc-open">Open surface files… <input type="file" name="files" accept=".json,application/json" multiple></label>
  <label>View <select name="view"><option value="3d">surface</option><option value="contour">contour</option></select></label>
  <label><input type="checkbox" name="log"> log scale</label>
  <label class="lc-scale">Scale <select name="scale"><option value="shared">shared</option><option value="own">own</option></select></label>
  <label>Colormap <select name="colormap"></select></label>
  <label><input type="checkbox" name="wireframe"> wireframe</label>
  <button type="button" name="reset">reset view</button>
</div>
<output class="lc-readout">point at a surface to read its values</output>
<div class="lc-figure"><canvas></canvas><div class="lc-overlay"></div><div class="lc-marker" hidden></div></div>
<ul class="lc-messages"></ul>`;

const cameraOf = (o: FigureOptions): Partial<View> =>
  Object.fromEntries((['azimuth', 'elevation', 'zoom'] as const).filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));

const fmt = (v: number | null) => (v === null ? 'non-finite' : String(Number(v.toPrecision(6))));

/** The readout's text for a picked point (also what tests read back). */
export function readoutText(p: Picked): string {
  return `${p.name} · x = ${fmt(p.x)}${p.y === null ? '' : `, y = ${fmt(p.y)}`} · loss = ${fmt(p.loss)} · accuracy = ${fmt(p.accuracy)}`;
}

export function mountViewer(root: HTMLElement, surfaces: NamedSurface[] = [], initial: FigureOptions = {}): Viewer {
  addStyle('lc-viewer-style', STYLE);
  root.classList.add('lc-viewer');
  root.innerHTML = CONTROLS;
  const $ = <T extends Element>(sel: string) => root.querySelector(sel) as T;
  const canvas = $<HTMLCanvasElement>('canvas');
  const box = $<HTMLDivElement>('.lc-figure');
  const overlay = $<HTMLDivElement>('.lc-overlay');
  const marker = $<HTMLDivElement>('.lc-marker');
  const readout = $<HTMLOutputElement>('.lc-readout');
  const messages = $<HTMLUListElement>('.lc-messages');
  const field = <T extends HTMLElement>(name: string) => $<T>(`[name="${name}"]`);
  const colormapSelect = field<HTMLSelectElement>('colormap');
  colormapSelect.innerHTML = [...UNIFORM, ...colormapNames.filter((n) => !UNIFORM.includes(n))].map((n) => `<option>${n}</option>`).join('');

  const options: FigureOptions = { view: '3d', scale: 'shared', log: false, colormap: 'viridis', wireframe: false, ...initial };
  field<HTMLSelectElement>('view').value = options.view!;
  field<HTMLSelectElement>('scale').value = options.scale!;
  field<HTMLInputElement>('log').checked = options.log!;
  colormapSelect.value = options.colormap!;
  field<HTMLInputElement>('wireframe').checked = options.wireframe!;

  const regl = createREGL({ canvas, extensions: ['OES_element_index_uint'], attributes: { antialias: true, preserveDrawingBuffer: true } });
  let renderer: FigureRenderer = createFigureRenderer(regl);
  let figure: Figure | null = null;
  // the camera: the figure's initial one until the user moves it; kept across re-plans
  let view: View = { ...defaultView, ...cameraOf(initial) };
  let frame = 0;

  const say = (lines: string[], error = false) => {
    messages.innerHTML = '';
    for (const l of lines) {
      const li = document.createElement('li');
      li.textContent = l;
      if (error) li.className = 'lc-error';
      messages.append(li);
    }
  };

  const draw = () => {
    frame = 0;
    if (!figure) return;
    renderer.draw(figure, view, devicePixelRatio);
    overlay.innerHTML = figureSvg(figure, view);
  };
  const schedule = () => {
    frame ||= requestAnimationFrame(draw);
  };

  const replan = () => {
    root.classList.toggle('lc-many', surfaces.length > 1);
    if (!surfaces.length) {
      figure = null;
      root.dataset.state = 'empty';
      return;
    }
    try {
      // the figure's own proportions, fitted to the width available and the window's height
      const grid = figureGrid(surfaces, options);
      const top = box.getBoundingClientRect().top + scrollY;
      const pad = getComputedStyle(root);
      let width = Math.max(320, Math.floor(root.clientWidth - parseFloat(pad.paddingLeft) - parseFloat(pad.paddingRight)));
      let height = Math.round((width * grid.height) / grid.width);
      const room = Math.max(300, Math.floor(innerHeight - top - 48));
      if (height > room) [height, width] = [room, Math.max(320, Math.round((room * grid.width) / grid.height))];
      figure = planFigure(surfaces, { ...options, width, height });
    } catch (e) {
      figure = null;
      root.dataset.state = 'error';
      say([(e as Error).message], true);
      return;
    }
    renderer.destroy();
    renderer = createFigureRenderer(regl);
    box.style.width = `${figure.width}px`;
    box.style.height = `${figure.height}px`;
    canvas.style.width = `${figure.width}px`;
    canvas.style.height = `${figure.height}px`;
    canvas.width = Math.round(figure.width * devicePixelRatio);
    canvas.height = Math.round(figure.height * devicePixelRatio);
    say(figure.warnings.map((w) => `warning: ${w}`));
    draw();
    root.dataset.state = 'ready';
  };

  const pointer = (ev: MouseEvent): [number, number] => {
    const r = box.getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  };
  const hover = (ev: MouseEvent) => {
    const picked = figure ? pickPoint(figure, view, ...pointer(ev)) : null;
    const at = picked && figure ? pointPixel(figure, picked.panel, view, picked.ix, picked.iy) : null;
    readout.textContent = picked ? readoutText(picked) : '—';
    marker.hidden = !at;
    if (at) marker.style.transform = `translate(${at[0]}px, ${at[1]}px)`;
  };

  let drag: { x: number; y: number; view: View } | null = null;
  box.addEventListener('pointerdown', (ev) => {
    if (figure?.view !== '3d') return;
    drag = { x: ev.clientX, y: ev.clientY, view };
    box.setPointerCapture(ev.pointerId);
  });
  box.addEventListener('pointermove', (ev) => {
    if (drag) {
      view = { ...drag.view, azimuth: drag.view.azimuth - (ev.clientX - drag.x) * 0.4, elevation: Math.max(-89, Math.min(89, drag.view.elevation + (ev.clientY - drag.y) * 0.4)) };
      schedule();
    }
    hover(ev);
  });
  const endDrag = () => {
    drag = null;
  };
  box.addEventListener('pointerup', endDrag);
  box.addEventListener('pointercancel', endDrag);
  box.addEventListener('pointerleave', () => {
    readout.textContent = '—';
    marker.hidden = true;
  });
  box.addEventListener(
    'wheel',
    (ev) => {
      if (figure?.view !== '3d') return;
      ev.preventDefault();
      view = { ...view, zoom: Math.max(0.3, Math.min(8, view.zoom * Math.exp(-ev.deltaY * 0.0015))) };
      schedule();
    },
    { passive: false },
  );

  const onChange = (name: keyof FigureOptions, read: (el: HTMLInputElement & HTMLSelectElement) => unknown) => {
    const el = field<HTMLInputElement & HTMLSelectElement>(name);
    el.addEventListener('change', () => {
      (options as Record<string, unknown>)[name] = read(el);
      replan();
    });
  };
  onChange('view', (el) => el.value);
  onChange('scale', (el) => el.value);
  onChange('colormap', (el) => el.value);
  onChange('log', (el) => el.checked);
  onChange('wireframe', (el) => el.checked);
  field<HTMLButtonElement>('reset').addEventListener('click', () => {
    view = { ...defaultView, ...cameraOf(options) };
    schedule();
  });
  field<HTMLInputElement>('files').addEventListener('change', async (ev) => {
    const input = ev.target as HTMLInputElement;
    try {
      surfaces = await readPickedFiles(input.files ?? []);
      replan();
    } catch (e) {
      viewer.showError(e);
    }
  });
  const onResize = () => replan();
  addEventListener('resize', onResize);

  const viewer: Viewer = {
    setSurfaces(list) {
      surfaces = list;
      replan();
    },
    showError(e) {
      root.dataset.state = 'error';
      say([(e as Error).message ?? String(e)], true);
    },
    get figure() {
      return figure;
    },
    destroy() {
      removeEventListener('resize', onResize);
      if (frame) cancelAnimationFrame(frame);
      renderer.destroy();
      regl.destroy();
      root.innerHTML = '';
    },
  };
  replan();
  return viewer;
}
