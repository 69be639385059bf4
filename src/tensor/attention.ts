// Scaled dot-product attention, softmax(Q·Kᵀ·scale)·V over the last two axes. The fused path
// (kernels/attention.wgsl) never materializes the score matrix and has its own backward kernels
// (which hold dS for about a quarter of the keys at a time, during backward only);
// the unfused path (matmul, softmax, matmul, with their autograd) is the reference and baseline.
import { Params } from '../gpu/params.js';
import { record } from './autograd.js';
import { fromArray } from './creation.js';
import { add, mul, requireF32 } from './elementwise.js';
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
  /** the flash-style fused kernels (default), or matmul + softmax + matmul */
  fused?: boolean;
}

const MAX_HEAD_DIM = 128; // kernels/attention.wgsl's 4·MAX_C
const INVOCATIONS_PER_WORKGROUP = 16; // each takes 4 rows (kernels/attention.wgsl)

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
  if ((opts.fused ?? true) && d >= 1 && d <= MAX_HEAD_DIM) return fused(q, k, v, scale, causal);
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

function fused(q: Tensor, k: Tensor, v: Tensor, scale: number, causal: boolean): Tensor {
  const op = 'attention';
  const engine = getEngine();
  const [sq, d] = q.shape.slice(-2) as [number, number];
  const sk = k.shape.at(-2)!;
  const bh = numel(q.shape.slice(0, -2));
  const wg = engine.workgroupSize(INVOCATIONS_PER_WORKGROUP);
  // no workgroup memory; the head dim and causality are uniforms, so one pipeline per entry point
  // serves all shapes but for VEC4 (rows read as vec4s when the head dim allows it)
  const constants = { WG: wg, VEC4: d % 4 === 0 ? 1 : 0 };
  const params = (k0 = 0, kc = 0) => new Params().u32(bh, sq, sk).f32(scale, -Infinity).u32(d, Math.ceil(d / 4), causal ? 1 : 0, k0, kc);
  const blocks = (rows: number) => bh * Math.ceil(rows / (4 * wg));
  // Q, K, V and dO are bound as array<vec4f>; with a head dim that is not a multiple of 4 the
  // tensor's size need not be, so the binding is widened to whole vec4s (pool buffers are sized
  // in 16-byte steps and bindings start 16-byte aligned, so the padding is inside the buffer; the
  // kernel never uses the values past the tensor)
  const v4 = (t: Tensor, what: string): GPUBufferBinding => {
    const b = t.buffer(what);
    const offset = b.offset ?? 0;
    return { ...b, size: Math.min(Math.ceil(t.size / 4) * 16, b.buffer.size - offset) };
  };
  const o = Tensor.empty(q.shape, 'f32', op);
  const lse = Tensor.empty([bh, sq], 'f32', op);
  if (o.size > 0 && sk > 0) {
    engine.dispatch({
      kernel: 'attention', entry: 'forward', constants, params: params(),
      buffers: [v4(q, op), v4(k, op), v4(v, op), o.buffer(op), lse.buffer(op)], workgroups: blocks(sq),
    });
  }
  const out = record(op, [q, k, v], o, (g, [qs, ks, vs, os, ls]) => {
    const b = (t: Tensor) => t.buffer(`${op} backward`);
    const b4 = (t: Tensor) => v4(t, `${op} backward`);
    const dv = Tensor.empty([bh, sq], 'f32', `${op} backward`);
    engine.dispatch({
      kernel: 'attention', entry: 'rowdot', constants, params: params(),
      buffers: [null, null, null, b(os!), null, b4(g), b(dv)], workgroups: Math.ceil((bh * sq) / wg),
    });
    const dq = Tensor.empty(q.shape, 'f32', `${op} backward`);
    const dk = Tensor.empty(k.shape, 'f32', `${op} backward`);
    const dvv = Tensor.empty(v.shape, 'f32', `${op} backward`);
    // Per chunk of keys: backward_kv recomputes P and dS of the chunk's keys against every query,
    // accumulates dK and dV, and leaves dS in scratch [bh, sq, kc]; backward_q then adds dS·K of the
    // chunk to dQ. The scores are recomputed once (FlashAttention-2's split recomputes them twice).
    const kc = chunkKeys(sk, 4 * wg);
    const ds = Tensor.empty([bh, sq, kc], 'f32', `${op} backward`);
    for (let k0 = 0; k0 < sk; k0 += kc) {
      engine.dispatch({
        kernel: 'attention', entry: 'backward_kv', constants, params: params(k0, kc),
        buffers: [b4(qs!), b4(ks!), b4(vs!), null, b(ls!), b4(g), b(dv), b(dk), b(dvv), b(ds)], workgroups: bh * (kc / (4 * wg)),
      });
      engine.dispatch({
        kernel: 'attention', entry: 'backward_q', constants, params: params(k0, kc),
        buffers: [null, b4(ks!), null, null, null, null, null, b4(dq), null, b(ds)], workgroups: blocks(sq),
      });
    }
    ds.dispose();
    return [dq, dk, dvv];
  }, [q, k, v, o, lse]);
  lse.dispose();
  return out;
}

// Keys per backward chunk: whole workgroup blocks (of 4·WG keys), about a quarter of the keys, so
// that the dS scratch is about a quarter of one score matrix. (One chunk, or two, ran no faster.)
function chunkKeys(sk: number, block: number): number {
  return block * Math.max(1, Math.ceil(sk / 4 / block));
}
