// conv2d: 2-D convolution (cross-correlation, as torch.nn.functional.conv2d) with stride, padding,
// dilation and groups, forward and both gradients, as implicit GEMMs: im2col indices are computed
// on the fly, nothing is materialized.
// Layout: x [N, C, H, W], w [OC, C/groups, KH, KW] (OIHW), bias [OC], y [N, OC, OH, OW], all
// contiguous f32; `forward` takes the weights transposed by the host to [groups, Cg·KH·KW, OCg]
// (wt4), so the 4 output channels of an invocation at one tap are one vec4 load when OCg % 4 == 0
// (VEC4W; otherwise 4 component reads of the same view): 5 loads per 16 FMAs instead of 8. On the
// MNIST CNN (batch 250), back to back: both landscape evaluators 5-20% more points/s. Per group g, with Cg = C/groups, OCg = OC/groups and kk = (ic, kh, kw) flattened
// over Cg·KH·KW (so w[oc, kk] = w[oc * Cg·KH·KW + kk]):
//   forward:          Y[(n,oh,ow), oc] = Σ_kk X[(n,oh,ow), kk] · W[oc, kk] (+ bias)
//   backward_input:   dX[(n,ih,iw), ic] = Σ_(oc,kh,kw) dY[n, oc, oh, ow] · w[oc, ic, kh, kw]
//                     over the (kh, kw) for which oh = (ih + pad − kh·dil)/stride is whole and in range
//   backward_weight:  dW[oc, kk] = Σ_(n,oh,ow) dY[n, oc, oh, ow] · X[(n,oh,ow), kk], as P.slices
//                     partial sums over slices of the batch (dw [slices, OC, K]; the host adds them)
// Tiling (register blocking, as matmul v2): each invocation keeps a 4x4 block of its output in
// registers; WX x WY = 64 invocations cover a 4·WY x 4·WX tile (32x32 by default; the host picks
// the shape that wastes least of the last tiles, e.g. 128x8 for 8 output channels, where a 32-wide
// tile left 75% of the invocations idle); the grid is groups x row tiles x column tiles, folded
// into 2-D. No workgroup memory (see matmul.wgsl on lavapipe). forward_direct is the plain
// one-invocation-per-output loop, kept as the baseline bench/conv.ts compares against.

override WX: u32 = 8; // invocations along the tile's columns
override WY: u32 = 8; // and rows; WX·WY = 64
// forward with POOL: the output is the 2x2/2 max-pool (floor mode) of the convolution, then ReLU if
// P.relu: each invocation's 4 rows are one pooled pixel's window instead of 4 consecutive pixels, so
// the full-size output is never written (inference only: no backward keeps the window's argmax)
override POOL: bool = false;
override VEC4W: bool = false;

struct Params {
  n: u32, c: u32, h: u32, w: u32,
  oc: u32, kh: u32, kw: u32, groups: u32,
  oh: u32, ow: u32, stride_h: u32, stride_w: u32,
  pad_h: u32, pad_w: u32, dil_h: u32, dil_w: u32,
  has_bias: u32, relu: u32, slices: u32, _p2: u32, // slices: backward_weight's batch slices
}
@group(0) @binding(0) var<uniform> P: Params;
// forward: x, w, bias -> y
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(2) var<storage, read> wt4: array<vec4f>; // forward: [groups, Cg·KH·KW, OCg]
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
// padding (forward_direct's per-element im2col).
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

struct Tile { g: u32, row0: u32, col0: u32, live: bool }

// Which rb·WY x 4·WX tile of which group this workgroup computes, and this invocation's corner.
// rb: rows per invocation (4, or 1 for a pooled forward)
fn tile_of(wid: vec3u, nwg: vec3u, lid: vec3u, rows: u32, cols: u32, rb: u32) -> Tile {
  return tile_at(wid.y * nwg.x + wid.x, lid, rows, cols, rb);
}

// The same for the workgroup with flat index wg.
fn tile_at(wg: u32, lid: vec3u, rows: u32, cols: u32, rb: u32) -> Tile {
  let tr = (rows + rb * WY - 1u) / (rb * WY);
  let tc = (cols + 4u * WX - 1u) / (4u * WX);
  let g = wg / (tr * tc);
  let t = wg % (tr * tc);
  let row0 = (t / tc) * rb * WY + lid.y * rb;
  let col0 = (t % tc) * 4u * WX + lid.x * 4u;
  return Tile(g, row0, col0, g < P.groups && row0 < rows && col0 < cols);
}

// Loops run over (ic, kh, kw) and over output positions as nested loops, with each pixel's
// coordinates decomposed once outside them: index divisions inside the k loop made the first
// version of these kernels 3-4x slower on lavapipe.

@compute @workgroup_size(WX, WY)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_id) lid: vec3u) {
  let pw = P.ow / 2u;
  let ph = P.oh / 2u;
  let rows = select(P.n * P.oh * P.ow, P.n * ph * pw, POOL);
  let t = tile_of(wid, nwg, lid, rows, ocg(), select(4u, 1u, POOL));
  if (!t.live) { return; }
  let K = ksize();
  let jv = min(vec4u(t.col0) + vec4u(0u, 1u, 2u, 3u), vec4u(ocg() - 1u)); // channels in the group
  let oc = t.g * ocg() + jv;
  let wbase = t.g * K * ocg();
  // the block's 4 output pixels (n, oh, ow): consecutive ones, or one pooled pixel's 2x2 window
  var owv: vec4u;
  var ohv: vec4u;
  var nv: vec4u;
  if (POOL) {
    let q = t.row0;
    owv = 2u * (q % pw) + vec4u(0u, 1u, 0u, 1u);
    ohv = 2u * ((q / pw) % ph) + vec4u(0u, 0u, 1u, 1u);
    nv = vec4u(q / (pw * ph));
  } else {
    let pix = min(vec4u(t.row0) + vec4u(0u, 1u, 2u, 3u), vec4u(rows - 1u));
    owv = pix % P.ow;
    ohv = (pix / P.ow) % P.oh;
    nv = pix / (P.ow * P.oh);
  }
  // per pixel: offset of (n, first channel of the group) in x, and the window's top-left corner
  let plane = P.h * P.w;
  let xbase = (nv * P.c + t.g * cg()) * plane;
  let ih0 = vec4i(ohv * P.stride_h) - i32(P.pad_h);
  let iw0 = vec4i(owv * P.stride_w) - i32(P.pad_w);
  var acc: array<vec4f, 4>;
  var kk = 0u;
  for (var ic = 0u; ic < cg(); ic++) {
    for (var kh = 0u; kh < P.kh; kh++) {
      let ih = ih0 + i32(kh * P.dil_h);
      let row_ok = (ih >= vec4i(0)) & (ih < vec4i(i32(P.h)));
      let row_at = xbase + ic * plane + vec4u(max(ih, vec4i(0))) * P.w;
      for (var kw = 0u; kw < P.kw; kw++) {
        let iw = iw0 + i32(kw * P.dil_w);
        let ok = row_ok & (iw >= vec4i(0)) & (iw < vec4i(i32(P.w)));
        let at = row_at + vec4u(max(iw, vec4i(0)));
        let av = select(vec4f(0.0), vec4f(x[at.x], x[at.y], x[at.z], x[at.w]), ok);
        let wrow = wbase + kk * ocg();
        var b: vec4f;
        if (VEC4W) {
          b = wt4[(wrow + t.col0) / 4u];
        } else {
          let i = vec4u(wrow) + jv;
          b = vec4f(wt4[i.x >> 2u][i.x & 3u], wt4[i.y >> 2u][i.y & 3u], wt4[i.z >> 2u][i.z & 3u], wt4[i.w >> 2u][i.w & 3u]);
        }
        acc[0] = fma(vec4f(av.x), b, acc[0]);
        acc[1] = fma(vec4f(av.y), b, acc[1]);
        acc[2] = fma(vec4f(av.z), b, acc[2]);
        acc[3] = fma(vec4f(av.w), b, acc[3]);
        kk++;
      }
    }
  }
  var bv = vec4f(0.0);
  if (P.has_bias == 1u) { bv = vec4f(bias[oc.x], bias[oc.y], bias[oc.z], bias[oc.w]); }
  if (POOL) {
    // the bias is the same across the window, so it is added after the max; ReLU commutes with it
    var m = max(max(acc[0], acc[1]), max(acc[2], acc[3])) + bv;
    if (P.relu == 1u) { m = max(m, vec4f(0.0)); }
    let s = t.row0 % (ph * pw);
    for (var j = 0u; j < 4u; j++) {
      if (t.col0 + j < ocg()) { y[(nv.x * P.oc + oc[j]) * ph * pw + s] = m[j]; }
    }
    return;
  }
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

@compute @workgroup_size(WX, WY)
fn backward_input(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                  @builtin(local_invocation_id) lid: vec3u) {
  let rows = P.n * P.h * P.w;
  let t = tile_of(wid, nwg, lid, rows, cg(), 4u);
  if (!t.live) { return; }
  let K = ksize();
  let taps = P.kh * P.kw;
  let pix = min(vec4u(t.row0) + vec4u(0u, 1u, 2u, 3u), vec4u(rows - 1u));
  let ic = min(vec4u(t.col0) + vec4u(0u, 1u, 2u, 3u), vec4u(cg() - 1u));
  let iwv = vec4i(pix % P.w);
  let ihv = vec4i((pix / P.w) % P.h);
  let nv = pix / (P.w * P.h);
  let sh = i32(P.stride_h);
  let sw = i32(P.stride_w);
  var acc: array<vec4f, 4>;
  for (var o = 0u; o < ocg(); o++) {
    let oc = t.g * ocg() + o;
    let dy_plane = (nv * P.oc + oc) * P.oh;
    for (var kh = 0u; kh < P.kh; kh++) {
      // output row oh with oh·stride − pad + kh·dil = ih, if it is whole and in range
      let th = ihv + i32(P.pad_h) - i32(kh * P.dil_h);
      let oh = th / sh;
      let row_ok = (th >= vec4i(0)) & (oh * sh == th) & (oh < vec4i(i32(P.oh)));
      for (var kw = 0u; kw < P.kw; kw++) {
        let tw = iwv + i32(P.pad_w) - i32(kw * P.dil_w);
        let ow = tw / sw;
        let ok = row_ok & (tw >= vec4i(0)) & (ow * sw == tw) & (ow < vec4i(i32(P.ow)));
        let at = (dy_plane + vec4u(max(oh, vec4i(0)))) * P.ow + vec4u(max(ow, vec4i(0)));
        let g4 = select(vec4f(0.0), vec4f(dy[at.x], dy[at.y], dy[at.z], dy[at.w]), ok);
        let tap = kh * P.kw + kw;
        let b = vec4f(wt[oc * K + ic.x * taps + tap], wt[oc * K + ic.y * taps + tap],
                      wt[oc * K + ic.z * taps + tap], wt[oc * K + ic.w * taps + tap]);
        acc[0] = fma(vec4f(g4.x), b, acc[0]);
        acc[1] = fma(vec4f(g4.y), b, acc[1]);
        acc[2] = fma(vec4f(g4.z), b, acc[2]);
        acc[3] = fma(vec4f(g4.w), b, acc[3]);
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

@compute @workgroup_size(WX, WY)
fn backward_weight(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                   @builtin(local_invocation_id) lid: vec3u) {
  let K = ksize();
  // split-K over the batch: workgroup wg sums samples [n0, n1) of slice wg % slices into its own
  // partial dW (the host adds the slices up); dW alone has too few tiles to fill the cores
  let wg = wid.y * nwg.x + wid.x;
  let slice = wg % P.slices;
  let t = tile_at(wg / P.slices, lid, ocg(), K, 4u);
  if (!t.live) { return; }
  let n0 = slice * P.n / P.slices;
  let n1 = (slice + 1u) * P.n / P.slices;
  let oc = t.g * ocg() + min(vec4u(t.row0) + vec4u(0u, 1u, 2u, 3u), vec4u(ocg() - 1u));
  let kk = min(vec4u(t.col0) + vec4u(0u, 1u, 2u, 3u), vec4u(K - 1u));
  // per column: the tap's channel offset and its (kh, kw) displacement, decomposed once
  let kwv = kk % P.kw;
  let khv = (kk / P.kw) % P.kh;
  let icv = kk / (P.kw * P.kh);
  let plane = P.h * P.w;
  let dh = vec4i(khv * P.dil_h) - i32(P.pad_h);
  let dwv = vec4i(kwv * P.dil_w) - i32(P.pad_w);
  let oplane = P.oh * P.ow;
  var acc: array<vec4f, 4>;
  for (var n = n0; n < n1; n++) {
    let xbase = (n * P.c + t.g * cg() + icv) * plane;
    let dy_base = (n * P.oc + oc) * oplane;
    for (var oh = 0u; oh < P.oh; oh++) {
      let ih = i32(oh * P.stride_h) + dh;
      let row_ok = (ih >= vec4i(0)) & (ih < vec4i(i32(P.h)));
      let row_at = xbase + vec4u(max(ih, vec4i(0))) * P.w;
      for (var ow = 0u; ow < P.ow; ow++) {
        let iw = i32(ow * P.stride_w) + dwv;
        let ok = row_ok & (iw >= vec4i(0)) & (iw < vec4i(i32(P.w)));
        let at = row_at + vec4u(max(iw, vec4i(0)));
        let b = select(vec4f(0.0), vec4f(xin[at.x], xin[at.y], xin[at.z], xin[at.w]), ok);
        let s = oh * P.ow + ow;
        let gv = vec4f(dy[dy_base.x + s], dy[dy_base.y + s], dy[dy_base.z + s], dy[dy_base.w + s]);
        acc[0] = fma(vec4f(gv.x), b, acc[0]);
        acc[1] = fma(vec4f(gv.y), b, acc[1]);
        acc[2] = fma(vec4f(gv.z), b, acc[2]);
        acc[3] = fma(vec4f(gv.w), b, acc[3]);
      }
    }
  }
  for (var i = 0u; i < 4u; i++) {
    if (t.row0 + i >= ocg()) { break; }
    for (var j = 0u; j < 4u; j++) {
      if (t.col0 + j < K) { dw[(slice * P.oc + oc[i]) * K + kk[j]] = acc[i][j]; }
    }
  }
}
