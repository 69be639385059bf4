// losscape against PyTorch: fixtures written by test/fixtures/make_torch.py (torch 1.13, float64
// references from float32 weights; see test/fixtures/README.md) for a tiny ViT and a tiny ResNet —
// logits and every parameter gradient of the cross-entropy, BatchNorm running statistics, AdamW and
// SAM steps, and a filter-normalized loss surface — checked without PyTorch at test time.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import { normalizeDirection, parameterViews } from '../src/landscape/directions.js';
import { assertClose, rms, rmsScale, type Tolerance } from './compare.js';

interface Entry {
  shape: number[];
  data: Float64Array;
  dtype: string;
}

/** Reads a fixture's tensors as float64, whatever their stored dtype (F32, F64, I64), and its metadata. */
function readFixture(name: string): { get: (key: string) => Entry; keys: string[]; meta: Record<string, string> } {
  const bytes = readFileSync(new URL(`fixtures/${name}`, import.meta.url));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const base = 8 + headerLength;
  const read: Record<string, (at: number) => number> = {
    F32: (at) => view.getFloat32(at, true),
    F64: (at) => view.getFloat64(at, true),
    I64: (at) => Number(view.getBigInt64(at, true)),
  };
  const size: Record<string, number> = { F32: 4, F64: 8, I64: 8 };
  const { __metadata__: meta, ...entries } = header as unknown as Record<string, never> & { __metadata__: Record<string, string> };
  const get = (key: string): Entry => {
    const e = (entries as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>)[key];
    if (!e) throw new Error(`${name}: no tensor "${key}"`);
    const n = (e.data_offsets[1] - e.data_offsets[0]) / size[e.dtype]!;
    return { shape: e.shape, dtype: e.dtype, data: Float64Array.from({ length: n }, (_, i) => read[e.dtype]!(base + e.data_offsets[0] + i * size[e.dtype]!)) };
  };
  return { get, keys: Object.keys(entries), meta };
}

// "≤ 1e-4 relative" for a whole network's outputs and gradients, and 1e-5 for optimizer steps and
// normalized directions: each element against its own size plus its tensor's RMS (rmsScale: a
// composed network), far above their f32 rounding (see docs/TESTING.md)
const NETWORK: Tolerance = { rtol: 1e-4, atol: 0, name: 'torch fixture, network' };
const STEPS: Tolerance = { rtol: 1e-5, atol: 0, name: 'torch fixture, optimizer steps' };

interface Setup {
  model: L.Layer & { config: L.ModelConfig };
  x: L.Tensor;
  y: L.Tensor;
  data: L.Dataset;
}

function load(fx: ReturnType<typeof readFixture>): Setup {
  const config = JSON.parse(fx.meta.config!) as L.ModelConfig;
  const model = L.createModel(config, 0);
  const weights = new Map<string, L.Tensor>();
  for (const key of fx.keys.filter((k) => k.startsWith('weights.'))) {
    const e = fx.get(key);
    weights.set(key.slice('weights.'.length), e.dtype === 'I64' ? L.fromArray(Int32Array.from(e.data), e.shape, 'i32') : L.fromArray(Float32Array.from(e.data), e.shape));
  }
  model.loadStateDict(weights, 'torch fixture');
  for (const t of weights.values()) t.dispose();
  const input = fx.get('input');
  const labels = Int32Array.from(fx.get('labels').data);
  const data: L.Dataset = { name: 'torch batch', sampleShape: input.shape.slice(1), inputs: Float32Array.from(input.data), labels, classes: (config as { classes: number }).classes };
  return { model, x: L.fromArray(data.inputs, input.shape), y: L.fromArray(labels), data };
}

async function expectEntry(fx: ReturnType<typeof readFixture>, key: string, t: L.Tensor, tol: Tolerance, scale?: ArrayLike<number>): Promise<void> {
  const want = fx.get(key);
  expect([...t.shape], key).toEqual(want.shape);
  assertClose(await t.data(), want.data, tol, key, { scale: scale ?? rmsScale(want.data), shape: want.shape });
}

for (const name of ['vit', 'resnet']) {
  describe(`PyTorch fixture: tiny ${name}`, () => {
    const fx = readFixture(`torch-${name}.safetensors`);
    const optimizer = JSON.parse(fx.meta.optimizer!) as { kind: 'adamw' | 'sam'; hyper: Record<string, number> & { betas: [number, number] } };

    it('logits, loss and every parameter gradient of the cross-entropy (train mode), and BatchNorm running statistics', async () => {
      const { model, x, y } = load(fx);
      model.train();
      const logits = model.forward(x);
      const loss = L.crossEntropy(logits, y);
      await expectEntry(fx, 'logits', logits, NETWORK);
      await expectEntry(fx, 'loss', loss, NETWORK);
      L.backward(loss);
      for (const [param, t] of model.namedParameters()) await expectEntry(fx, `grad.${param}`, t.grad!, NETWORK);
      for (const [buffer, t] of model.namedBuffers().filter(([b]) => b.includes('running_'))) await expectEntry(fx, `running.${buffer}`, t, NETWORK);
    });

    it(`${optimizer.kind === 'adamw' ? 'AdamW' : 'SAM over SGD with momentum'}: ${optimizer.hyper.steps} steps on the batch`, async () => {
      const { model, x, y } = load(fx);
      model.train();
      const initial = new Map(await Promise.all(model.namedParameters().map(async ([n, t]) => [n, Float64Array.from(await t.data())] as const)));
      const flat = L.FlatParameters.of(model);
      const h = optimizer.hyper;
      const closure = () => L.tidy(() => {
        const loss = L.crossEntropy(model.forward(x), y);
        L.backward(loss);
        return L.keep(loss);
      });
      if (optimizer.kind === 'adamw') {
        const opt = new L.AdamW(flat, { lr: h.lr, betas: h.betas, eps: h.eps, weightDecay: h.weightDecay });
        for (let s = 0; s < h.steps; s++) {
          opt.zeroGrad();
          closure().dispose();
          opt.step();
        }
      } else {
        const sam = new L.SAM(new L.SGD(flat, { lr: h.lr, momentum: h.momentum, weightDecay: h.weightDecay }), { rho: h.rho });
        for (let s = 0; s < h.steps; s++) sam.stepWith(closure).dispose();
      }
      // each parameter relative to its size before and after, plus the distance moved. Where the
      // true gradient is below what f32 resolves (under NETWORK's 1e-4 of its tensor's RMS: the key
      // bias of attention, whose gradient is exactly zero as softmax ignores a shift of all scores),
      // an Adam step is set by rounding noise (g/(|g| + ε), up to lr per step): the bound allows that
      for (const [param, t] of model.namedParameters()) {
        const want = fx.get(`${optimizer.kind}.${param}`).data;
        const grad = fx.get(`grad.${param}`).data;
        const floor = NETWORK.rtol * rms(grad);
        const noise = (g: number) => (optimizer.kind === 'adamw' && Math.abs(g) < floor ? (h.lr * h.steps) / STEPS.rtol : 0);
        const scale = want.map((v, i) => Math.max(Math.abs(v), Math.abs(initial.get(param)![i]!)) + Math.abs(v - initial.get(param)![i]!) + noise(grad[i]!));
        await expectEntry(fx, `${optimizer.kind}.${param}`, t, STEPS, scale);
      }
      for (const [buffer, t] of model.namedBuffers().filter(([b]) => b.includes('running_'))) await expectEntry(fx, `${optimizer.kind}.${buffer}`, t, STEPS);
    });

    it('filter-normalized directions and the 3x3 loss surface, sequential and batched evaluators (eval mode)', async () => {
      const { model, data } = load(fx);
      const flat = L.FlatParameters.of(model);
      const directions = ['d1', 'd2'].map((d) => {
        const v = L.keep(L.zeros([flat.size]));
        for (const [param, view] of parameterViews(flat, v)) L.assign(view, L.fromArray(Float32Array.from(fx.get(`${d}.${param}`).data), view.shape));
        normalizeDirection(v, flat, { normalization: 'filter', oneD: 'ignore' });
        return v;
      });
      for (const [i, d] of ['d1n', 'd2n'].entries()) {
        for (const [param, view] of parameterViews(flat, directions[i]!)) await expectEntry(fx, `${d}.${param}`, view, STEPS);
      }
      const coords = [...fx.get('coords').data];
      const points = coords.flatMap((b) => coords.map((a): [number, number] => [a, b])); // x (d1) fastest
      const set = L.prepareEvalSet(data, 4); // a full and a partial batch
      const want = fx.get('surface').data;
      for (const evaluate of [L.evaluateSequential, L.evaluateBatched]) {
        const got = await evaluate(model, flat, directions[0]!, directions[1]!, points, set);
        assertClose(got.map((r) => r.loss), want, NETWORK, `surface, ${evaluate.name}`, { shape: [3, 3] });
      }
    });
  });
}
