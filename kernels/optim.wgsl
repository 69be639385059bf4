// optim: fused optimizer updates over a model's whole flat parameter vector (src/nn/flat.ts): one
// dispatch per step, one invocation per element. The maths follows torch.optim exactly:
//   sgd:    d = g + wd·p;  with momentum: buf = d on the first step, else buf = μ·buf + (1 − dampening)·d;
//           d = nesterov ? d + μ·buf : buf;  p −= lr·d
//   adamw:  p *= 1 − lr·wd (decoupled decay);  m = β1·m + (1 − β1)·g;  v = β2·v + (1 − β2)·g²;
//           (amsgrad: vmax = max(vmax, v), used for v);  p −= (lr / (1 − β1^t)) · m / (sqrt(v) / sqrt(1 − β2^t) + ε)
// and the sharpness-aware perturbation of SAM / ASAM (Foret et al. 2021; Kwon et al. 2021, as the
// reference implementation davda54/sam):
//   sam_perturb: e = scale · T² · g with T = |p| (ASAM) or 1 (SAM), scale = ρ / (‖T·g‖ + 1e-12)
//                read from a one-element buffer computed on the device;  p += e, e kept
//   sam_restore: p −= e
//   scale:       g *= min(1, s[0])  (gradient clipping by global norm: s = max_norm / (‖g‖ + 1e-6))
// Layout: every array is the flat vector of n f32 (padding between parameters included: zero
// gradients keep it zero). 2-D folded grid.

override WG: u32 = 256;
override NESTEROV: u32 = 0;
override ADAPTIVE: u32 = 0;

struct Params {
  n: u32, first: u32, _p0: u32, _p1: u32,
  lr: f32, wd: f32, beta1: f32, beta2: f32,    // sgd: beta1 = momentum, beta2 = dampening
  eps: f32, bias1: f32, bias2: f32, _p2: f32,  // bias corrections 1 − β^t
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> p: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> s1: array<f32>;  // momentum buffer, or m, or e
@group(0) @binding(4) var<storage, read_write> s2: array<f32>;  // v
@group(0) @binding(5) var<storage, read_write> s3: array<f32>;  // vmax (amsgrad)
@group(0) @binding(3) var<storage, read> factor: array<f32>;    // sam_perturb's scale
@group(0) @binding(4) var<storage, read_write> e_out: array<f32>;
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
  if (P.beta1 != 0.0) {
    let buf = select(P.beta1 * s1[i] + (1.0 - P.beta2) * d, d, P.first == 1u);
    s1[i] = buf;
    d = select(buf, d + P.beta1 * buf, NESTEROV == 1u);
  }
  p[i] -= P.lr * d;
}

fn adam_update(i: u32, v_used: f32) {
  let denom = sqrt(v_used) / sqrt(P.bias2) + P.eps;
  p[i] -= (P.lr / P.bias1) * s1[i] / denom;
}

fn adam_moments(i: u32) {
  p[i] *= 1.0 - P.lr * P.wd;
  let gi = g[i];
  s1[i] = P.beta1 * s1[i] + (1.0 - P.beta1) * gi;
  s2[i] = P.beta2 * s2[i] + (1.0 - P.beta2) * gi * gi;
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
  let e = factor[0] * t2 * g[i];
  e_out[i] = e;
  p[i] += e;
}

@compute @workgroup_size(WG)
fn sam_restore(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= P.n) { return; }
  p[i] -= s1[i];
}

@compute @workgroup_size(WG)
fn scale(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= P.n) { return; }
  g_rw[i] *= min(1.0, clip[0]);
}
