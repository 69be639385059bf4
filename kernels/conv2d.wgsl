// conv2d: 2-D convolution (cross-correlation, as torch.nn.functional.conv2d) with stride, padding,
// dilation and groups, forward and both gradients, as implicit GEMMs: im2col indices are computed
// on the fly, nothing is materialized.
// Layout: x [N, C, H, W], w [OC, C/groups, KH, KW] (OIHW), bias [OC], y [N, OC, OH, OW], all
// contiguous f32. Per group g, with Cg = C/groups, OCg = OC/groups and kk = (ic, kh, kw) flattened
// over Cg·KH·KW (so w[oc, kk] = w[oc * Cg·KH·KW + kk]):
//   forward:          Y[(n,oh,ow), oc] = Σ_kk X[(n,oh,ow), kk] · W[oc, kk] (+ bias)
//   backward_input:   dX[(n,ih,iw), ic] = Σ_(oc,kh,kw) dY[n, oc, oh, ow] · w[oc, ic, kh, kw]
//                     over the (kh, kw) for which oh = (ih + pad − kh·dil)/stride is whole and in range
//   backward_weight:  dW[oc, kk] = Σ_(n,oh,ow) dY[n, oc, oh, ow] · X[(n,oh,ow), kk]
// Tiling (register blocking, as matmul v2): each invocation keeps a 4x4 block of its output in
// registers; 8x8 invocations cover a 32x32 tile; the grid is groups x row tiles x column tiles,
// folded into 2-D. No workgroup memory (see matmul.wgsl on lavapipe). forward_direct is the plain
// one-invocation-per-output loop, kept as the baseline bench/conv.ts compares against.

struct Params {
  n: u32, c: u32, h: u32, w: u32,
  oc: u32, kh: u32, kw: u32, groups: u32,
  oh: u32, ow: u32, stride_h: u32, stride_w: u32,
  pad_h: u32, pad_w: u32, dil_h: u32, dil_w: u32,
  has_bias: u32, _p0: u32, _p1: u32, _p2: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
// forward: x, w, bias -> y
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
// backward_input: dy, w -> dx;  backward_weight: dy, x -> dw
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<storage, read> xin: array<f32>;
@group(0) @binding(4) var<storage, read_write> dw: array<f32>;

fn cg() -> u32 { return P.c / P.groups; }
fn ocg() -> u32 { return P.oc / P.groups; }
fn ksize() -> u32 { return cg() * P.kh * P.kw; }

// Index in x of X[(n,oh,ow), kk] for group g: the input pixel under kernel tap kk, or -1 in the
// padding. (An index, not a value: forward and backward_weight read it from different bindings.)
fn im2col(g: u32, pix: u32, kk: u32) -> i32 {
  let ow = pix % P.ow;
  let oh = (pix / P.ow) % P.oh;
  let n = pix / (P.ow * P.oh);
  let kw = kk % P.kw;
  let kh = (kk / P.kw) % P.kh;
  let ic = kk / (P.kw * P.kh);
  let ih = i32(oh * P.stride_h + kh * P.dil_h) - i32(P.pad_h);
  let iw = i32(ow * P.stride_w + kw * P.dil_w) - i32(P.pad_w);
  if (ih < 0 || iw < 0 || ih >= i32(P.h) || iw >= i32(P.w)) { return -1; }
  return i32(((n * P.c + g * cg() + ic) * P.h + u32(ih)) * P.w + u32(iw));
}

fn x_at(g: u32, pix: u32, kk: u32) -> f32 {
  let i = im2col(g, pix, kk);
  return select(0.0, x[max(i, 0)], i >= 0);
}

fn xin_at(g: u32, pix: u32, kk: u32) -> f32 {
  let i = im2col(g, pix, kk);
  return select(0.0, xin[max(i, 0)], i >= 0);
}

struct Tile { g: u32, row0: u32, col0: u32, live: bool }

// Which 32x32 tile of which group this workgroup computes, and this invocation's 4x4 corner.
fn tile_of(wid: vec3u, nwg: vec3u, lid: vec3u, rows: u32, cols: u32) -> Tile {
  let tr = (rows + 31u) / 32u;
  let tc = (cols + 31u) / 32u;
  let wg = wid.y * nwg.x + wid.x;
  let g = wg / (tr * tc);
  let t = wg % (tr * tc);
  let row0 = (t / tc) * 32u + lid.y * 4u;
  let col0 = (t % tc) * 32u + lid.x * 4u;
  return Tile(g, row0, col0, g < P.groups && row0 < rows && col0 < cols);
}

@compute @workgroup_size(8, 8)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_id) lid: vec3u) {
  let rows = P.n * P.oh * P.ow;
  let t = tile_of(wid, nwg, lid, rows, ocg());
  if (!t.live) { return; }
  let K = ksize();
  let pix = min(vec4u(t.row0) + vec4u(0u, 1u, 2u, 3u), vec4u(rows - 1u));
  let oc = t.g * ocg() + min(vec4u(t.col0) + vec4u(0u, 1u, 2u, 3u), vec4u(ocg() - 1u));
  var acc: array<vec4f, 4>;
  for (var kk = 0u; kk < K; kk++) {
    let b = vec4f(wt[oc.x * K + kk], wt[oc.y * K + kk], wt[oc.z * K + kk], wt[oc.w * K + kk]);
    for (var i = 0u; i < 4u; i++) { acc[i] = fma(vec4f(x_at(t.g, pix[i], kk)), b, acc[i]); }
  }
  var bv = vec4f(0.0);
  if (P.has_bias == 1u) { bv = vec4f(bias[oc.x], bias[oc.y], bias[oc.z], bias[oc.w]); }
  for (var i = 0u; i < 4u; i++) {
    let p = t.row0 + i;
    if (p >= rows) { break; }
    let n = p / (P.oh * P.ow);
    let s = p % (P.oh * P.ow);
    for (var j = 0u; j < 4u; j++) {
      if (t.col0 + j < ocg()) { y[(n * P.oc + oc[j]) * P.oh * P.ow + s] = acc[i][j] + bv[j]; }
    }
  }
}

@compute @workgroup_size(64)
fn forward_direct(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                  @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= P.n * P.oc * P.oh * P.ow) { return; }
  let ow = i % P.ow;
  let oh = (i / P.ow) % P.oh;
  let oc = (i / (P.ow * P.oh)) % P.oc;
  let n = i / (P.ow * P.oh * P.oc);
  let g = oc / ocg();
  let K = ksize();
  let pix = (n * P.oh + oh) * P.ow + ow;
  var acc = 0.0;
  for (var kk = 0u; kk < K; kk++) { acc = fma(x_at(g, pix, kk), wt[oc * K + kk], acc); }
  if (P.has_bias == 1u) { acc += bias[oc]; }
  y[i] = acc;
}

// dY[n, oc, oh, ow] reaching input pixel (n, ih, iw) through tap (kh, kw), or 0.
fn dy_tap(n: u32, oc: u32, ih: u32, iw: u32, kh: u32, kw: u32) -> f32 {
  let th = i32(ih + P.pad_h) - i32(kh * P.dil_h);
  let tw = i32(iw + P.pad_w) - i32(kw * P.dil_w);
  if (th < 0 || tw < 0) { return 0.0; }
  let oh = u32(th) / P.stride_h;
  let ow = u32(tw) / P.stride_w;
  if (oh * P.stride_h != u32(th) || ow * P.stride_w != u32(tw) || oh >= P.oh || ow >= P.ow) { return 0.0; }
  return dy[((n * P.oc + oc) * P.oh + oh) * P.ow + ow];
}

@compute @workgroup_size(8, 8)
fn backward_input(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                  @builtin(local_invocation_id) lid: vec3u) {
  let rows = P.n * P.h * P.w;
  let t = tile_of(wid, nwg, lid, rows, cg());
  if (!t.live) { return; }
  let K = ksize();
  let pix = min(vec4u(t.row0) + vec4u(0u, 1u, 2u, 3u), vec4u(rows - 1u));
  let ic = min(vec4u(t.col0) + vec4u(0u, 1u, 2u, 3u), vec4u(cg() - 1u));
  var acc: array<vec4f, 4>;
  let taps = P.kh * P.kw;
  for (var o = 0u; o < ocg(); o++) {
    let oc = t.g * ocg() + o;
    for (var tap = 0u; tap < taps; tap++) {
      let kh = tap / P.kw;
      let kw = tap % P.kw;
      let b = vec4f(wt[oc * K + ic.x * taps + tap], wt[oc * K + ic.y * taps + tap],
                    wt[oc * K + ic.z * taps + tap], wt[oc * K + ic.w * taps + tap]);
      for (var i = 0u; i < 4u; i++) {
        let p = pix[i];
        let iw = p % P.w;
        let ih = (p / P.w) % P.h;
        let n = p / (P.w * P.h);
        acc[i] = fma(vec4f(dy_tap(n, oc, ih, iw, kh, kw)), b, acc[i]);
      }
    }
  }
  for (var i = 0u; i < 4u; i++) {
    let p = t.row0 + i;
    if (p >= rows) { break; }
    let n = p / (P.h * P.w);
    let s = p % (P.h * P.w);
    for (var j = 0u; j < 4u; j++) {
      if (t.col0 + j < cg()) { dx[(n * P.c + t.g * cg() + ic[j]) * P.h * P.w + s] = acc[i][j]; }
    }
  }
}

@compute @workgroup_size(8, 8)
fn backward_weight(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                   @builtin(local_invocation_id) lid: vec3u) {
  let K = ksize();
  let t = tile_of(wid, nwg, lid, ocg(), K);
  if (!t.live) { return; }
  let oc = t.g * ocg() + min(vec4u(t.row0) + vec4u(0u, 1u, 2u, 3u), vec4u(ocg() - 1u));
  let kk = min(vec4u(t.col0) + vec4u(0u, 1u, 2u, 3u), vec4u(K - 1u));
  let plane = P.oh * P.ow;
  var acc: array<vec4f, 4>;
  for (var p = 0u; p < P.n * plane; p++) {
    let n = p / plane;
    let s = p % plane;
    let b = vec4f(xin_at(t.g, p, kk.x), xin_at(t.g, p, kk.y), xin_at(t.g, p, kk.z), xin_at(t.g, p, kk.w));
    for (var i = 0u; i < 4u; i++) { acc[i] = fma(vec4f(dy[(n * P.oc + oc[i]) * plane + s]), b, acc[i]); }
  }
  for (var i = 0u; i < 4u; i++) {
    if (t.row0 + i >= ocg()) { break; }
    for (var j = 0u; j < 4u; j++) {
      if (t.col0 + j < K) { dw[oc[i] * K + kk[j]] = acc[i][j]; }
    }
  }
}
