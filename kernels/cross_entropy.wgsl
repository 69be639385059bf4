// cross_entropy: fused, numerically stable cross-entropy from logits [rows, classes] and i32 labels
// [rows], with label smoothing ε (the target is (1−ε)·onehot + ε/classes, as torch.nn.functional
// .cross_entropy) and an ignore index (rows with that label count neither in loss nor in the mean).
//   forward:  loss[r] = (1−ε)(lse − x[r, y]) + ε(lse − mean_c x[r, c]) (0 for ignored rows),
//             valid[r] = 1 or 0, lse[r] = log Σ_c exp x[r, c] (saved for backward)
//   backward: dx[r, c] = scale · (exp(x[r, c] − lse[r]) − (1−ε)[c = y] − ε/classes) for valid rows,
//             scale = dLoss / (number of valid rows), one f32 computed on the device.
// Labels outside [0, classes) other than the ignore index give a NaN loss: an error that shows.
// Layout: contiguous; one invocation per row (forward) or per element (backward); 2-D grids.

override WG: u32 = 64;

struct Params { rows: u32, classes: u32, smoothing: f32, ignore_index: i32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> valid: array<f32>;
@group(0) @binding(5) var<storage, read_write> lse_out: array<f32>;
@group(0) @binding(3) var<storage, read> lse: array<f32>;
@group(0) @binding(4) var<storage, read> scale: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

fn flat_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let r = flat_index(wid, nwg, lid);
  if (r >= P.rows) { return; }
  let base = r * P.classes;
  var m = x[base];
  var total = 0.0;
  for (var j = 0u; j < P.classes; j++) {
    m = max(m, x[base + j]);
    total += x[base + j];
  }
  var s = 0.0;
  for (var j = 0u; j < P.classes; j++) { s += exp(x[base + j] - m); }
  let l = m + log(s);
  lse_out[r] = l;
  let y = labels[r];
  if (y == P.ignore_index) {
    loss[r] = 0.0;
    valid[r] = 0.0;
    return;
  }
  valid[r] = 1.0;
  if (y < 0 || u32(y) >= P.classes) {
    loss[r] = bitcast<f32>(0x7fc00000u + u32(P.rows == 0u)); // NaN, built at run time
    return;
  }
  let eps = P.smoothing;
  loss[r] = (1.0 - eps) * (l - x[base + u32(y)]) + eps * (l - total / f32(P.classes));
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) lid: u32) {
  let i = flat_index(wid, nwg, lid);
  if (i >= P.rows * P.classes) { return; }
  let r = i / P.classes;
  let c = i % P.classes;
  let y = labels[r];
  if (y == P.ignore_index) {
    dx[i] = 0.0;
    return;
  }
  let eps = P.smoothing;
  let tgt = select(0.0, 1.0 - eps, i32(c) == y) + eps / f32(P.classes);
  dx[i] = scale[0] * (exp(x[i] - lse[r]) - tgt);
}
