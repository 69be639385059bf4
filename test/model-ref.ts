// Float64 reference forwards of the model kinds (MLP, CNN, ResNet, ViT), with the parameters
// sliced by name from one packed vector θ, so that test/ref-autograd.ts's gradients and Hessians of
// a model's loss are those with respect to θ. Packed: the model's parameters in order, end to end;
// the GPU's flat layout (src/nn/flat.ts) pads each to an aligned offset.
import * as L from '../src/index.js';
import * as A from './ref-autograd.js';
import * as R from './reference.js';

export type Params = (name: string) => A.V;

/** Parameter views of θ by name. */
export function unpack(theta: A.V, flat: L.FlatParameters): Params {
  const shapes = new Map(flat.module.namedParameters().map(([n, t]) => [n, [...t.shape]]));
  const starts = new Map<string, number>();
  let at = 0;
  for (const [name, shape] of shapes) {
    starts.set(name, at);
    at += R.size(shape);
  }
  return (name) => {
    const shape = shapes.get(name);
    if (!shape) throw new Error(`reference model: no parameter ${name}`);
    return A.reshape(A.slice(theta, [starts.get(name)!], [R.size(shape)]), shape);
  };
}

/** A flat (padded) host vector packed end to end, and back. */
export function pack(values: ArrayLike<number>, flat: L.FlatParameters): number[] {
  return flat.module.namedParameters().flatMap(([, t], i) => Array.from({ length: t.size }, (_, j) => values[flat.offsets[i]! + j]!));
}
export function unpackToFlat(packed: ArrayLike<number>, flat: L.FlatParameters): Float32Array {
  const out = new Float32Array(flat.size);
  let at = 0;
  flat.module.namedParameters().forEach(([, t], i) => {
    for (let j = 0; j < t.size; j++) out[flat.offsets[i]! + j] = packed[at++]!;
  });
  return out;
}

const linear = (p: Params, name: string, x: A.V) => A.add(A.matmul(x, p(`${name}.weight`), false, true), p(`${name}.bias`));
const relu = (x: A.V) => A.unary(x, (v) => Math.max(v, 0), (v) => +(v > 0));
const conv = (x: A.V, w: A.V, b: A.V | null, stride: number, pad: number) =>
  A.conv2d(x, w, b, { stride: [stride, stride], padding: [pad, pad], dilation: [1, 1], groups: 1 });

/** MLP: flatten, then Linear-ReLU pairs ("layers.1", "layers.3", ...). */
export function mlp(p: Params, x: A.V, depth: number): A.V {
  let h = A.reshape(x, [x.shape[0]!, R.size(x.shape.slice(1))]);
  for (let i = 0; i < depth; i++) {
    h = linear(p, `layers.${2 * i + 1}`, h);
    if (i + 1 < depth) h = relu(h);
  }
  return h;
}

/** CNN: conv(3x3, pad 1)-ReLU-maxpool(2) twice, flatten, Linear-ReLU-Linear. */
export function cnn(p: Params, x: A.V): A.V {
  const pool = (v: A.V) => A.maxPool2d(v, { kernel: [2, 2], stride: [2, 2], padding: [0, 0] });
  let h = pool(relu(conv(x, p('features.0.weight'), p('features.0.bias'), 1, 1)));
  h = pool(relu(conv(h, p('features.3.weight'), p('features.3.bias'), 1, 1)));
  h = A.reshape(h, [h.shape[0]!, R.size(h.shape.slice(1))]);
  return linear(p, 'classifier.3', relu(linear(p, 'classifier.1', h)));
}

/** ResNet (CIFAR stem, one basic block per stage), BatchNorm in eval mode with the given running statistics. */
export function resnet(p: Params, x: A.V, stages: number, stats: Map<string, Float32Array>): A.V {
  const bn = (v: A.V, name: string) => {
    const c = v.shape[1]!;
    const stat = (key: string, f: (s: number) => number) => A.leaf(R.ref([1, c, 1, 1], Array.from(stats.get(`${name}.${key}`)!, f)));
    const normed = A.mul(A.sub(v, stat('running_mean', (s) => s)), stat('running_var', (s) => 1 / Math.sqrt(s + 1e-5)));
    return A.add(A.mul(normed, A.reshape(p(`${name}.weight`), [1, c, 1, 1])), A.reshape(p(`${name}.bias`), [1, c, 1, 1]));
  };
  let h = relu(bn(conv(x, p('conv1.weight'), null, 1, 1), 'bn1'));
  for (let s = 1; s <= stages; s++) {
    const b = `layer${s}.0`;
    const stride = s > 1 ? 2 : 1;
    const r = bn(conv(relu(bn(conv(h, p(`${b}.conv1.weight`), null, stride, 1), `${b}.bn1`)), p(`${b}.conv2.weight`), null, 1, 1), `${b}.bn2`);
    const shortcut = stride > 1 ? bn(conv(h, p(`${b}.downsample.0.weight`), null, stride, 0), `${b}.downsample.1`) : h;
    h = relu(A.add(r, shortcut));
  }
  const pooled = A.avgPool2d(h, { kernel: [1, 1], stride: [1, 1], padding: [0, 0], adaptive: true });
  return linear(p, 'fc', A.reshape(pooled, [h.shape[0]!, h.shape[1]!]));
}

/** ViT: patch embedding, class token, position embedding, pre-norm blocks, class-token head. */
export function vit(p: Params, x: A.V, c: L.ViTConfig): A.V {
  const [b, w, heads] = [x.shape[0]!, c.width, c.heads];
  const d = w / heads;
  const e = conv(x, p('patch_embed.proj.weight'), p('patch_embed.proj.bias'), c.patchSize, 0);
  const patches = A.permute(A.reshape(e, [b, w, R.size(e.shape.slice(2))]), [0, 2, 1]);
  let h = A.add(A.concat([A.broadcastTo(p('cls_token'), [b, 1, w]), patches], 1), p('pos_embed'));
  const t = h.shape[1]!;
  const norm = (v: A.V, name: string) => A.layerNorm(v, p(`${name}.weight`), p(`${name}.bias`), c.eps);
  for (let i = 0; i < c.depth; i++) {
    const blk = `blocks.${i}`;
    const qkv = A.reshape(linear(p, `${blk}.attn.qkv`, norm(h, `${blk}.norm1`)), [b, t, 3, heads, d]);
    const part = (k: number) => A.permute(A.reshape(A.slice(qkv, [0, 0, k, 0, 0], [b, t, 1, heads, d]), [b, t, heads, d]), [0, 2, 1, 3]);
    const o = A.reshape(A.permute(A.attention(part(0), part(1), part(2), 1 / Math.sqrt(d)), [0, 2, 1, 3]), [b, t, w]);
    h = A.add(h, linear(p, `${blk}.attn.proj`, o));
    h = A.add(h, linear(p, `${blk}.mlp.fc2`, A.gelu(linear(p, `${blk}.mlp.fc1`, norm(h, `${blk}.norm2`)))));
  }
  const pooled = A.reshape(A.slice(norm(h, 'norm'), [0, 0, 0], [b, 1, w]), [b, w]);
  return linear(p, 'head', pooled);
}
