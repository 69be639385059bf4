// The live page: pick a model and an optimizer, train on the MNIST slice shipped with the page (a
// live loss curve), then evaluate the landscape around the trained weights coarse to fine, drawn by
// the viewer as the points arrive; or map weights from an address (?weights=URL, with the sidecar
// URL.json or &config=URL). Everything runs on the page's WebGPU device in the page's own thread:
// every training step and every chunk of points awaits the GPU, which hands the event loop back, so
// the page stays responsive and Stop takes effect at the next step or chunk. Results (the curve,
// the weights, the points evaluated) are kept when a run stops, fails, or loses its device.
import {
  chartSvg, decodeImageSlice, decodeSafetensors, init, makeSidecar, mergePartials, mountViewer, NORMALIZATION, parseSidecar, prepareLandscape,
  presetConfig, surfaceSoFar, take, train, weightsToBytes,
  type Dataset, type Series, type Engine, type ModelConfig, type PartialFile, type Progress, type SurfaceFile,
} from '../index.js';
import { addStyle } from './style.js';

/** The models the page trains: the presets, the ViT narrower and shallower for a browser. */
export const LIVE_MODELS: Record<string, { label: string; config: ModelConfig; lr: number }> = {
  mlp: { label: 'MLP 784-128-10', config: presetConfig('mlp'), lr: 1e-3 },
  cnn: { label: 'CNN (conv 8, conv 16, 64)', config: presetConfig('cnn'), lr: 3e-3 },
  vit: { label: 'ViT (2 blocks, width 32)', config: { ...(presetConfig('vit-tiny') as Extract<ModelConfig, { kind: 'vit' }>), width: 32, depth: 2, heads: 2 }, lr: 1e-3 },
};

/** What a run does; every field can be set in the address (?model=cnn&epochs=2&steps=21...). */
export interface LiveSettings {
  model: string;
  /** AdamW, or SAM over AdamW (ρ 0.05) */
  optimizer: 'adamw' | 'sam';
  lr: number;
  epochs: number;
  batchSize: number;
  /** training images used of the slice's */
  train: number;
  /** grid points per axis of the landscape (a plane through the weights, filter-normalized random directions) */
  steps: number;
  /** the plane spans [-range, range] along both directions */
  range: number;
  /** test images the landscape is evaluated on */
  samples: number;
  seed: number;
}

const NUMBERS: Record<Exclude<keyof LiveSettings, 'model' | 'optimizer'>, { min: number; max: number; int: boolean; fallback: number }> = {
  lr: { min: 1e-6, max: 1, int: false, fallback: NaN },
  epochs: { min: 1, max: 100, int: true, fallback: 1 },
  batchSize: { min: 1, max: 1024, int: true, fallback: 64 },
  train: { min: 1, max: 60000, int: true, fallback: 3000 },
  steps: { min: 2, max: 101, int: true, fallback: 17 },
  range: { min: 1e-3, max: 100, int: false, fallback: 1 },
  samples: { min: 1, max: 10000, int: true, fallback: 500 },
  seed: { min: 0, max: 2 ** 31 - 1, int: true, fallback: 0 },
};

/** Settings from the address; every bad parameter is named with what it must be. */
export function liveSettings(search: string): LiveSettings {
  const q = new URLSearchParams(search);
  const model = q.get('model') ?? 'mlp';
  if (!(model in LIVE_MODELS)) throw new Error(`?model=${model}: choose ${Object.keys(LIVE_MODELS).join(', ')}`);
  const optimizer = q.get('optimizer') ?? 'adamw';
  if (optimizer !== 'adamw' && optimizer !== 'sam') throw new Error(`?optimizer=${optimizer}: choose adamw or sam`);
  const out = { model, optimizer } as LiveSettings;
  for (const [key, r] of Object.entries(NUMBERS) as Array<[keyof typeof NUMBERS, (typeof NUMBERS)[keyof typeof NUMBERS]]>) {
    const text = q.get(key);
    const v = text === null ? (key === 'lr' ? LIVE_MODELS[model]!.lr : r.fallback) : Number(text);
    if (!(Number.isFinite(v) && v >= r.min && v <= r.max && (!r.int || Number.isInteger(v)))) throw new Error(`?${key}=${text}: expected ${r.int ? 'an integer' : 'a number'} from ${r.min} to ${r.max}`);
    out[key] = v;
  }
  return out;
}

const STYLE = `
.lc-live { padding: 8px 12px; }
.lc-live .lc-controls { display: flex; flex-wrap: wrap; gap: 6px 16px; align-items: center; margin-bottom: 6px; }
.lc-live .lc-controls label { display: inline-flex; gap: 4px; align-items: center; }
.lc-live .lc-controls input[type=number] { width: 6em; }
.lc-live .lc-adapter, .lc-live .lc-status { margin: 4px 0; }
.lc-live[data-state=no-webgpu] .lc-adapter, .lc-live[data-state=error] .lc-status, .lc-live[data-state=lost] .lc-status { color: #b00020; }
.lc-live .lc-downloads a { margin-right: 12px; }
.lc-live .lc-landscape { padding: 0; }
`;

const CONTROLS = `
<div class="lc-controls">
  <label>Model <select name="model"></select></label>
  <label>Optimizer <select name="optimizer"><option value="adamw">AdamW</option><option value="sam">SAM over AdamW</option></select></label>
  <label>lr <input name="lr" type="number" step="any" min="0"></label>
  <label>Epochs <input name="epochs" type="number" min="1" max="100" step="1"></label>
  <label>Grid <input name="steps" type="number" min="2" max="101" step="1"> points a side</label>
  <button type="button" name="train">Train and map</button>
  <button type="button" name="map">Map landscape</button>
  <button type="button" name="stop">Stop</button>
</div>
<p class="lc-adapter">looking for a WebGPU adapter…</p>
<p class="lc-status"></p>
<div class="lc-curve"></div>
<div class="lc-landscape"></div>
<p class="lc-downloads"></p>`;

type State = 'starting' | 'ready' | 'training' | 'mapping' | 'done' | 'stopped' | 'error' | 'lost' | 'no-webgpu';

class Stopped extends Error {}

/** Each pass over the evaluation set is sized to take about this long, so that Stop is answered soon. */
const CHUNK_SECONDS = 0.15;

const NO_WEBGPU = 'This browser has no WebGPU (navigator.gpu is missing): losscape needs Chrome or Edge 113 or later, or another browser with WebGPU enabled. Nothing can run here.';

const baseName = (url: string) => decodeURIComponent(new URL(url).pathname.split('/').pop() || url);
const finite = (v: number) => (Number.isFinite(v) ? v : null);

async function fetchBytes(url: string, what: string): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`${url}: cannot fetch ${what} (${(e as Error).message})`);
  }
  if (!res.ok) throw new Error(`${url}: cannot fetch ${what}: HTTP ${res.status} ${res.statusText}`);
  return new Uint8Array(await res.arrayBuffer());
}

const lostText = (info: GPUDeviceLostInfo) =>
  `The GPU device was lost (${info.reason}${info.message ? `: ${info.message}` : ''}). What was computed is kept; press a button to start again on a new device.`;

/** Mounts the live page into `root`; settings and ?weights= come from `search`, relative to `base`. */
export function mountLive(root: HTMLElement, search = location.search, base = location.href): void {
  addStyle('lc-live-style', STYLE);
  root.classList.add('lc-live');
  root.innerHTML = CONTROLS;
  const $ = <T extends Element>(sel: string) => root.querySelector(sel) as T;
  const field = <T extends HTMLElement>(name: string) => $<T>(`[name="${name}"]`);
  const [adapterLine, statusLine, curveBox, downloads] = [$<HTMLElement>('.lc-adapter'), $<HTMLElement>('.lc-status'), $<HTMLElement>('.lc-curve'), $<HTMLElement>('.lc-downloads')];
  const buttons = { train: field<HTMLButtonElement>('train'), map: field<HTMLButtonElement>('map'), stop: field<HTMLButtonElement>('stop') };
  field<HTMLSelectElement>('model').innerHTML = Object.entries(LIVE_MODELS).map(([k, m]) => `<option value="${k}">${m.label}</option>`).join('');
  const viewer = mountViewer($<HTMLElement>('.lc-landscape'), [], { view: '3d' });

  let engine: Engine | null = null;
  let busy = false;
  let stopping = false;
  let weights: { name: string; bytes: Uint8Array; config: ModelConfig } | null = null;
  let slice: Promise<{ train: Dataset; test: Dataset }> | null = null;
  const curve: Record<'train' | 'test', Array<[number, number]>> = { train: [], test: [] };

  const setState = (state: State, status: string) => {
    root.dataset.state = state;
    statusLine.textContent = status;
    const usable = state !== 'starting' && state !== 'no-webgpu';
    buttons.train.disabled = busy || !usable;
    buttons.map.disabled = busy || !usable || !weights;
    buttons.stop.disabled = !busy;
  };
  const drawCurve = () => {
    const series: Series[] = [
      { label: 'training loss', group: 0, points: curve.train },
      { label: 'test loss (each epoch)', group: 1, points: curve.test, dots: true },
    ];
    curveBox.innerHTML = chartSvg([{ title: 'Loss', xLabel: 'step', yLabel: 'cross-entropy', series }], { width: Math.min(720, Math.max(320, root.clientWidth - 24)), height: 260 });
  };
  /** Download links for results (replacing any of the same name): weights, sidecar, landscape. */
  const offer = (files: Array<{ name: string; bytes: Uint8Array | string; type: string }>) => {
    for (const f of files) {
      const old = downloads.querySelector<HTMLAnchorElement>(`a[download="${f.name}"]`);
      if (old) {
        URL.revokeObjectURL(old.href);
        old.remove();
      }
      const a = document.createElement('a');
      a.href = URL.createObjectURL(new Blob([f.bytes as BlobPart], { type: f.type }));
      a.download = f.name;
      a.textContent = `download ${f.name}`;
      downloads.append(a);
    }
  };
  /** Says so when a device is lost between runs (a run in flight says so itself). */
  const watch = (eng: Engine) =>
    eng.device.lost.then((info) => {
      if (!busy && engine === eng) setState('lost', lostText(info));
    });

  let settings: LiveSettings;
  try {
    settings = liveSettings(search);
  } catch (e) {
    settings = liveSettings('');
    setState('error', (e as Error).message);
  }
  field<HTMLSelectElement>('model').value = settings.model;
  field<HTMLSelectElement>('optimizer').value = settings.optimizer;
  field<HTMLInputElement>('lr').value = String(settings.lr);
  field<HTMLInputElement>('epochs').value = String(settings.epochs);
  field<HTMLInputElement>('steps').value = String(settings.steps);
  field<HTMLSelectElement>('model').addEventListener('change', (ev) => (field<HTMLInputElement>('lr').value = String(LIVE_MODELS[(ev.target as HTMLSelectElement).value]!.lr)));
  /** The address's settings with the form's fields over them. */
  const current = (): LiveSettings => {
    const q = new URLSearchParams(search);
    for (const name of ['model', 'optimizer', 'lr', 'epochs', 'steps']) q.set(name, field<HTMLInputElement>(name).value);
    return liveSettings(q.toString());
  };

  /** Runs one action; stops, failures and a lost device end in a state that says so. */
  const guarded = async (state: State, status: string, action: (e: Engine) => Promise<string>) => {
    if (busy) return;
    busy = true;
    stopping = false;
    setState(state, status);
    let eng: Engine | null = null;
    try {
      eng = await init(); // a new engine if the last one's device was lost
      if (eng !== engine) void watch((engine = eng));
      const done = await action(eng);
      busy = false;
      setState('done', done);
    } catch (e) {
      busy = false;
      if (e instanceof Stopped) return setState('stopped', `Stopped. ${e.message}`);
      // a lost device makes the work in flight fail first; give its lost promise a moment to say why
      const lost = eng && (eng.lost ?? (await Promise.race([eng.device.lost, new Promise<null>((r) => setTimeout(() => r(null), 250))])));
      if (lost) setState('lost', lostText(lost));
      else setState('error', (e as Error).message);
    }
  };

  const data = () => {
    slice ??= fetchBytes(new URL('mnist-slice.bin', base).href, 'the MNIST slice')
      .then((bytes) => decodeImageSlice(bytes, 'mnist-slice.bin', 'mnist-slice', ...NORMALIZATION.mnist))
      .catch((e: unknown) => {
        slice = null;
        throw e;
      });
    return slice;
  };

  const trainRun = async (eng: Engine, s: LiveSettings): Promise<void> => {
    const { train: trainSet, test } = await data();
    const m = LIVE_MODELS[s.model]!;
    curve.train = [];
    curve.test = [];
    drawCurve();
    // the curve shows the mean loss over each interval between progress reports
    let last = { epoch: 0, samples: 0, sum: 0 };
    const onProgress = (p: Progress) => {
      if (p.epoch !== last.epoch) last = { epoch: p.epoch, samples: 0, sum: 0 };
      const sum = p.loss * p.samples;
      curve.train.push([(p.epoch - 1) * p.batches + p.batch, (sum - last.sum) / (p.samples - last.samples)]);
      last = { epoch: p.epoch, samples: p.samples, sum };
      statusLine.textContent = `training ${m.label} with ${s.optimizer === 'sam' ? 'SAM over AdamW' : 'AdamW'}: epoch ${p.epoch} of ${s.epochs}, step ${p.batch} of ${p.batches}, loss ${p.loss.toFixed(4)}, ${p.samplesPerSecond.toFixed(0)} samples/s`;
      drawCurve();
    };
    const result = await train({
      model: m.config, optimizer: s.optimizer, ...(s.optimizer === 'sam' ? { samBase: 'adamw' as const } : {}), lr: s.lr, epochs: s.epochs, batchSize: s.batchSize, seed: s.seed,
      train: take(trainSet, s.train), test, progressEvery: 2, onProgress,
      onEpoch: (e) => {
        curve.test.push([e.step, e.testLoss]);
        drawCurve();
      },
      onStep: async () => {
        await eng.sync(); // one step at a time: the page's event loop runs between steps
        if (stopping) throw new Stopped('The loss curve so far is kept.');
      },
    });
    try {
      const name = `${s.model}-${s.optimizer}.safetensors`;
      weights = { name, bytes: await weightsToBytes(result.model), config: m.config };
      const meta = { optimizer: s.optimizer, lr: s.lr, epochs: s.epochs, batchSize: s.batchSize, seed: s.seed, data: `mnist-slice (${s.train} training images)`, history: result.history };
      offer([
        { name, bytes: weights.bytes, type: 'application/octet-stream' },
        { name: `${name}.json`, bytes: JSON.stringify(makeSidecar(m.config, meta), null, 2), type: 'application/json' },
      ]);
    } finally {
      result.model.dispose();
      result.flat.dispose();
    }
  };

  const mapRun = async (s: LiveSettings): Promise<string> => {
    const w = weights!;
    const { test } = await data();
    const job = await prepareLandscape({
      config: w.config, checkpoints: [{ name: w.name, bytes: w.bytes }], plan: 'plane', steps: s.steps, range: [-s.range, s.range],
      directions: { kind: 'random', seed: s.seed }, data: take(test, s.samples), dataInfo: { dataset: 'mnist-slice', split: 'test' },
      batchSize: Math.min(s.samples, 500),
    });
    try {
      const results: PartialFile['results'] = {};
      let shown = '';
      /** Draws a surface unless the one on screen has the same points (most chunks add none to the finest complete level). */
      const show = (sf: SurfaceFile) => {
        const key = `${sf.x.length}x${sf.y?.length}:${sf.loss.flat().filter((v) => v !== null).length}`;
        if (key === shown) return;
        shown = key;
        viewer.setSurfaces([{ name: w.name, surface: sf }]);
      };
      const partial = await job.run({
        chunkSeconds: CHUNK_SECONDS,
        onChunk: (chunk, done, total) => {
          for (const { index, result } of chunk) results[String(index)] = [finite(result.loss), finite(result.accuracy)];
          show(surfaceSoFar(job.x, job.y, results, job.provenance));
          statusLine.textContent = `landscape of ${w.name}: ${done} of ${total} points (${job.evaluator} evaluator, ${chunk.length} in the last pass)`;
          if (stopping) throw new Stopped(`${done} of ${total} points are kept (drawn at the finest complete level).`);
        },
      });
      const whole = mergePartials([partial]);
      shown = '';
      show(whole);
      offer([{ name: 'landscape.json', bytes: JSON.stringify(whole), type: 'application/json' }]);
      return `landscape of ${w.name}: ${job.points} points, ${(whole.provenance.timings as { pointsPerSecond: number }).pointsPerSecond.toFixed(1)} points/s`;
    } finally {
      job.dispose();
    }
  };

  buttons.train.addEventListener('click', () =>
    guarded('training', 'training…', async (eng) => {
      const s = current();
      await trainRun(eng, s);
      setState('mapping', 'mapping the landscape…');
      return mapRun(s);
    }),
  );
  buttons.map.addEventListener('click', () => guarded('mapping', 'mapping the landscape…', () => mapRun(current())));
  buttons.stop.addEventListener('click', () => (stopping = true));

  // the adapter, and weights named in the address, before anything can start
  void (async () => {
    if (root.dataset.state === 'error') return;
    setState('starting', '');
    if (!(navigator as { gpu?: GPU }).gpu) {
      adapterLine.textContent = NO_WEBGPU;
      return setState('no-webgpu', '');
    }
    try {
      engine = await init();
    } catch (e) {
      adapterLine.textContent = (e as Error).message;
      return setState('no-webgpu', '');
    }
    const a = engine.adapter;
    adapterLine.textContent = `WebGPU adapter: ${[a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' ')}${a.software ? ' (software: slow)' : ''}`;
    void watch(engine);
    const address = new URLSearchParams(search).get('weights');
    if (!address) return setState('ready', 'Pick a model and an optimizer, then Train and map.');
    try {
      const url = new URL(address, base).href;
      const configUrl = new URL(new URLSearchParams(search).get('config') ?? `${address}.json`, base).href;
      const [bytes, side] = await Promise.all([fetchBytes(url, 'weights'), fetchBytes(configUrl, 'the sidecar with the model config')]);
      const sidecar = parseSidecar(new TextDecoder().decode(side), configUrl);
      decodeSafetensors(bytes, url); // a file that is not safetensors is named now, before any work
      weights = { name: baseName(url), bytes, config: sidecar.config };
      setState('ready', `weights ${weights.name} (${sidecar.config.kind}) loaded: Map landscape draws the landscape around them.`);
    } catch (e) {
      setState('error', (e as Error).message);
    }
  })();
}
