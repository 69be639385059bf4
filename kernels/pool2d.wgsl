// pool2d: max and average pooling over 2-D windows of x [N, C, H, W] -> y [N, C, OH, OW], and
// their backward passes. Windows, as torch.nn.functional: output (oh, ow) covers rows
// [oh·stride − pad, + kernel) (clipped to the image); with ADAPTIVE = 1 it covers
// [floor(oh·H/OH), ceil((oh+1)·H/OH)) instead (adaptive_avg_pool2d), likewise for columns.
//   max_forward:  y = window maximum (padding counts as −inf); idx = flat h·W + w of the first max
//   max_backward: dx at each input pixel = Σ g over the windows whose saved idx is that pixel
//   avg_forward:  y = window sum / divisor (divisor: window size including padding, as
//                 count_include_pad=True; the clipped size for adaptive windows)
//   avg_backward: dx = Σ g / divisor over the windows containing the pixel
//   max_select:   y = x at each window's saved idx (the adjoint of max_backward: its own backward,
//                 for second derivatives)
// Backward passes gather (one invocation per input pixel, looping over the windows that can
// contain it) rather than scatter, so no atomics are needed. One invocation per element, 2-D grid.

override WG: u32 = 64;
override ADAPTIVE: u32 = 0;

struct Params {
  planes: u32, h: u32, w: u32, oh: u32,
  ow: u32, kh: u32, kw: u32, sh: u32,
  sw: u32, ph: u32, pw: u32, _p: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> idx: array<i32>;
// backward
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<storage, read> saved_idx: array<i32>;

fn flat_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid;
}

// [start, end) of window o along an axis of `size`, unclipped, and its divisor extent
struct Span { lo: i32, hi: i32, div: i32 }

fn span(o: u32, size: u32, osize: u32, k: u32, s: u32, p: u32) -> Span {
  if (ADAPTIVE == 1u) {
    let lo = i32((o * size) / osize);
    let hi = i32(((o + 1u) * size + osize - 1u) / osize);
    return Span(lo, hi, hi - lo);
  }
  let lo = i32(o * s) - i32(p);
  let hi = min(lo + i32(k), i32(size + p));
  return Span(max(lo, 0), min(hi, i32(size)), hi - lo);
}

// Output i's plane and its row and column spans.
struct Window { plane: u32, rows: Span, cols: Span }

fn window_of(i: u32) -> Window {
  let ow = i % P.ow;
  let oh = (i / P.ow) % P.oh;
  return Window(i / (P.ow * P.oh), span(oh, P.h, P.oh, P.kh, P.sh, P.ph), span(ow, P.w, P.ow, P.kw, P.sw, P.pw));
}

@compute @workgroup_size(WG)
fn max_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= P.planes * P.oh * P.ow) { return; }
  let win = window_of(i);
  let plane = win.plane;
  let rs = win.rows;
  let cs = win.cols;
  var best = bitcast<f32>(0xff800000u + u32(P.planes == 0u)); // -inf, built at run time
  var at = -1;
  for (var r = rs.lo; r < rs.hi; r++) {
    for (var c = cs.lo; c < cs.hi; c++) {
      let v = x[(plane * P.h + u32(r)) * P.w + u32(c)];
      let nan = (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
      if (at < 0 || v > best || (nan && best == best)) { best = v; at = r * i32(P.w) + c; }
    }
  }
  y[i] = best;
  idx[i] = at;
}

@compute @workgroup_size(WG)
fn avg_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= P.planes * P.oh * P.ow) { return; }
  let win = window_of(i);
  let plane = win.plane;
  let rs = win.rows;
  let cs = win.cols;
  var s = 0.0;
  for (var r = rs.lo; r < rs.hi; r++) {
    for (var c = cs.lo; c < cs.hi; c++) { s += x[(plane * P.h + u32(r)) * P.w + u32(c)]; }
  }
  y[i] = s / f32(rs.div * cs.div);
}

// Output windows along one axis that may contain input position `v`: a superset, checked by the caller.
fn window_range(v: u32, size: u32, osize: u32, k: u32, s: u32, p: u32) -> vec2u {
  if (ADAPTIVE == 1u) {
    // window o starts at floor(o·size/osize) <= v and ends past v
    let first = (v * osize) / size;
    let last = min(((v + 1u) * osize + size - 1u) / size, osize);
    return vec2u(select(first, first - 1u, first > 0u), last);
  }
  let lo = i32(v + p) - i32(k) + 1;
  let first = u32(max(0, (lo + i32(s) - 1) / i32(s)));
  return vec2u(first, min((v + p) / s + 1u, osize));
}

fn pixel(wid: vec3u, nwg: vec3u, lid: u32) -> vec4u {
  let i = flat_index(wid, nwg, lid);
  return vec4u(i, i / (P.w * P.h), (i / P.w) % P.h, i % P.w); // (flat, plane, row, col)
}

@compute @workgroup_size(WG)
fn max_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) lid: u32) {
  let px = pixel(wid, nwg, lid);
  if (px.x >= P.planes * P.h * P.w) { return; }
  let me = i32(px.z * P.w + px.w);
  let rr = window_range(px.z, P.h, P.oh, P.kh, P.sh, P.ph);
  let cr = window_range(px.w, P.w, P.ow, P.kw, P.sw, P.pw);
  var s = 0.0;
  for (var o = rr.x; o < rr.y; o++) {
    for (var q = cr.x; q < cr.y; q++) {
      let j = (px.y * P.oh + o) * P.ow + q;
      if (saved_idx[j] == me) { s += g[j]; }
    }
  }
  dx[px.x] = s;
}

@compute @workgroup_size(WG)
fn avg_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) lid: u32) {
  let px = pixel(wid, nwg, lid);
  if (px.x >= P.planes * P.h * P.w) { return; }
  let rr = window_range(px.z, P.h, P.oh, P.kh, P.sh, P.ph);
  let cr = window_range(px.w, P.w, P.ow, P.kw, P.sw, P.pw);
  var s = 0.0;
  for (var o = rr.x; o < rr.y; o++) {
    let rs = span(o, P.h, P.oh, P.kh, P.sh, P.ph);
    if (i32(px.z) < rs.lo || i32(px.z) >= rs.hi) { continue; }
    for (var q = cr.x; q < cr.y; q++) {
      let cs = span(q, P.w, P.ow, P.kw, P.sw, P.pw);
      if (i32(px.w) < cs.lo || i32(px.w) >= cs.hi) { continue; }
      s += g[(px.y * P.oh + o) * P.ow + q] / f32(rs.div * cs.div);
    }
  }
  dx[px.x] = s;
}

@compute @workgroup_size(WG)
fn max_select(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= P.planes * P.oh * P.ow) { return; }
  let at = saved_idx[i];
  let plane = i / (P.oh * P.ow);
  y[i] = select(0.0, x[plane * P.h * P.w + u32(max(at, 0))], at >= 0);
}
