// optim: fused optimizer updates over a model's whole flat parameter vector (src/nn/flat.ts): one
// dispatch per step, one invocation per element. The maths follows torch.optim exactly:
//   sgd:    d = g + wd·p;  with momentum: buf = d on the first step, else buf = μ·buf + (1 − dampening)·d;
//           d = nesterov ? d + μ·buf : buf;  p −= lr·d
//   adamw:  p *= 1 − lr·wd (decoupled decay);  m += (1 − β1)·(g − m) (torch's lerp);  v = β2·v + (1 − β2)·g²;
//           (amsgrad: vmax = max(vmax, v), used for v);  p −= (lr / (1 − β1^t)) · m / (sqrt(v) / sqrt(1 − β2^t) + ε)
// and the sharpness-aware perturbation of SAM / ASAM (Foret et al. 2021; Kwon et al. 2021, as the
// reference implementation davda54/sam):
//   sam_perturb: e = scale · T² · g with T = |p| (ASAM) or 1 (SAM), scale = ρ / (‖T·g‖ + 1e-12)
//                read from a one-element buffer computed on the device;  old = p;  p += e
//   sam_restore: p = old (exact, as davda54/sam restores its copy; p − e would round)
//   scale:       g *= min(1, s[0])  (gradient clipping by global norm: s = max_norm / (‖g‖ + 1e-6))
// Every constant that combines hyperparameters (1 − β, 1 − dampening, 1 − lr·wd, lr / (1 − β1^t),
// sqrt(1 − β2^t)) arrives computed on the host in float64 and rounded to f32 once, as torch forms
// them from Python floats: 1 − β2 formed here from β2 = 0.999 rounded to f32 would be 1.3e-5 too
// small relative to 0.001, and every AdamW step 6.4e-6 too long.
// Layout: every array is the flat vector of n f32 (padding between parameters included: zero
// gradients keep it zero). 2-D folded grid.

override WG: u32 = 256;
override NESTEROV: u32 = 0;
override ADAPTIVE: u32 = 0;

struct Params {
  n: u32, first: u32, _p0: u32, _p1: u32,
  step: f32,          // sgd: lr;  adamw: lr / (1 − β1^t)
  wd: f32,            // sgd
  momentum: f32,      // sgd
  keep: f32,          // sgd: 1 − dampening
  decay: f32,         // adamw: 1 − lr·wd
  one_minus_b1: f32,  // adamw
  beta2: f32,         // adamw
  one_minus_b2: f32,  // adamw
  sqrt_bias2: f32,    // adamw: sqrt(1 − β2^t)
  eps: f32,           // adamw
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> p: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> s1: array<f32>;  // momentum buffer, or m, or SAM's old p
@group(0) @binding(4) var<storage, read_write> s2: array<f32>;  // v
@group(0) @binding(5) var<storage, read_write> s3: array<f32>;  // vmax (amsgrad)
@group(0) @binding(3) var<storage, read> factor: array<f32>;    // sam_perturb's scale
@group(0) @binding(4) var<storage, read_write> old_out: array<f32>;
@group(0) @binding(1) var<storage, read_write> g_rw: array<f32>; // scale: the gradient itself
@group(0) @binding(2) var<storage, read> clip: array<f32>;

fn index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn sgd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= P.n) { return; }
  var d = g[i] + P.wd * p[i];
  if (P.momentum != 0.0) {
    let buf = select(P.momentum * s1[i] + P.keep * d, d, P.first == 1u);
    s1[i] = buf;
    d = select(buf, d + P.momentum * buf, NESTEROV == 1u);
  }
  p[i] -= P.step * d;
}

fn adam_update(i: u32, v_used: f32) {
  let denom = sqrt(v_used) / P.sqrt_bias2 + P.eps;
  p[i] -= P.step * (s1[i] / denom);
}

fn adam_moments(i: u32) {
  p[i] *= P.decay;
  let gi = g[i];
  s1[i] += P.one_minus_b1 * (gi - s1[i]);
  s2[i] = P.beta2 * s2[i] + P.one_minus_b2 * gi * gi;
}

@compute @workgroup_size(WG)
fn adamw(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= P.n) { return; }
  adam_moments(i);
  adam_update(i, s2[i]);
}

@compute @workgroup_size(WG)
fn adamw_amsgrad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= P.n) { return; }
  adam_moments(i);
  s3[i] = max(s3[i], s2[i]);
  adam_update(i, s3[i]);
}

@compute @workgroup_size(WG)
fn sam_perturb(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= P.n) { return; }
  var t2 = 1.0;
  if (ADAPTIVE == 1u) { t2 = p[i] * p[i]; }
  old_out[i] = p[i];
  p[i] += factor[0] * t2 * g[i];
}

@compute @workgroup_size(WG)
fn sam_restore(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= P.n) { return; }
  p[i] = s1[i];
}

@compute @workgroup_size(WG)
fn scale(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= P.n) { return; }
  g_rw[i] *= min(1.0, clip[0]);
}
