// softmax: softmax (OP 0) or log-softmax (OP 1) along the last axis of x viewed as [rows, cols],
// numerically stable (the row maximum is subtracted before exp). Entry `backward` takes y (the
// forward output) and the output gradient g:  softmax: dx = y ⊙ (g − Σ g⊙y);  log-softmax:
// dx = g − exp(y) · Σ g. Layout: contiguous f32 [rows, cols]. One invocation per row, 2-D grid
// (rows are short in classification heads and attention; long rows would want a workgroup each).

override WG: u32 = 64;
override OP: u32 = 0;

struct Params { rows: u32, cols: u32, _p0: u32, _p1: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

fn row_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let r = row_index(wid, nwg, lid);
  if (r >= P.rows) { return; }
  let base = r * P.cols;
  var m = x[base];
  for (var j = 1u; j < P.cols; j++) { m = max(m, x[base + j]); }
  var s = 0.0;
  for (var j = 0u; j < P.cols; j++) { s += exp(x[base + j] - m); }
  if (OP == 1u) {
    let lse = m + log(s);
    for (var j = 0u; j < P.cols; j++) { y[base + j] = x[base + j] - lse; }
  } else {
    let inv = 1.0 / s;
    for (var j = 0u; j < P.cols; j++) { y[base + j] = exp(x[base + j] - m) * inv; }
  }
}

// here x holds the forward output y
@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) lid: u32) {
  let r = row_index(wid, nwg, lid);
  if (r >= P.rows) { return; }
  let base = r * P.cols;
  var s = 0.0;
  if (OP == 1u) {
    for (var j = 0u; j < P.cols; j++) { s += g[base + j]; }
    for (var j = 0u; j < P.cols; j++) { dx[base + j] = g[base + j] - exp(x[base + j]) * s; }
  } else {
    for (var j = 0u; j < P.cols; j++) { s += g[base + j] * x[base + j]; }
    for (var j = 0u; j < P.cols; j++) { dx[base + j] = x[base + j] * (g[base + j] - s); }
  }
}
