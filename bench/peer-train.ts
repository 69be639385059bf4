// tfjs-webgpu's training step of the MNIST CNN (src/nn/simple.ts's CNN, written with tfjs-core's
// ops in its channels-last layout), from losscape's initial weights on the same batch, checked by
// its loss against losscape's. tfjs-core has Adam but not AdamW: its update lacks the decoupled
// weight decay, one multiply-add per parameter of the step's work.
import type { Tensor as TFTensor, Tensor4D, Variable } from '@tensorflow/tfjs-core';
import { createModel, crossEntropy, fromArray, noGrad, presetConfig, take, type Layer } from '../src/index.js';
import { mnist } from '../src/node/data.js';
import type { TF } from './peers.js';
import type { Timed } from './suite.js';

export async function tfjsCnnStep(tf: TF, batch: number): Promise<{ checked: string; timed: Timed }> {
  const model = createModel(presetConfig('cnn'), 0) as Layer;
  const data = take(mnist('test'), batch);
  const [x, y] = [fromArray(data.inputs, [batch, 1, 28, 28]), fromArray(data.labels, [batch], 'i32')];
  const want = await noGrad(() => crossEntropy(model.forward(x), y)).item();
  const weights = new Map(await Promise.all(model.stateDict().map(async ([name, t]) => [name, { shape: [...t.shape], values: await t.data() }] as [string, { shape: number[]; values: Float32Array }])));
  for (const t of [x, y]) t.dispose();
  model.dispose();
  const param = (name: string, perm?: number[]) => {
    const w = weights.get(name)!;
    const t = tf.tensor(w.values, w.shape);
    const v = tf.variable(perm ? tf.transpose(t, perm) : t);
    t.dispose();
    return v;
  };
  // conv weights OIHW -> HWIO, Linear weights [out, in] -> [in, out]
  const vars: Variable[] = [
    param('features.0.weight', [2, 3, 1, 0]), param('features.0.bias'), param('features.3.weight', [2, 3, 1, 0]), param('features.3.bias'),
    param('classifier.1.weight', [1, 0]), param('classifier.1.bias'), param('classifier.3.weight', [1, 0]), param('classifier.3.bias'),
  ];
  const [w1, b1, w2, b2, f1, c1, f2, c2] = vars as [Variable, Variable, Variable, Variable, Variable, Variable, Variable, Variable];
  const xs = tf.tensor4d(data.inputs, [batch, 28, 28, 1]); // one channel: NCHW and NHWC hold the same values
  const labels = tf.oneHot(tf.tensor1d(data.labels, 'int32'), 10);
  const block = (h: TFTensor, w: Variable, b: Variable) => tf.maxPool(tf.relu(tf.add(tf.conv2d(h as Tensor4D, w as TFTensor as Tensor4D, 1, 'same'), b)) as Tensor4D, 2, 2, 'valid');
  const loss = () => {
    const h = block(block(xs, w1, b1), w2, b2);
    // flattened in losscape's (channel, row, column) order
    const flat = tf.reshape(tf.transpose(h, [0, 3, 1, 2]), [batch, -1]);
    const logits = tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(flat, f1), c1)), f2), c2);
    return tf.losses.softmaxCrossEntropy(labels, logits) as import('@tensorflow/tfjs-core').Scalar;
  };
  const got = tf.tidy(loss);
  const first = (await got.data())[0]!;
  got.dispose();
  const err = Math.abs(first - want) / Math.abs(want);
  if (!(err <= 1e-4)) throw new Error(`tfjs-webgpu's CNN loss is ${first}, losscape's ${want}`);
  const opt = tf.train.adam(1e-3);
  return {
    checked: `its first loss against losscape's on the same weights and batch: ${err.toExponential(1)} (relative); Adam, as tfjs-core has no AdamW`,
    timed: {
      call: () => tf.tidy(() => void opt.minimize(loss, false, vars)),
      run: async () => {
        const cost = opt.minimize(loss, true, vars)!;
        await cost.data();
        cost.dispose();
      },
      dispose: () => {
        for (const t of [...vars, xs, labels]) t.dispose();
        opt.dispose();
      },
    },
  };
}
