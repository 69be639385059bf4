// The model cases: a training step (forward, backward, AdamW) of each MNIST preset, and the
// landscape evaluators: losscape's batched and sequential ones against a PyTorch loop that sets the
// parameters and runs the forward one point at a time (bench/torch_landscape.py, as the Python
// landscape tools do), with default threading and with OMP_WAIT_POLICY=PASSIVE. Training steps are
// checked first by the loss and every gradient of a 2-sample batch against the float64 reference
// model (test/model-ref.ts); the evaluators by the batched against the sequential one, and PyTorch's
// losses against losscape's at the same points (within 1e-4, relative).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  AdamW, backward, batchedEvaluator, createModel, crossEntropy, disposeEvalSet, evaluateSequential, FlatParameters, fromArray, gridPoints,
  keep, linspace, prepareEvalSet, presetConfig, randomDirection, take, tidy, type Dataset, type Layer, type ModelConfig, type Tensor,
} from '../src/index.js';
import { saveCheckpoint } from '../src/node/checkpoint.js';
import { mnist, mnistFiles } from '../src/node/data.js';
import { saveDirection } from '../src/node/directions.js';
import { normRelative } from '../test/compare.js';
import * as M from '../test/model-ref.js';
import * as A from '../test/ref-autograd.js';
import * as R from '../test/reference.js';
import { Unavailable, type BenchCase, type Variant } from './suite.js';

const run = promisify(execFile);

let testSet: Dataset | null = null;
const test = () => (testSet ??= mnist('test'));

/** The float64 reference forward of a preset (test/model-ref.ts). */
function referenceForward(config: ModelConfig): (p: M.Params, x: A.V) => A.V {
  switch (config.kind) {
    case 'mlp': return (p, x) => M.mlp(p, x, config.sizes.length - 1);
    case 'cnn': return M.cnn;
    case 'vit': return (p, x) => M.vit(p, x, config);
    default: throw new Error(`no float64 reference for ${config.kind} in training mode`);
  }
}

/** Loss and gradient of a 2-sample batch against the float64 reference model. */
async function checkStep(name: string): Promise<string> {
  const config = presetConfig(name);
  const model = createModel(config, 0) as Layer;
  const flat = FlatParameters.of(model);
  const data = take(test(), 2);
  const [x, y] = [fromArray(data.inputs, [2, ...data.sampleShape]), fromArray(data.labels, [2], 'i32')];
  const loss = tidy(() => {
    const l = crossEntropy(model.forward(x), y);
    backward(l);
    return l;
  });
  const [gpuLoss] = await loss.data();
  const grads = M.pack(await flat.grads.data(), flat);
  const theta = R.ref([grads.length], M.pack(await flat.values.data(), flat));
  const xs = A.leaf(R.ref([2, ...data.sampleShape], data.inputs));
  const f = (t: A.V) => A.crossEntropy(referenceForward(config)(M.unpack(t, flat), xs), [...data.labels]);
  const refLoss = f(A.leaf(theta)).data[0]!;
  const [refGrad] = A.gradients(f, [theta]);
  for (const t of [x, y, loss]) t.dispose();
  model.dispose();
  flat.dispose();
  const [lossErr, gradErr] = [Math.abs(gpuLoss! - refLoss) / Math.abs(refLoss), normRelative(grads, refGrad!)];
  if (!(lossErr < 1e-5 && gradErr < 1e-4)) throw new Error(`${name}: loss ${gpuLoss} against float64 ${refLoss}, gradient ${gradErr.toExponential(1)} off (relative)`);
  return `loss and gradient of 2 samples against the float64 reference model: ${lossErr.toExponential(1)}, ${gradErr.toExponential(1)} (relative)`;
}

function trainCase(name: string, batch: number): BenchCase {
  const variant: Variant = {
    name: 'losscape',
    setup: async () => {
      const checked = await checkStep(name);
      const model = createModel(presetConfig(name), 0) as Layer;
      const flat = FlatParameters.of(model);
      const opt = new AdamW(flat, { lr: 1e-3 });
      const data = take(test(), batch);
      const [x, y] = [fromArray(data.inputs, [batch, ...data.sampleShape]), fromArray(data.labels, [batch], 'i32')];
      const step = (): Tensor => {
        opt.zeroGrad();
        const loss = tidy(() => {
          const l = crossEntropy(model.forward(x), y);
          backward(l);
          return keep(l);
        });
        opt.step();
        return loss;
      };
      return {
        checked,
        timed: {
          call: () => step().dispose(),
          run: async () => {
            const loss = step();
            await loss.data();
            loss.dispose();
          },
          dispose: () => {
            for (const t of [x, y]) t.dispose();
            opt.dispose();
            model.dispose();
            flat.dispose();
          },
        },
      };
    },
  };
  return { group: 'train', name: `${name} step, batch ${batch}`, uses: ['matmul', 'conv2d', 'attention'], items: { count: batch, unit: 'samples' }, variants: [variant], peer: name === 'cnn' || name === 'vit-tiny' ? { kind: 'train', preset: name, batch } : undefined };
}

/** A model, its directions and evaluation set for the landscape cases, and the same on disk for PyTorch. */
interface Plane {
  model: Layer;
  flat: FlatParameters;
  d1: Tensor;
  d2: Tensor;
  dir: string;
  dispose(): void;
}

async function plane(name: string): Promise<Plane> {
  const model = createModel(presetConfig(name), 0) as Layer & { config: ModelConfig };
  const flat = FlatParameters.of(model);
  const [d1, d2] = [randomDirection(flat, { seed: 1 }), randomDirection(flat, { seed: 2 })];
  const dir = mkdtempSync(path.join(tmpdir(), 'losscape-bench-'));
  await saveCheckpoint(path.join(dir, 'model.safetensors'), model);
  await saveDirection(path.join(dir, 'd1.safetensors'), flat, d1);
  await saveDirection(path.join(dir, 'd2.safetensors'), flat, d2);
  return {
    model, flat, d1, d2, dir,
    dispose: () => {
      for (const t of [d1, d2]) t.dispose();
      model.dispose();
      flat.dispose();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** PyTorch's loop over `points` (bench/torch_landscape.py): its results and the seconds it measured. */
async function torchLoop(p: Plane, samples: number, points: Array<[number, number]>, env: Record<string, string>): Promise<{ points: number[][]; seconds: number; blas: { libraries: string[]; threads: number } }> {
  const script = path.join(path.dirname(new URL(import.meta.url).pathname), 'torch_landscape.py');
  const { stdout } = await run('/usr/bin/python3', [
    script, '--checkpoint', path.join(p.dir, 'model.safetensors'), '--d1', path.join(p.dir, 'd1.safetensors'), '--d2', path.join(p.dir, 'd2.safetensors'),
    '--mnist', path.dirname(mnistFiles('test').images), '--samples', String(samples), `--points=${points.map((pt) => pt.join(',')).join(';')}`,
  ], { env: { ...process.env, ...env }, maxBuffer: 1 << 26 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

/** Whether PyTorch runs here (python3 with torch), or why not. */
let torchReady: Promise<string | null> | null = null;
const torchMissing = () =>
  (torchReady ??= run('/usr/bin/python3', ['-c', 'import torch']).then(() => null, (e: Error) => `PyTorch does not run here (/usr/bin/python3 -c 'import torch': ${e.message.split('\n').at(-2) ?? e.message})`));

function landscapeCase(name: string, samples: number): BenchCase {
  const coords = linspace(-1, 1, 21);
  const grid = gridPoints(coords, coords);
  const probe: Array<[number, number]> = [grid[0]!, grid[220]!, grid[440]!];
  let shared: Promise<Plane> | null = null;
  let users = 0;
  const get = () => {
    users++;
    return (shared ??= plane(name));
  };
  const release = (p: Plane) => {
    if (--users === 0) {
      p.dispose();
      shared = null;
    }
  };
  const set = () => prepareEvalSet(take(test(), samples), name === 'mlp' ? 1000 : 250);
  const sequentialAt = async (p: Plane, points: Array<[number, number]>) => {
    const s = set();
    const out = await evaluateSequential(p.model, p.flat, p.d1, p.d2, points, s);
    disposeEvalSet(s);
    return out;
  };
  const batched: Variant = {
    name: 'losscape batched',
    setup: async () => {
      const p = await get();
      const s = set();
      const evaluator = batchedEvaluator(p.model, p.flat, p.d1, p.d2, s);
      const [want, got] = [await sequentialAt(p, probe), await evaluator.evaluate(probe)];
      const worst = Math.max(...got.map((r, i) => Math.abs(r.loss - want[i]!.loss) / Math.abs(want[i]!.loss)));
      if (!(worst <= 1e-5)) throw new Error(`${name}: batched and sequential losses differ by ${worst} (relative)`);
      const k = evaluator.chunkSize(grid.length);
      let at = 0;
      const chunk = () => {
        const pts = Array.from({ length: k }, (_, i) => grid[(at + i) % grid.length]!);
        at = (at + k) % grid.length;
        return pts;
      };
      return {
        checked: `against the sequential evaluator at 3 points: ${worst.toExponential(1)} (relative)`,
        timed: { run: async () => void (await evaluator.evaluate(chunk())), items: k, dispose: () => { evaluator.dispose(); disposeEvalSet(s); release(p); } },
      };
    },
  };
  const sequential: Variant = {
    name: 'losscape sequential',
    setup: async () => {
      const p = await get();
      const s = set();
      let at = 0;
      return {
        checked: 'the batched evaluator is checked against it',
        timed: { run: async () => void (await evaluateSequential(p.model, p.flat, p.d1, p.d2, [grid[at++ % grid.length]!], s)), items: 1, dispose: () => { disposeEvalSet(s); release(p); } },
      };
    },
  };
  const pytorch = (label: string, env: Record<string, string>): Variant => ({
    name: label,
    setup: async () => {
      const missing = await torchMissing();
      if (missing) throw new Unavailable(missing);
      const p = await get();
      const want = await sequentialAt(p, probe);
      const got = await torchLoop(p, samples, probe, env);
      const worst = Math.max(...got.points.map((r, i) => Math.abs(r[2]! - want[i]!.loss) / Math.abs(want[i]!.loss)));
      if (!(worst <= 1e-4)) throw new Error(`${name}: PyTorch's losses differ from losscape's by ${worst} (relative)`);
      // enough points per process for a second or two of its loop (its start is not timed)
      const per = Math.max(1, Math.min(200, Math.round(2 * (probe.length / got.seconds))));
      let at = 0;
      return {
        checked: `its losses against losscape's at 3 points: ${worst.toExponential(1)} (relative); BLAS ${got.blas.libraries.filter((l) => /blas/.test(l)).map((l) => path.basename(l)).join(', ') || 'unknown'}, ${got.blas.threads} thread(s)`,
        timed: {
          run: async () => {
            const pts = Array.from({ length: per }, () => grid[at++ % grid.length]!);
            return (await torchLoop(p, samples, pts, env)).seconds;
          },
          items: per,
          dispose: () => release(p),
        },
      };
    },
  });
  return {
    group: 'landscape', name: `${name}, ${samples} MNIST samples`, uses: ['matmul', 'conv2d', 'attention'], items: { count: 1, unit: 'points' },
    variants: [batched, sequential, pytorch('pytorch loop', {}), pytorch('pytorch loop, OMP passive', { OMP_WAIT_POLICY: 'PASSIVE' })],
  };
}

export function modelCases({ quick }: { quick: boolean }): BenchCase[] {
  const models = ['mlp', 'cnn', 'vit-tiny'];
  return [
    ...models.map((m) => trainCase(m, quick ? 8 : 64)),
    ...models.map((m) => landscapeCase(m, quick ? 100 : 1000)),
  ];
}
