// Peers timed in the same run as losscape, the same way (the op and a full readback of its result,
// alternating with losscape's variant): @tensorflow/tfjs-backend-webgpu on the same Dawn adapter,
// for matmul, conv2d and attention (forward, and with the gradients of every input) and the MNIST
// CNN's and ViT's training steps (peer-train.ts). Each is first checked against losscape's result on the same values
// (within 1e-4, relative to the result's norm). tfjs-webgpu needs navigator.gpu: in Node it gets
// the `webgpu` package's, made as src/gpu/device.ts makes losscape's.
import type { Tensor as TFTensor, Tensor3D, Tensor4D } from '@tensorflow/tfjs-core';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as L from '../src/index.js';
import { normRelative } from '../test/compare.js';
import { Unavailable, type BenchCase, type Timed, type Variant } from './suite.js';

export type TF = typeof import('@tensorflow/tfjs-core');

/** What a case computes, for a peer to compute the same: the losscape op and the peer's own. */
export type PeerSpec =
  | { kind: 'matmul'; shapes: number[][]; transB: boolean }
  | { kind: 'conv2d'; geometry: number[]; grads: boolean }
  | { kind: 'attention'; shape: number[]; grads: boolean }
  | { kind: 'train'; preset: 'cnn' | 'vit-tiny'; batch: number };

let tfjs: Promise<TF | string> | null = null;
const [TFJS_CORE, TFJS_WEBGPU, ESBUILD] = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-webgpu', 'esbuild'];

/**
 * tfjs-core's gradients, which its Node build leaves out (the full tfjs package registers them):
 * its ES module of registrations, bundled here with esbuild (its files import each other without
 * extensions, which Node does not resolve). tfjs keeps its registries and engine on globalThis, so
 * the bundle's registrations reach the package's engine.
 */
async function registerGradients(): Promise<void> {
  const { build } = (await import(ESBUILD)) as typeof import('esbuild');
  const entry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-core/dist/register_all_gradients.js').replace(/tf-core\.node\.js$/, 'register_all_gradients.js');
  const out = await build({ entryPoints: [entry], bundle: true, format: 'esm', platform: 'node', write: false, logLevel: 'silent' });
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'losscape-tfjs-')), 'gradients.mjs');
  writeFileSync(file, out.outputFiles[0]!.text);
  await import(pathToFileURL(file).href);
}

/** tfjs-core with the WebGPU backend on Dawn, or why it cannot run here. */
export function loadTfjs(): Promise<TF | string> {
  tfjs ??= (async () => {
    try {
      const nav = globalThis as { navigator?: { gpu?: GPU } };
      if (!nav.navigator?.gpu) {
        const webgpu = await import('webgpu');
        Object.assign(globalThis, webgpu.globals);
        nav.navigator = { ...nav.navigator, gpu: webgpu.create([]) };
      }
      // named at run time, so that a bundle of the bench (../shared/gpu/pack.sh) leaves them out
      const tf = (await import(TFJS_CORE)) as TF;
      await registerGradients();
      await import(TFJS_WEBGPU);
      if (!(await tf.setBackend('webgpu'))) return 'tfjs-webgpu did not start on this adapter';
      await tf.ready();
      return tf;
    } catch (e) {
      return `tfjs-webgpu cannot run here: ${(e as Error).message.split('\n')[0]}`;
    }
  })();
  return tfjs;
}

/** NCHW -> NHWC (or OIHW -> HWIO with `filter`) on the host. */
function toChannelsLast(v: Float32Array, [a, b, c, d]: number[], filter = false): Float32Array {
  const out = new Float32Array(v.length);
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) for (let y = 0; y < c; y++) for (let x = 0; x < d; x++) {
    const at = ((i * b + j) * c + y) * d + x;
    out[filter ? ((y * d + x) * b + j) * a + i : ((i * c + y) * d + x) * b + j] = v[at]!;
  }
  return out;
}

interface PeerOp {
  /** the peer's inputs, made from the values losscape's get */
  inputs: (tf: TF, values: Float32Array[], shapes: number[][]) => TFTensor[];
  /** the peer's forward */
  forward: (tf: TF, xs: TFTensor[]) => TFTensor;
  /** losscape's forward for the check, in the peer's layout */
  expected: (xs: L.Tensor[]) => Promise<Float32Array>;
}

/** What a sample computes: the forward, or the gradients of its sum with respect to every input. */
function timedOutputs(tf: TF, op: PeerOp, grads: boolean, xs: TFTensor[]): TFTensor[] {
  return grads ? tf.grads((...ys: TFTensor[]) => tf.sum(op.forward(tf, ys)))(xs) : [op.forward(tf, xs)];
}

function peerOp(spec: PeerSpec): PeerOp | null {
  switch (spec.kind) {
    case 'matmul':
      return {
        inputs: (t, values, shapes) => values.map((v, i) => t.tensor(v, shapes[i]!)),
        forward: (t, [a, b, bias, res]) => {
          let y = t.matMul(a as Tensor3D, b as Tensor3D, false, spec.transB) as TFTensor;
          if (bias) y = t.add(y, bias);
          return res ? t.add(y, res) : y;
        },
        expected: async ([a, b, bias, res]) => L.noGrad(() => L.matmul(a!, b!, { transB: spec.transB, bias, residual: res })).data(),
      };
    case 'conv2d': {
      const [, , , , , , stride, padding] = spec.geometry as [number, number, number, number, number, number, number, number];
      const conv = (t: TF, x: TFTensor, w: TFTensor, b: TFTensor) =>
        t.add(t.conv2d(x as Tensor4D, w as Tensor4D, stride, [[0, 0], [padding, padding], [padding, padding], [0, 0]]), b);
      return {
        inputs: (t, [x, w, b], [xs, ws, bs]) => [t.tensor(toChannelsLast(x!, xs!), [xs![0]!, xs![2]!, xs![3]!, xs![1]!]), t.tensor(toChannelsLast(w!, ws!, true), [ws![2]!, ws![3]!, ws![1]!, ws![0]!]), t.tensor(b!, bs!)],
        forward: (t, [x, w, b]) => conv(t, x!, w!, b!),
        expected: async ([x, w, b]) => {
          const y = L.noGrad(() => L.conv2d(x!, w!, b!, { stride, padding }));
          return toChannelsLast(await y.data(), [...y.shape]);
        },
      };
    }
    case 'attention': {
      const d = spec.shape[2]!;
      const attend = (t: TF, q: TFTensor, k: TFTensor, v: TFTensor) =>
        t.matMul(t.softmax(t.mul(t.matMul(q as Tensor3D, k as Tensor3D, false, true), 1 / Math.sqrt(d))) as Tensor3D, v as Tensor3D);
      return {
        inputs: (t, values, shapes) => values.map((v, i) => t.tensor(v, shapes[i]!)),
        forward: (t, [q, k, v]) => attend(t, q!, k!, v!),
        expected: async ([q, k, v]) => L.noGrad(() => L.attention(q!, k!, v!)).data(),
      };
    }
    default:
      return null;
  }
}

/** tfjs-webgpu's variant of a case, or none where the case has no peer spec. */
export function peerVariants(c: BenchCase): Variant[] {
  if (!c.peer) return [];
  const spec = c.peer;
  return [{
    name: 'tfjs-webgpu',
    setup: async () => {
      const tf = await loadTfjs();
      if (typeof tf === 'string') throw new Unavailable(tf);
      if (spec.kind === 'train') return (await import('./peer-train.js')).tfjsStep(tf, spec.preset, spec.batch);
      const op = peerOp(spec)!;
      const grads = spec.kind !== 'matmul' && spec.grads;
      const shapes = spec.kind === 'matmul' ? spec.shapes : spec.kind === 'conv2d'
        ? [[spec.geometry[0]!, spec.geometry[1]!, spec.geometry[2]!, spec.geometry[3]!], [spec.geometry[4]!, spec.geometry[1]!, spec.geometry[5]!, spec.geometry[5]!], [spec.geometry[4]!]]
        : [spec.shape, spec.shape, spec.shape];
      const lx = shapes.map((s, i) => new L.Generator(7 + i).normal(s, 0, i === 1 && spec.kind === 'conv2d' ? 0.1 : 1));
      const values = await Promise.all(lx.map((t) => t.data()));
      const want = await op.expected(lx);
      lx.forEach((t) => t.dispose());
      const xs = op.inputs(tf, values, shapes);
      const got = tf.tidy(() => op.forward(tf, xs));
      const distance = normRelative(await got.data(), want);
      got.dispose();
      if (!(distance <= 1e-4)) throw new Error(`tfjs-webgpu's result is ${distance.toExponential(1)} (relative) from losscape's`);
      const timed: Timed = {
        call: () => tf.tidy(() => void timedOutputs(tf, op, grads, xs)),
        run: async () => {
          const outs = tf.tidy(() => timedOutputs(tf, op, grads, xs));
          await Promise.all(outs.map((t) => t.data()));
          outs.forEach((t) => t.dispose());
        },
        dispose: () => xs.forEach((t) => t.dispose()),
      };
      return { checked: `the forward against losscape's on the same values: ${distance.toExponential(1)} relative`, timed };
    },
  }];
}
