// layernorm: y = (x − mean) · rstd · w + b over the last axis of x viewed as [rows, cols],
// rstd = 1/sqrt(var + eps) with the biased variance (as torch.nn.LayerNorm). Two-pass statistics.
//   forward:         one invocation per row; saves mean and rstd per row for backward.
//   backward:        one invocation per row: with x̂ = (x − mean)·rstd and h = g ⊙ w,
//                    dx = rstd · (h − mean(h) − x̂ · mean(h ⊙ x̂)).
//   backward_params: one invocation per column: dw = Σ_rows g ⊙ x̂, db = Σ_rows g.
// Without affine parameters the host binds w = ones (and ignores dw, db). With P.group > 0 (forward
// only, inference), w and b are [rows / group, cols]: consecutive groups of rows have their own
// affine parameters (the landscape evaluator's K points, each with its own LayerNorm weights).
// Layout: contiguous f32; 2-D folded grids.

override WG: u32 = 64;

struct Params { rows: u32, cols: u32, eps: f32, group: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> mean_out: array<f32>;
@group(0) @binding(6) var<storage, read_write> rstd_out: array<f32>;
// backward bindings
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read> stats_mean: array<f32>;
@group(0) @binding(5) var<storage, read> stats_rstd: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<storage, read_write> dw: array<f32>;
@group(0) @binding(7) var<storage, read_write> db: array<f32>;

fn flat_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let r = flat_index(wid, nwg, lid);
  if (r >= P.rows) { return; }
  let base = r * P.cols;
  let n = f32(P.cols);
  var s = 0.0;
  for (var j = 0u; j < P.cols; j++) { s += x[base + j]; }
  let mu = s / n;
  var q = 0.0;
  for (var j = 0u; j < P.cols; j++) { let d = x[base + j] - mu; q += d * d; }
  let rstd = inverseSqrt(q / n + P.eps);
  let wb = select(0u, (r / max(P.group, 1u)) * P.cols, P.group > 0u);
  for (var j = 0u; j < P.cols; j++) { y[base + j] = (x[base + j] - mu) * rstd * w[wb + j] + b[wb + j]; }
  mean_out[r] = mu;
  rstd_out[r] = rstd;
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) lid: u32) {
  let r = flat_index(wid, nwg, lid);
  if (r >= P.rows) { return; }
  let base = r * P.cols;
  let mu = stats_mean[r];
  let rstd = stats_rstd[r];
  var sh = 0.0;
  var shx = 0.0;
  for (var j = 0u; j < P.cols; j++) {
    let h = g[base + j] * w[j];
    sh += h;
    shx += h * (x[base + j] - mu) * rstd;
  }
  let n = f32(P.cols);
  sh /= n;
  shx /= n;
  for (var j = 0u; j < P.cols; j++) {
    let xhat = (x[base + j] - mu) * rstd;
    dx[base + j] = rstd * (g[base + j] * w[j] - sh - xhat * shx);
  }
}

@compute @workgroup_size(WG)
fn backward_params(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                   @builtin(local_invocation_index) lid: u32) {
  let c = flat_index(wid, nwg, lid);
  if (c >= P.cols) { return; }
  var sw = 0.0;
  var sb = 0.0;
  for (var r = 0u; r < P.rows; r++) {
    let gv = g[r * P.cols + c];
    sw += gv * (x[r * P.cols + c] - stats_mean[r]) * stats_rstd[r];
    sb += gv;
  }
  dw[c] = sw;
  db[c] = sb;
}
