// gather: index_select along the middle axis of x viewed as [outer, dim, inner] with i32 indices
// [count]: y[o, j, i] = x[o, idx[j], i]  (an index outside [0, dim) gives NaN, so it shows).
// backward: dx[o, k, i] = Σ_{j : idx[j] = k} g[o, j, i], gathered per dx element (no atomics);
// its cost grows with count, which is small where ViTs use it (tokens, positions, classes).
// Layout: contiguous; one invocation per output element, 2-D grid.

override WG: u32 = 256;

struct Params { outer: u32, dim: u32, inner: u32, count: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<i32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

fn flat_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let e = flat_index(wid, nwg, lid);
  if (e >= P.outer * P.count * P.inner) { return; }
  let i = e % P.inner;
  let j = (e / P.inner) % P.count;
  let o = e / (P.inner * P.count);
  let k = idx[j];
  if (k < 0 || u32(k) >= P.dim) {
    y[e] = bitcast<f32>(0x7fc00000u + u32(P.dim == 0xffffffffu)); // NaN, built at run time
    return;
  }
  y[e] = x[(o * P.dim + u32(k)) * P.inner + i];
}

// here x holds g [outer, count, inner] and y is dx [outer, dim, inner]
@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) lid: u32) {
  let e = flat_index(wid, nwg, lid);
  if (e >= P.outer * P.dim * P.inner) { return; }
  let i = e % P.inner;
  let k = i32((e / P.inner) % P.dim);
  let o = e / (P.inner * P.dim);
  var s = 0.0;
  for (var j = 0u; j < P.count; j++) {
    if (idx[j] == k) { s += x[(o * P.count + j) * P.inner + i]; }
  }
  y[e] = s;
}
