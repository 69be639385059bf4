// landscape: the per-point step of the batched landscape evaluator's first layer. The first layer is
// linear in θ, so its output at θ₀ + α_k·d₁ + β_k·d₂ is a combination of three products shared by all
// points (base = f(X; W₀), p1 = f(X; D₁), p2 = f(X; D₂)) plus the point's bias:
//   y[k, i] = base[i] + α[k]·p1[i] + β[k]·p2[i] + bias[k, i mod F]   (then ReLU, when the next layer is one)
// written for K points in one pass (composing it from broadcast ops took five passes over K·n).
// Layout: base, p1, p2 contiguous [n] (n = rows·F); alpha, beta [K]; bias [K, F]; y [K, n].
// p2 and bias are optional (flags); unused bindings are bound to p1 / base, read-only.
// One invocation per output element, 2-D folded grid.

override WG: u32 = 256;

struct Params { k: u32, n: u32, f: u32, flags: u32 }  // flags: 1 = p2 present, 2 = bias present, 4 = ReLU after
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> base: array<f32>;
@group(0) @binding(2) var<storage, read> p1: array<f32>;
@group(0) @binding(3) var<storage, read> p2: array<f32>;
@group(0) @binding(4) var<storage, read> alpha: array<f32>;
@group(0) @binding(5) var<storage, read> beta: array<f32>;
@group(0) @binding(6) var<storage, read> bias: array<f32>;
@group(0) @binding(7) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn combine(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let e = (wid.y * nwg.x + wid.x) * WG + lid;
  if (e >= P.k * P.n) { return; }
  let k = e / P.n;
  let i = e % P.n;
  var v = base[i] + alpha[k] * p1[i];
  if ((P.flags & 1u) != 0u) { v += beta[k] * p2[i]; }
  if ((P.flags & 2u) != 0u) { v += bias[k * P.f + i % P.f]; }
  if ((P.flags & 4u) != 0u) { v = max(v, 0.0); }
  y[e] = v;
}
