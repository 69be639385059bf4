// Scaled dot-product attention, softmax(Q·Kᵀ·scale)·V over the last two axes. The fused path
// (kernels/attention.wgsl) never materializes the score matrix and has its own backward kernels
// (which hold dS for about a quarter of the keys at a time, during backward only);
// the unfused path (matmul, softmax, matmul, with their autograd) is the reference and baseline,
// and what the fused ops' rules differentiate under createGraph (second derivatives).
import { Params } from '../gpu/params.js';
import { isGradEnabled, record, vjpOf } from './autograd.js';
import { fromArray, zeros } from './creation.js';
import { add, mul, requireF32 } from './elementwise.js';
import { permute, reshape, slice } from './layout.js';
import { matmul } from './matmul.js';
import { getEngine } from './runtime.js';
import { numel, sameShape, shapeString } from './shape.js';
import { softmax } from './softmax.js';
import { Tensor } from './tensor.js';

export interface AttentionOptions {
  /** multiplies the scores; 1/sqrt(head dim) by default */
  scale?: number;
  /** mask keys after the query's own position */
  causal?: boolean;
  /**
   * v1: matmul, softmax, matmul (with their autograd; the score matrix materialized); v2: the
   * flash-style fused kernels (kernels/attention.wgsl; v1 runs above their head dim of 128). By
   * default the engine's pick for the sequence length (forced, tuned on this adapter, else v2:
   * gpu/selection.ts): where matmul is fast, v1's backward can beat v2's.
   */
  version?: AttentionVersion;
}

export type AttentionVersion = 'v1' | 'v2';
export const ATTENTION_VERSIONS: readonly AttentionVersion[] = ['v1', 'v2'];
/** What runs when nothing is forced or tuned. */
export const ATTENTION_DEFAULT: AttentionVersion = 'v2';

/** The autotuner's shape class: by the number of keys (src/tensor/tune.ts). */
export function attentionClass(keys: number): string {
  return keys <= 64 ? 'short' : keys <= 256 ? 'medium' : 'long';
}

/** The version that runs: the one asked for, else the engine's pick; v1 above the kernels' head dim. */
export function attentionVersion(keys: number, headDim: number, asked?: AttentionVersion): AttentionVersion {
  if (headDim > MAX_HEAD_DIM || headDim < 1) return 'v1';
  return asked ?? (getEngine().kernels.pick('attention', attentionClass(keys), ATTENTION_DEFAULT) as AttentionVersion);
}

const MAX_HEAD_DIM = 128; // kernels/attention.wgsl's 4·MAX_C
const INVOCATIONS_PER_WORKGROUP = 16;

export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const op = 'attention';
  requireF32(op, q, k, v);
  const d = q.shape.at(-1) ?? 0;
  const lead = q.shape.slice(0, -2);
  const fits =
    q.rank >= 2 && k.rank === q.rank && sameShape(k.shape, v.shape) && sameShape(k.shape.slice(0, -2), lead) && k.shape.at(-1) === d;
  if (!fits) {
    throw new Error(`${op}: expects q [..., Sq, D] and k, v [..., Sk, D] with equal leading axes, got ${shapeString(q.shape)}, ${shapeString(k.shape)}, ${shapeString(v.shape)}`);
  }
  const scale = opts.scale ?? 1 / Math.sqrt(d);
  const causal = opts.causal ?? false;
  if (attentionVersion(k.shape.at(-2)!, d, opts.version) === 'v2') return fused(q, k, v, scale, causal);
  return unfused(q, k, v, scale, causal);
}

function unfused(q: Tensor, k: Tensor, v: Tensor, scale: number, causal: boolean): Tensor {
  const sq = q.shape.at(-2)!;
  const sk = k.shape.at(-2)!;
  let scores = mul(matmul(q, k, { transB: true }), scale);
  if (causal) {
    const mask = fromArray(Float32Array.from({ length: sq * sk }, (_, e) => (e % sk > Math.floor(e / sk) ? -Infinity : 0)), [sq, sk]);
    scores = add(scores, mask);
  }
  return matmul(softmax(scores), v);
}

/**
 * Where the kernels find rows (element strides): batch-head bh = b·heads + h; row i of Q (and dQ)
 * starts at b·qB + h·inH + i·inR + qOff, of K and V (dK) at b·kvB + h·inH + i·inR + kOff or
 * vOff, of O (and dO) at b·oB + h·oH + i·oR; dV is written into dK's buffer, at dvOff instead of vOff.
 */
interface Layout {
  heads: number; qB: number; kvB: number; inH: number; inR: number; qOff: number; kOff: number; vOff: number;
  oB: number; oH: number; oR: number; dvOff: number;
}

/**
 * selfAttention through attention() on q, k and v split off the packed qkv [..., T, 3·H·D]:
 * [..., T, 3, H, D] -> [3, ..., H, T, D]; the output [..., H, T, D] -> [..., T, H·D].
 */
function splitHeads(qkv: Tensor, heads: number, opts: Omit<AttentionOptions, 'version'>, version: AttentionVersion): Tensor {
  const [t, w] = [qkv.shape.at(-2)!, qkv.shape.at(-1)! / 3];
  const d = w / heads;
  const lead = qkv.shape.slice(0, -2);
  const n = lead.length;
  const axes = lead.map((_, i) => i);
  const parts = permute(reshape(qkv, [...lead, t, 3, heads, d]), [n + 1, ...axes, n + 2, n, n + 3]);
  const [q, k, v] = [0, 1, 2].map((i) => reshape(slice(parts, [i], [i + 1]), [...lead, heads, t, d])) as [Tensor, Tensor, Tensor];
  return reshape(permute(attention(q, k, v, { ...opts, version }), [...axes, n + 1, n, n + 2]), [...lead, t, w]);
}

/** Q [bh, sq, d], K and V [bh, sk, d] and O [bh, sq, d], each contiguous; dK and dV as [2, bh, sk, d]. */
const separate = (bh: number, sq: number, sk: number, d: number): Layout => ({
  heads: 1, qB: sq * d, kvB: sk * d, inH: 0, inR: d, qOff: 0, kOff: 0, vOff: 0, oB: sq * d, oH: 0, oR: d, dvOff: bh * sk * d,
});

/** Q, K and V packed in one [b, t, 3, heads, d] tensor (a qkv projection's output), O [b, t, heads, d]. */
const packed = (t: number, heads: number, d: number): Layout => {
  const w = heads * d;
  return { heads, qB: 3 * t * w, kvB: 3 * t * w, inH: d, inR: 3 * w, qOff: 0, kOff: w, vOff: 2 * w, oB: t * w, oH: d, oR: w, dvOff: 2 * w };
};

/**
 * Self-attention on a packed projection, as timm's Attention: qkv [..., T, 3·W] holds q, k and v
 * as [..., T, 3, heads, W/heads]; returns [..., T, W] with the heads side by side. The kernels read
 * and write those layouts directly (no permute or split before, no permute after), and the
 * gradient comes back packed the same way. Version v1, and head dims above the kernels' 128, split
 * q, k and v off and run attention()'s unfused path.
 */
export function selfAttention(qkv: Tensor, heads: number, opts: AttentionOptions = {}): Tensor {
  const op = 'selfAttention';
  requireF32(op, qkv);
  const w3 = qkv.shape.at(-1) ?? 0;
  const w = w3 / 3;
  const d = w / heads;
  if (qkv.rank < 2 || !Number.isInteger(d) || d < 1) {
    throw new Error(`${op}: expects qkv [..., T, 3·heads·D] with a whole head dim D, got ${shapeString(qkv.shape)} with ${heads} heads`);
  }
  const t = qkv.shape.at(-2)!;
  const lead = qkv.shape.slice(0, -2);
  if (attentionVersion(t, d, opts.version) === 'v1') return splitHeads(qkv, heads, opts, 'v1');
  const bh = numel(lead) * heads;
  const scale = opts.scale ?? 1 / Math.sqrt(d);
  const layout = packed(t, heads, d);
  const o = Tensor.empty([...lead, t, w], 'f32', op);
  const lse = run(op, { qkv: [qkv, qkv, qkv], o, lse: [bh, t] }, bh, t, t, d, scale, opts.causal ?? false, layout);
  const out = record(op, [qkv], o, (g, [x, os, ls]) => {
    // createGraph: the unfused composition's gradient, which is differentiable again
    if (isGradEnabled()) return vjpOf((xs) => splitHeads(xs, heads, opts, 'v1'), [x!], g);
    const dqkv = Tensor.empty(qkv.shape, 'f32', `${op} backward`);
    runBackward(`${op} backward`, { qkv: [x!, x!, x!], o: os!, lse: ls!, g, dq: dqkv, dkv: dqkv }, bh, t, t, d, scale, opts.causal ?? false, layout);
    return [dqkv];
  }, [qkv, o, lse]);
  lse.dispose(); // the record keeps its own view for backward
  return out;
}

function fused(q: Tensor, k: Tensor, v: Tensor, scale: number, causal: boolean): Tensor {
  const op = 'attention';
  const [sq, d] = q.shape.slice(-2) as [number, number];
  const sk = k.shape.at(-2)!;
  const bh = numel(q.shape.slice(0, -2));
  const layout = separate(bh, sq, sk, d);
  const o = Tensor.empty(q.shape, 'f32', op);
  const lse = run(op, { qkv: [q, k, v], o, lse: [bh, sq] }, bh, sq, sk, d, scale, causal, layout);
  const out = record(op, [q, k, v], o, (g, [qs, ks, vs, os, ls]) => {
    // createGraph: the unfused composition's gradients, which are differentiable again
    if (isGradEnabled()) return vjpOf((...t) => unfused(t[0]!, t[1]!, t[2]!, scale, causal), [qs!, ks!, vs!], g);
    const what = `${op} backward`;
    const dq = Tensor.empty(q.shape, 'f32', what);
    // no queries: no kernel runs, and dK, dV are zero
    const dkv = sq === 0 ? zeros([2, ...k.shape]) : Tensor.empty([2, ...k.shape], 'f32', what);
    runBackward(what, { qkv: [qs!, ks!, vs!], o: os!, lse: ls!, g, dq, dkv }, bh, sq, sk, d, scale, causal, layout);
    const [dk, dv] = [0, 1].map((i) => reshape(slice(dkv, [i], [i + 1]), k.shape));
    dkv.dispose();
    return [dq, dk, dv];
  }, [q, k, v, o, lse]);
  lse.dispose();
  return out;
}

type Three = readonly [Tensor, Tensor, Tensor];
const INVOCATION_ROWS = 4; // rows (queries or keys) per invocation (kernels/attention.wgsl)

function kernelSetup(bh: number, sq: number, sk: number, d: number, scale: number, causal: boolean, l: Layout) {
  const engine = getEngine();
  const wg = engine.workgroupSize(INVOCATIONS_PER_WORKGROUP);
  // no workgroup memory; the head dim and causality are uniforms, so one pipeline per entry point
  // serves all shapes but for VEC4 (rows read as vec4s when the head dim allows it, which also
  // makes every stride and offset a multiple of 4)
  const constants = { WG: wg, VEC4: d % 4 === 0 ? 1 : 0 };
  const params = (k0 = 0, kc = 0) =>
    new Params()
      .u32(bh, sq, sk).f32(scale, -Infinity).u32(d, Math.ceil(d / 4), causal ? 1 : 0, k0, kc)
      .u32(l.heads, l.qB, l.kvB, l.inH, l.inR, l.qOff, l.kOff, l.vOff, l.oB, l.oH, l.oR, l.dvOff);
  // the 4-row groups of every batch-head in one sequence (kernels/attention.wgsl's quad())
  const groups = (rows: number) => Math.ceil((bh * Math.ceil(rows / INVOCATION_ROWS)) / wg);
  return { engine, wg, constants, params, groups };
}


/** The forward: writes O and returns the log-sum-exp of each score row, [bh, sq]. */
function run(op: string, t: { qkv: Three; o: Tensor; lse: number[] }, bh: number, sq: number, sk: number, d: number, scale: number, causal: boolean, l: Layout): Tensor {
  const { engine, constants, params, groups } = kernelSetup(bh, sq, sk, d, scale, causal, l);
  const lse = Tensor.empty(t.lse, 'f32', op);
  // Q, K, V (and dO, dQ in backward) are bound as array<vec4f>, widened to whole vec4s (buffer4)
  if (t.o.size > 0 && sk > 0) {
    engine.dispatch({
      kernel: 'attention', entry: 'forward', constants, params: params(),
      buffers: [...t.qkv.map((x) => x.buffer4(op)), t.o.buffer(op), lse.buffer(op)], workgroups: groups(sq),
    });
  }
  return lse;
}

/** The backward: writes dQ, and dK and dV into one buffer (dq may be that buffer too, when packed). */
function runBackward(
  op: string, t: { qkv: Three; o: Tensor; lse: Tensor; g: Tensor; dq: Tensor; dkv: Tensor },
  bh: number, sq: number, sk: number, d: number, scale: number, causal: boolean, l: Layout,
): void {
  const { engine, wg, constants, params, groups } = kernelSetup(bh, sq, sk, d, scale, causal, l);
  if (bh * sq === 0 || sk === 0) return; // nothing to write: no queries, or no keys to have gradients
  const b = (x: Tensor) => x.buffer(op);
  const [qs, ks, vs] = t.qkv.map((x) => x.buffer4(op)) as [GPUBufferBinding, GPUBufferBinding, GPUBufferBinding];
  const dvRow = Tensor.empty([bh, sq], 'f32', op);
  engine.dispatch({
    kernel: 'attention', entry: 'rowdot', constants, params: params(),
    buffers: [null, null, null, b(t.o), null, t.g.buffer4(op), b(dvRow)], workgroups: Math.ceil((bh * sq) / wg),
  });
  // Per chunk of keys: backward_kv recomputes P and dS of the chunk's keys against every query,
  // accumulates dK and dV, and leaves dS in scratch [bh, sq, kc]; backward_q then adds dS·K of the
  // chunk to dQ. The scores are recomputed once (FlashAttention-2's split recomputes them twice).
  const kc = chunkKeys(sk);
  const ds = Tensor.empty([bh, sq, kc], 'f32', op);
  for (let k0 = 0; k0 < sk; k0 += kc) {
    engine.dispatch({
      kernel: 'attention', entry: 'backward_kv', constants, params: params(k0, kc),
      buffers: [qs, ks, vs, null, b(t.lse), t.g.buffer4(op), b(dvRow), b(t.dkv), null, b(ds)], workgroups: groups(kc),
    });
    engine.dispatch({
      kernel: 'attention', entry: 'backward_q', constants, params: params(k0, kc),
      buffers: [null, ks, null, null, null, null, null, t.dq.buffer4(op), null, b(ds)], workgroups: groups(sq),
    });
  }
  ds.dispose();
  dvRow.dispose();
}

// Keys per backward chunk: about a quarter of the keys, so that the dS scratch is about a quarter
// of one score matrix (one chunk, or two, ran no faster), but all of them up to 64 (short
// sequences: fewer dispatches); a multiple of the kernel's T = 8 keys that backward_q takes at a time.
const KEY_STEP = 8;
function chunkKeys(sk: number): number {
  return KEY_STEP * Math.ceil(Math.max(sk / 4, Math.min(sk, 64)) / KEY_STEP);
}
