// Batched matmul with either operand transposed (kernels/matmul.wgsl), with torch.matmul's shape
// rules: 1-D operands gain (and lose) a unit axis, batch axes broadcast.
import { Params } from '../gpu/params.js';
import { record } from './autograd.js';
import { requireF32 } from './elementwise.js';
import { reshape } from './layout.js';
import { sumTo } from './reduce.js';
import { getEngine } from './runtime.js';
import { broadcastShapes, broadcastStrides, numel, sameShape, shapeString } from './shape.js';
import { Tensor } from './tensor.js';

export interface MatmulOptions {
  /** use aᵀ (swap a's last two axes) */
  transA?: boolean;
  /** use bᵀ */
  transB?: boolean;
  /**
   * kernel version (kernels/matmul.wgsl, matmul_subgroups.wgsl); by default the engine's pick for
   * the shape class (forced, tuned on this adapter, else v6: gpu/selection.ts). v4-v6 read A and B
   * as vec4s and run v2 instead when the shapes do not allow that (see vec4Ok; v8 and v9 run v7);
   * v7-v9 need subgroups of at least 8 lanes and run v6 where there are none.
   */
  version?: MatmulVersion;
  /**
   * added to every row of the product, in the kernel's epilogue (a Linear layer's bias): [N] for
   * every batch element, or [...batch, 1, N] (equally [...batch, N]) with one row per element of the
   * product's batch axes (those of a batched B; a's extra axes against a 2-D B fold into its rows)
   */
  bias?: Tensor;
  /** added to the product elementwise in the epilogue (a residual connection); the output's shape */
  residual?: Tensor;
}

export type MatmulVersion = 'v1' | 'v2' | 'v3' | 'v4' | 'v5' | 'v6' | 'v7' | 'v8' | 'v9';

/** Output tile [rows, columns] of one workgroup of each version (v7-v9 with 2 groups of lanes along N): sets the workgroup count. */
const TILE: Record<MatmulVersion, readonly [number, number]> = {
  v1: [16, 16], v2: [32, 32], v3: [8, 64], v4: [32, 32], v5: [64, 64], v6: [64, 32], v7: [32, 32], v8: [32, 32], v9: [64, 32],
};
export const MATMUL_VERSIONS = Object.keys(TILE) as MatmulVersion[];
/** What runs when nothing is forced or tuned. */
export const MATMUL_DEFAULT: MatmulVersion = 'v6';

/** Versions that read A and B through vec4 views; they need vec4Ok, else v2 runs (v7 for v8, v9). */
const VEC4 = new Set<MatmulVersion>(['v4', 'v5', 'v6', 'v8', 'v9']);
/** Versions in kernels/matmul_subgroups.wgsl: they need subgroups of 8 lanes or more, else v6 runs. */
const SUBGROUP = new Set<MatmulVersion>(['v7', 'v8', 'v9']);

/**
 * The autotuner's shape class of an M x K x N product (src/tensor/tune.ts times one representative
 * of each): tiny ones are dominated by the dispatch, a thin output (a classifier's 10 columns) and
 * a short K by the tile's edges and the epilogue, a narrow output (a Linear layer's few features) by
 * idle tile columns.
 */
export function matmulClass(m: number, k: number, n: number): string {
  if (m * k * n <= 1 << 18) return 'tiny';
  if (n <= 16) return 'thin';
  if (k < 128) return 'shallow';
  if (Math.min(m, n) <= 128) return 'narrow';
  return 'large';
}

/**
 * Whether the vec4 kernels can read op(A) = [m, k] and op(B) = [k, n]: the axis each operand is
 * read along as vec4 (the contiguous one: k for A, m for Aᵀ; n for B, k for Bᵀ) must be a multiple
 * of 4 so that every vec4 (and every batch offset) is 16-byte aligned.
 */
function vec4Ok(m: number, k: number, n: number, transA: boolean, transB: boolean): boolean {
  return (transA ? m : k) % 4 === 0 && (transB ? k : n) % 4 === 0;
}

export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const op = 'matmul';
  requireF32(op, a, b);
  const { transA = false, transB = false } = opts;
  if (a.rank === 0 || b.rank === 0) throw new Error(`${op}: operands must have at least one axis, got ${shapeString(a.shape)} and ${shapeString(b.shape)}`);
  // [..., M, K] · [K, N] (a Linear layer on tokens): the batch axes fold into M as a free view, so the
  // kernel sees one tall matrix instead of many short ones whose tiles would be mostly padding
  // (a ViT's 17-token rows filled 17 of 64 tile rows: 1 GFLOP/s instead of 7).
  if (a.rank > 2 && b.rank === 2 && !transA && a.shape.at(-1) === b.shape[transB ? 1 : 0]) {
    const k = a.shape.at(-1)!;
    const outShape = [...a.shape.slice(0, -1), b.shape[transB ? 0 : 1]!];
    const views = [reshape(a, [-1, k])];
    if (opts.residual) views.push(reshape(requireShape(op, opts.residual, outShape, 'residual'), [-1, outShape.at(-1)!]));
    const c = matmul(views[0]!, b, { ...opts, residual: views[1] });
    const out = reshape(c, outShape);
    for (const t of [...views, c]) t.dispose();
    return out;
  }
  // torch.matmul: a 1-D a is a row vector [1, K], a 1-D b a column vector [K, 1]; the unit axis is dropped after.
  const aShape = a.rank === 1 ? [1, a.shape[0]!] : [...a.shape];
  const bShape = b.rank === 1 ? [b.shape[0]!, 1] : [...b.shape];
  const [m, ka] = transA ? [aShape.at(-1)!, aShape.at(-2)!] : [aShape.at(-2)!, aShape.at(-1)!];
  const [kb, n] = transB ? [bShape.at(-1)!, bShape.at(-2)!] : [bShape.at(-2)!, bShape.at(-1)!];
  if (ka !== kb) {
    throw new Error(
      `${op}: inner dimensions differ: ${shapeString(a.shape)}${transA ? 'ᵀ' : ''} · ${shapeString(b.shape)}${transB ? 'ᵀ' : ''} (${ka} vs ${kb})`,
    );
  }
  const aBatch = aShape.slice(0, -2);
  const bBatch = bShape.slice(0, -2);
  const batchShape = broadcastShapes(op, aBatch, bBatch);
  const outShape = [...batchShape, ...(a.rank === 1 ? [] : [m]), ...(b.rank === 1 ? [] : [n])];
  const batch = numel(batchShape);
  const { bias, residual } = opts;
  if (bias) {
    requireF32(op, bias);
    // [N], or [...batch, 1, N] / [...batch, N] with the product's own batch axes
    const lead = bias.shape.slice(0, -1);
    const rows = lead.length === batchShape.length + 1 && lead.at(-1) === 1 ? lead.slice(0, -1) : lead;
    if (bias.shape.at(-1) !== n || !(bias.size === n || sameShape(rows, batchShape))) {
      throw new Error(`${op}: bias ${shapeString(bias.shape)} is neither [${n}] nor one row of ${n} per batch element of the product ${shapeString(outShape)}`);
    }
  }
  if (residual) {
    requireF32(op, residual);
    requireShape(op, residual, outShape, 'residual');
  }
  const ab = a.buffer(op);
  const bb = b.buffer(op);
  const c = Tensor.empty(outShape, 'f32', op);
  if (c.size === 0) return c;
  // Batch strides in f32 elements: broadcastStrides counts whole matrices (0 along broadcast axes).
  const matrixStrides = (shape: number[], lead: number[]) =>
    broadcastStrides(lead, batchShape).map((s) => s * shape.at(-1)! * shape.at(-2)!);
  const aStrides = matrixStrides(aShape, aBatch);
  const bStrides = matrixStrides(bShape, bBatch);
  const params = new Params()
    .u32(m, n, ka, batch, batchShape.length, bias && bias.size > n ? n : 0, 0, 0)
    .dims(batchShape)
    .dims(aStrides)
    .dims(bStrides);
  const engine = getEngine();
  const version = matmulVersion(m, ka, n, transA, transB, opts.version);
  // the subgroup versions' groups of 8 lanes stand in one column of 16 for a narrow output (GN = 1)
  const gn = SUBGROUP.has(version) ? (n <= 16 ? 1 : 2) : 0;
  const [tm, tn] = gn === 1 ? [2 * TILE[version][0], 16] : TILE[version];
  engine.dispatch({
    kernel: SUBGROUP.has(version) ? 'matmul_subgroups' : 'matmul', entry: version,
    constants: { TA: transA ? 1 : 0, TB: transB ? 1 : 0, BIAS: bias ? 1 : 0, RES: residual ? 1 : 0, ...(gn ? { GN: gn } : {}) },
    // unused epilogue bindings get A (statically used by every entry point, never read)
    params, buffers: [ab, bb, c.buffer(op), bias?.buffer(op) ?? ab, residual?.buffer(op) ?? ab],
    workgroups: Math.ceil(m / tm) * Math.ceil(n / tn) * batch,
  });
  // d op(A) = g · op(B)ᵀ and d op(B) = op(A)ᵀ · g, transposed back where an operand was; computed on
  // the ≥2-D views and the broadcast batch, then summed and reshaped to each operand's own shape.
  // The bias gets g summed over rows (and over the batch when shared), the residual g itself.
  const inputs = [a, b, ...(bias ? [bias] : []), ...(residual ? [residual] : [])];
  return record(op, inputs, c, (g, [sa, sb], needs) => {
    const g2 = reshape(g, [...batchShape, m, n]);
    const a2 = reshape(sa!, aShape);
    const b2 = reshape(sb!, bShape);
    const da = !needs[0] ? null : transA ? matmul(b2, g2, { transA: transB, transB: true }) : matmul(g2, b2, { transB: !transB });
    const db = !needs[1] ? null : transB ? matmul(g2, a2, { transA: true, transB: transA }) : matmul(a2, g2, { transA: !transA });
    const grads = [da && reshape(sumTo(da, aShape), a.shape), db && reshape(sumTo(db, bShape), b.shape)];
    if (bias) grads.push(needs[2] ? reshape(sumTo(reshape(g, [bias.size > n ? batch : 1, -1, n]), [bias.size / n, 1, n]), bias.shape) : null);
    if (residual) grads.push(needs[grads.length] ? reshape(g, residual.shape) : null);
    return grads;
  }, [a, b]);
}

/**
 * The version that runs for op(A) = [m, k] and op(B) = [k, n]: the one asked for, else the engine's
 * pick for the shape class, then the fallbacks where the adapter or the shape rule it out.
 */
export function matmulVersion(m: number, k: number, n: number, transA = false, transB = false, asked?: MatmulVersion): MatmulVersion {
  const engine = getEngine();
  let version = asked ?? (engine.kernels.pick('matmul', matmulClass(m, k, n), MATMUL_DEFAULT) as MatmulVersion);
  if (SUBGROUP.has(version) && engine.subgroupLanes < 8) version = 'v6';
  if (VEC4.has(version) && !vec4Ok(m, k, n, transA, transB)) version = SUBGROUP.has(version) ? 'v7' : 'v2';
  return version;
}

function requireShape(op: string, t: Tensor, shape: readonly number[], what: string): Tensor {
  if (!sameShape(t.shape, shape)) {
    throw new Error(`${op}: ${what} ${shapeString(t.shape)} does not match the product's shape ${shapeString(shape)}`);
  }
  return t;
}
