// tfjs-webgpu's training steps of the MNIST CNN and ViT (src/nn/simple.ts's CNN and src/nn/vit.ts's
// ViT, written with tfjs-core's ops, channels last), from losscape's initial weights on the same
// batch, checked by their first loss against losscape's. tfjs-core has Adam but not AdamW: its
// update lacks the decoupled weight decay, one multiply-add per parameter of the step's work; and
// no GELU: the ViT's is written from erf, as torch's exact one is.
import type { Scalar, Tensor as TFTensor, Tensor3D, Tensor4D, Variable } from '@tensorflow/tfjs-core';
import { createModel, crossEntropy, fromArray, noGrad, presetConfig, take, type Layer, type ViTConfig } from '../src/index.js';
import { mnist } from '../src/node/data.js';
import type { TF } from './peers.js';
import type { Timed } from './suite.js';

type Weights = Map<string, { shape: number[]; values: Float32Array }>;

/** A model's forward in tfjs from its variables (by losscape's parameter name) and the input batch. */
type Forward = (tf: TF, v: (name: string) => Variable, x: Tensor4D) => TFTensor;

function cnn(tf: TF, v: (name: string) => Variable, x: Tensor4D): TFTensor {
  const block = (h: TFTensor, i: number) =>
    tf.maxPool(tf.relu(tf.add(tf.conv2d(h as Tensor4D, v(`features.${i}.weight`) as TFTensor as Tensor4D, 1, 'same'), v(`features.${i}.bias`))) as Tensor4D, 2, 2, 'valid');
  const h = block(block(x, 0), 3);
  // flattened in losscape's (channel, row, column) order
  const flat = tf.reshape(tf.transpose(h, [0, 3, 1, 2]), [x.shape[0], -1]);
  const dense = (t: TFTensor, name: string) => tf.add(tf.matMul(t, v(`${name}.weight`), false, true), v(`${name}.bias`));
  return dense(tf.relu(dense(flat, 'classifier.1')), 'classifier.3');
}

function vit(c: ViTConfig): Forward {
  return (tf, v, x) => {
    const b = x.shape[0];
    const w = c.width;
    const d = w / c.heads;
    // on [B·T, W] rows: tfjs's gradient of a 3-D by 2-D matMul keeps the broadcast batch axis in the
    // weight's gradient ("gradient of input 'b' has shape '64,64,128'")
    const dense = (t: TFTensor, name: string) => {
      const rows = tf.reshape(t, [-1, t.shape.at(-1)!]);
      return tf.reshape(tf.add(tf.matMul(rows, v(`${name}.weight`), false, true), v(`${name}.bias`)), [...t.shape.slice(0, -1), -1]);
    };
    const norm = (t: TFTensor, name: string) => {
      const { mean, variance } = tf.moments(t, -1, true);
      return tf.add(tf.mul(tf.div(tf.sub(t, mean), tf.sqrt(tf.add(variance, c.eps))), v(`${name}.weight`)), v(`${name}.bias`));
    };
    const gelu = (t: TFTensor) => tf.mul(tf.mul(t, 0.5), tf.add(tf.erf(tf.div(t, Math.SQRT2)), 1));
    const patches = tf.conv2d(x, v('patch_embed.proj.weight') as TFTensor as Tensor4D, c.patchSize, 'valid');
    const tokens = tf.add(tf.reshape(patches, [b, -1, w]), v('patch_embed.proj.bias'));
    let h = tf.add(tf.concat([tf.tile(v('cls_token'), [b, 1, 1]), tokens], 1), v('pos_embed'));
    const t = h.shape[1]!;
    const heads = (y: TFTensor) => tf.reshape(tf.transpose(tf.reshape(y, [b, t, c.heads, d]), [0, 2, 1, 3]), [b * c.heads, t, d]) as Tensor3D;
    for (let i = 0; i < c.depth; i++) {
      const blk = `blocks.${i}`;
      const qkv = dense(norm(h, `${blk}.norm1`), `${blk}.attn.qkv`);
      const [q, k, val] = tf.split(qkv, 3, -1).map(heads) as [Tensor3D, Tensor3D, Tensor3D];
      const o = tf.matMul(tf.softmax(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(d))) as Tensor3D, val);
      h = tf.add(h, dense(tf.reshape(tf.transpose(tf.reshape(o, [b, c.heads, t, d]), [0, 2, 1, 3]), [b, t, w]), `${blk}.attn.proj`));
      h = tf.add(h, dense(gelu(dense(norm(h, `${blk}.norm2`), `${blk}.mlp.fc1`)), `${blk}.mlp.fc2`));
    }
    return dense(tf.reshape(tf.slice(norm(h, 'norm'), [0, 0, 0], [b, 1, w]), [b, w]), 'head');
  };
}

/** A preset's training step in tfjs-webgpu (the CNN and the ViT), checked by its first loss against losscape's. */
export async function tfjsStep(tf: TF, preset: 'cnn' | 'vit-tiny', batch: number): Promise<{ checked: string; timed: Timed }> {
  const config = presetConfig(preset);
  const model = createModel(config, 0) as Layer;
  const data = take(mnist('test'), batch);
  const [x, y] = [fromArray(data.inputs, [batch, 1, 28, 28]), fromArray(data.labels, [batch], 'i32')];
  const want = await noGrad(() => crossEntropy(model.forward(x), y)).item();
  const weights: Weights = new Map(await Promise.all(model.stateDict().map(async ([name, t]) => [name, { shape: [...t.shape], values: await t.data() }] as [string, { shape: number[]; values: Float32Array }])));
  for (const t of [x, y]) t.dispose();
  model.dispose();
  // conv weights OIHW -> HWIO; Linear weights stay [out, in] (the forwards multiply by their transposes)
  const vars = new Map([...weights].map(([name, w]) => {
    const t = tf.tensor(w.values, w.shape);
    const v = tf.variable(w.shape.length === 4 ? tf.transpose(t, [2, 3, 1, 0]) : t);
    t.dispose();
    return [name, v] as const;
  }));
  const v = (name: string) => {
    const got = vars.get(name);
    if (!got) throw new Error(`tfjs ${preset}: no weight ${name}`);
    return got;
  };
  const forward = preset === 'cnn' ? cnn : vit(config as ViTConfig);
  const xs = tf.tensor4d(data.inputs, [batch, 28, 28, 1]); // one channel: NCHW and NHWC hold the same values
  const labels = tf.oneHot(tf.tensor1d(data.labels, 'int32'), 10);
  const loss = () => tf.losses.softmaxCrossEntropy(labels, forward(tf, v, xs)) as Scalar;
  const got = tf.tidy(loss);
  const first = (await got.data())[0]!;
  got.dispose();
  const err = Math.abs(first - want) / Math.abs(want);
  if (!(err <= 1e-4)) throw new Error(`tfjs-webgpu's ${preset} loss is ${first}, losscape's ${want}`);
  const opt = tf.train.adam(1e-3);
  const list = [...vars.values()];
  return {
    checked: `its first loss against losscape's on the same weights and batch: ${err.toExponential(1)} (relative); Adam, as tfjs-core has no AdamW`,
    timed: {
      call: () => tf.tidy(() => void opt.minimize(loss, false, list)),
      run: async () => {
        const cost = opt.minimize(loss, true, list)!;
        await cost.data();
        cost.dispose();
      },
      dispose: () => {
        for (const t of [...list, xs, labels]) t.dispose();
        opt.dispose();
      },
    },
  };
}
