// 2-D convolution, forward and both gradients as implicit GEMMs (kernels/conv2d.wgsl), with
// torch.nn.functional.conv2d's arguments and output size.
import { Params } from '../gpu/params.js';
import { noGrad, record } from './autograd.js';
import { permute, reshape } from './layout.js';
import { requireF32 } from './elementwise.js';
import { sum } from './reduce.js';
import { tidy } from './scope.js';
import { getEngine } from './runtime.js';
import { shapeString } from './shape.js';
import { Tensor } from './tensor.js';

export type Pair = number | [number, number];

// The weight gradient's split-K aims at this many workgroups (tiles x batch slices): enough to keep
// every core busy where dW itself is a few 64-invocation tiles (8→16 channels, 3x3: one or two).
const WEIGHT_GRAD_WORKGROUPS = 32;

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
  /**
   * the forward's kernel version: v1 the direct loop (one invocation per output), v2 the
   * register-blocked implicit GEMM (conv2d.wgsl), v3 the implicit GEMM whose lanes share their loads
   * (conv2d_subgroups.wgsl; v2 runs where subgroups of 8 lanes are missing). By default the engine's
   * pick for the shape class (forced, tuned on this adapter, else v2: gpu/selection.ts).
   */
  version?: Conv2dVersion;
}

export type Conv2dVersion = 'v1' | 'v2' | 'v3';
export const CONV2D_VERSIONS: readonly Conv2dVersion[] = ['v1', 'v2', 'v3'];
/** What runs when nothing is forced or tuned. */
export const CONV2D_DEFAULT: Conv2dVersion = 'v2';

/**
 * The autotuner's shape class of a convolution's GEMM per group (src/tensor/tune.ts): a short sum
 * per output (K = Cg·KH·KW below 32: a first layer on few channels), few output channels per group
 * (at most 16: a tile's columns idle), or neither.
 */
export function conv2dClass(k: number, ocg: number): string {
  return k < 32 ? 'shallow' : ocg <= 16 ? 'narrow' : 'wide';
}

/** The forward version that runs: the one asked for, else the engine's pick, then the fallbacks. */
export function conv2dVersion(k: number, ocg: number, pooled: boolean, asked?: Conv2dVersion): Conv2dVersion {
  const engine = getEngine();
  let version = asked ?? (engine.kernels.pick('conv2d', conv2dClass(k, ocg), CONV2D_DEFAULT) as Conv2dVersion);
  if (version === 'v3' && engine.subgroupLanes < 8) version = 'v2';
  if (version === 'v1' && pooled) version = 'v2';
  return version;
}

export const pair = (v: Pair): [number, number] => (typeof v === 'number' ? [v, v] : v);

/** Output extent of a window sweep, as PyTorch computes it. */
export function convOutSize(size: number, k: number, stride: number, pad: number, dil: number): number {
  return Math.floor((size + 2 * pad - dil * (k - 1) - 1) / stride) + 1;
}

/**
 * The tile shape for a rows x cols GEMM per group (kernels/conv2d.wgsl): of the rb·WY x 4·WX tiles
 * with WX·WY = 64 (rb rows per invocation), the one that computes the fewest padded outputs (a
 * near-square one on ties), and the workgroups it takes.
 */
function tiling(groups: number, rows: number, cols: number, rb = 4): { constants: Record<string, number>; workgroups: number } {
  let best = { waste: Infinity, skew: Infinity, wx: 8, tiles: 0 };
  for (let wx = 1; wx <= 64; wx *= 2) {
    const [tr, tc] = [Math.ceil(rows / (rb * (64 / wx))), Math.ceil(cols / (4 * wx))];
    const waste = tr * tc * rb * 256 - rows * cols;
    const skew = Math.abs(Math.log2(wx / 8));
    if (waste < best.waste || (waste === best.waste && skew < best.skew)) best = { waste, skew, wx, tiles: tr * tc };
  }
  return { constants: { WX: best.wx, WY: 64 / best.wx }, workgroups: groups * best.tiles };
}

/** The checked geometry of a convolution, and its kernel parameters (kernels/conv2d.wgsl's Params). */
function geometry(op: string, x: Tensor, weight: Tensor, bias: Tensor | null, opts: Conv2dOptions, relu = false) {
  requireF32(op, x, weight, ...(bias ? [bias] : []));
  const [sh, sw] = pair(opts.stride ?? 1);
  const [ph, pw] = pair(opts.padding ?? 0);
  const [dh, dw] = pair(opts.dilation ?? 1);
  const groups = opts.groups ?? 1;
  if (x.rank !== 4 || weight.rank !== 4) {
    throw new Error(`${op}: expects input [N, C, H, W] and weight [OC, C/groups, KH, KW], got ${shapeString(x.shape)} and ${shapeString(weight.shape)}`);
  }
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const [oc, cg, kh, kw] = weight.shape as [number, number, number, number];
  if (!Number.isInteger(groups) || groups < 1 || c % groups !== 0 || oc % groups !== 0 || cg !== c / groups) {
    throw new Error(`${op}: input ${shapeString(x.shape)} and weight ${shapeString(weight.shape)} do not fit groups=${groups}`);
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== oc)) throw new Error(`${op}: bias ${shapeString(bias.shape)} for ${oc} output channels`);
  for (const v of [sh, sw, dh, dw]) if (!Number.isInteger(v) || v < 1) throw new Error(`${op}: stride and dilation must be positive integers`);
  for (const v of [ph, pw]) if (!Number.isInteger(v) || v < 0) throw new Error(`${op}: padding must be a non-negative integer`);
  const oh = convOutSize(h, kh, sh, ph, dh);
  const ow = convOutSize(w, kw, sw, pw, dw);
  if (oh < 1 || ow < 1) {
    throw new Error(`${op}: kernel ${kh}x${kw} (dilation ${dh}x${dw}) does not fit input ${h}x${w} with padding ${ph}x${pw}`);
  }
  const params = (slices = 1) =>
    new Params().u32(n, c, h, w, oc, kh, kw, groups, oh, ow, sh, sw, ph, pw, dh, dw, bias ? 1 : 0, relu ? 1 : 0, slices, 0);
  return { n, c, h, w, oc, cg, kh, kw, oh, ow, groups, params };
}

/**
 * Inference only (no gradient): ReLU (if asked) of the 2x2/2 max-pool (floor mode) of conv2d(x,
 * weight, bias), in one kernel that never writes the full-size convolution. ReLU commutes with the
 * max, so this is also max-pool of ReLU, the order of a conv-ReLU-pool stack.
 */
export function conv2dPool2(x: Tensor, weight: Tensor, bias: Tensor | null, opts: Conv2dOptions, relu: boolean): Tensor {
  const op = 'conv2dPool2';
  const { n, oc, oh, ow, groups, params, cg, kh, kw } = geometry(op, x, weight, bias, opts, relu);
  const [ph, pw] = [Math.floor(oh / 2), Math.floor(ow / 2)];
  if (ph < 1 || pw < 1) throw new Error(`${op}: a ${oh}x${ow} convolution output has no 2x2 window`);
  const y = Tensor.empty([n, oc, ph, pw], 'f32', op);
  const version = conv2dVersion(cg * kh * kw, oc / groups, true, opts.version);
  forwardGemm(op, x, weight, bias, y, params(), version === 'v3' ? subgroupTiling(groups, 4 * n * ph * pw, oc / groups) : tiling(groups, n * ph * pw, oc / groups, 1), groups, true, version);
  return y;
}

/** conv2d_subgroups.wgsl's forward_sg: GN groups of 8 lanes along the channels (16 each), 8 / GN along the rows. */
function subgroupTiling(groups: number, rows: number, ocg: number): { constants: Record<string, number>; workgroups: number } {
  const gn = ocg <= 16 ? 1 : 2;
  return { constants: { GN: gn }, workgroups: groups * Math.ceil(rows / (64 / gn)) * Math.ceil(ocg / (16 * gn)) };
}

/**
 * The implicit-GEMM forward (pooled or not), with the weights transposed per group to
 * [groups, Cg·KH·KW, OC/groups] so that 4 output channels at one tap are one vec4 load.
 */
function forwardGemm(op: string, x: Tensor, weight: Tensor, bias: Tensor | null, y: Tensor, params: Params, tiles: ReturnType<typeof tiling>, groups: number, pool: boolean, version: Conv2dVersion): void {
  const ocg = weight.shape[0]! / groups;
  const wt = noGrad(() => permute(reshape(weight, [groups, ocg, -1]), [0, 2, 1]));
  const [kernel, entry] = version === 'v3' ? ['conv2d_subgroups', 'forward_sg'] : ['conv2d', 'forward'];
  getEngine().dispatch({
    kernel, entry, params, constants: { ...tiles.constants, POOL: pool ? 1 : 0, VEC4W: ocg % 4 === 0 ? 1 : 0 },
    workgroups: tiles.workgroups, buffers: [x.buffer(op), wt.buffer4(op), (bias ?? weight).buffer(op), y.buffer(op)],
  });
  wt.dispose();
}

export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, opts: Conv2dOptions = {}): Tensor {
  const op = 'conv2d';
  const geo = geometry(op, x, weight, bias, opts);
  const { n, oc, oh, ow, groups, params } = geo;
  const y = Tensor.empty([n, oc, oh, ow], 'f32', op);
  const version = conv2dVersion(geo.cg * geo.kh * geo.kw, oc / groups, false, opts.version);
  if (version === 'v1') {
    getEngine().dispatch({
      kernel: 'conv2d', entry: 'forward_direct', params: params(), workgroups: Math.ceil(y.size / 64),
      buffers: [x.buffer(op), weight.buffer(op), (bias ?? weight).buffer(op), y.buffer(op)],
    });
  } else {
    const tiles = version === 'v3' ? subgroupTiling(groups, n * oh * ow, oc / groups) : tiling(groups, n * oh * ow, oc / groups);
    forwardGemm(op, x, weight, bias, y, params(), tiles, groups, false, version);
  }
  const inputs = [x, weight, ...(bias ? [bias] : [])];
  return record(op, inputs, y, (g, [xs, ws], needs) => [
    needs[0] ? inputGrad(g, ws!, geo, opts) : null,
    needs[1] ? weightGrad(g, xs!, geo, opts) : null,
    ...(bias && needs[2] ? [sum(g, [0, 2, 3])] : []),
  ], [x, weight]);
}

type Geometry = ReturnType<typeof geometry>;

/**
 * The input gradient B(g, w) (kernels/conv2d.wgsl backward_input) as a differentiable op (for
 * createGraph). B is bilinear and ⟨gg, B(g, w)⟩ = ⟨conv2d(gg, w), g⟩, so its own rule is
 * d/dg = conv2d(gg, w) and d/dw = the weight gradient of g against the input gg.
 */
function inputGrad(g: Tensor, w: Tensor, geo: Geometry, opts: Conv2dOptions): Tensor {
  const op = 'conv2d input gradient';
  const { n, c, h, w: width, cg, oc, kh, kw, groups, params } = geo;
  const dx = Tensor.empty([n, c, h, width], 'f32', op);
  if (conv2dVersion(cg * kh * kw, oc / groups, false, opts.version) === 'v3') {
    // input_sg reads the weights as [groups, OCg·KH·KW, Cg]: 4 input channels of a tap in one vec4
    const wb = noGrad(() => tidy(() => reshape(permute(reshape(w, [groups, oc / groups, cg, kh * kw]), [0, 1, 3, 2]), [groups, -1, cg])));
    const tiles = subgroupTiling(groups, n * h * width, cg);
    getEngine().dispatch({
      kernel: 'conv2d_subgroups', entry: 'input_sg', params: params(), workgroups: tiles.workgroups,
      constants: { ...tiles.constants, VEC4W: cg % 4 === 0 ? 1 : 0 }, buffers: [g.buffer(op), wb.buffer4(op), dx.buffer(op)],
    });
    wb.dispose();
  } else {
    getEngine().dispatch({
      kernel: 'conv2d', entry: 'backward_input', params: params(), ...tiling(groups, n * h * width, cg),
      buffers: [g.buffer(op), w.buffer(op), dx.buffer(op)],
    });
  }
  return record(op, [g, w], dx, (gg, [gs, ws], needs) => [
    needs[0] ? conv2d(gg, ws!, null, opts) : null,
    needs[1] ? weightGrad(gs!, gg, geo, opts) : null,
  ], [g, w]);
}

/**
 * The weight gradient W(g, x) (kernels/conv2d.wgsl backward_weight) as a differentiable op. W is
 * bilinear and ⟨gw, W(g, x)⟩ = ⟨conv2d(x, gw), g⟩, so d/dg = conv2d(x, gw) and d/dx = the input
 * gradient of g through the weights gw.
 */
function weightGrad(g: Tensor, x: Tensor, geo: Geometry, opts: Conv2dOptions): Tensor {
  const op = 'conv2d weight gradient';
  const { n, oc, cg, kh, kw, groups, params } = geo;
  // split-K over the batch when dW alone has few tiles: partial sums per slice, then their sum
  const tiles = tiling(groups, oc / groups, cg * kh * kw);
  const slices = Math.max(1, Math.min(n, Math.floor(WEIGHT_GRAD_WORKGROUPS / tiles.workgroups)));
  const partial = Tensor.empty([slices, oc, cg, kh, kw], 'f32', op);
  getEngine().dispatch({
    kernel: 'conv2d', entry: 'backward_weight', params: params(slices), constants: tiles.constants, workgroups: tiles.workgroups * slices,
    buffers: [g.buffer(op), null, x.buffer(op), partial.buffer(op)],
  });
  const dw = noGrad(() => (slices === 1 ? reshape(partial, [oc, cg, kh, kw]) : sum(partial, [0])));
  partial.dispose();
  return record(op, [g, x], dw, (gw, [gs, xs], needs) => [
    needs[0] ? conv2d(xs!, gw, null, opts) : null,
    needs[1] ? inputGrad(gs!, gw, geo, opts) : null,
  ], [g, x]);
}
