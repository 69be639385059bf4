// reduce: sum or max (OP override: 0 sum, 1 max) and argmax along the middle axis of a contiguous
// x viewed as [outer, r, inner]; y is [outer, inner], contiguous. Any axis, or run of adjacent axes,
// of a tensor is such a view; the host permutes other axis sets first.
// Two strategies, chosen by the host:
//   *_wg:     one workgroup per output; its WG invocations stride over r, then a tree reduction in
//             workgroup memory (WG floats; WG a power of two within the adapter's limits).
//   *_thread: one invocation per output looping over r (many outputs, short r).
// max and argmax propagate NaN (tested on the bits, since WGSL may assume NaN-free float compares);
// argmax returns the first index of the maximum, as PyTorch does. Grids are folded into 2-D.

override WG: u32 = 256;
override OP: u32 = 0;

// neg_inf is -inf, passed in because WGSL constant expressions cannot hold infinities.
struct Params { outer: u32, r: u32, inner: u32, neg_inf: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> yi: array<i32>;

var<workgroup> wv: array<f32, WG>;
var<workgroup> wi: array<u32, WG>;

fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

fn identity() -> f32 {
  if (OP == 1u) { return P.neg_inf; }
  return 0.0;
}

fn combine(acc: f32, v: f32) -> f32 {
  if (OP == 1u) { return select(acc, v, is_nan(v) || v > acc); }
  return acc + v;
}

// Does (v, iv) win over the current (m, im)? NaN beats numbers; ties go to the lower index.
fn better(v: f32, iv: u32, m: f32, im: u32) -> bool {
  if (is_nan(m)) { return is_nan(v) && iv < im; }
  return is_nan(v) || v > m || (v == m && iv < im);
}

fn base(o: u32) -> u32 {
  return (o / P.inner) * P.r * P.inner + o % P.inner;
}

@compute @workgroup_size(WG)
fn reduce_wg(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_index) lid: u32) {
  let o = wid.y * nwg.x + wid.x;
  let live = o < P.outer * P.inner; // uniform per workgroup: barriers below stay in uniform control flow
  var acc = identity();
  if (live) {
    let b = base(o);
    for (var j = lid; j < P.r; j += WG) { acc = combine(acc, x[b + j * P.inner]); }
  }
  wv[lid] = acc;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lid < s) { wv[lid] = combine(wv[lid], wv[lid + s]); }
  }
  if (live && lid == 0u) { y[o] = wv[0]; }
}

@compute @workgroup_size(WG)
fn reduce_thread(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                 @builtin(local_invocation_index) lid: u32) {
  let o = (wid.y * nwg.x + wid.x) * WG + lid;
  if (o >= P.outer * P.inner) { return; }
  let b = base(o);
  var acc = identity();
  for (var j = 0u; j < P.r; j++) { acc = combine(acc, x[b + j * P.inner]); }
  y[o] = acc;
}

@compute @workgroup_size(WG)
fn argmax_wg(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_index) lid: u32) {
  let o = wid.y * nwg.x + wid.x;
  let live = o < P.outer * P.inner;
  var m = P.neg_inf;
  var im = 0xffffffffu;
  if (live) {
    let b = base(o);
    for (var j = lid; j < P.r; j += WG) {
      let v = x[b + j * P.inner];
      if (better(v, j, m, im)) { m = v; im = j; }
    }
  }
  wv[lid] = m;
  wi[lid] = im;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lid < s && better(wv[lid + s], wi[lid + s], wv[lid], wi[lid])) {
      wv[lid] = wv[lid + s];
      wi[lid] = wi[lid + s];
    }
  }
  if (live && lid == 0u) { yi[o] = i32(wi[0]); }
}

@compute @workgroup_size(WG)
fn argmax_thread(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                 @builtin(local_invocation_index) lid: u32) {
  let o = (wid.y * nwg.x + wid.x) * WG + lid;
  if (o >= P.outer * P.inner) { return; }
  let b = base(o);
  var m = P.neg_inf;
  var im = 0xffffffffu;
  for (var j = 0u; j < P.r; j++) {
    let v = x[b + j * P.inner];
    if (better(v, j, m, im)) { m = v; im = j; }
  }
  yi[o] = i32(im);
}
