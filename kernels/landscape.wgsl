// landscape: the per-point step of the batched landscape evaluator's first layer (combine for a
// Linear, combine_pooled for a Conv2d, below). The first layer is
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

// combine_pooled: the same for a first Conv2d, fused with the per-channel affine, ReLU and max-pool
// that follow it (each optional), so the full-resolution combination is never written:
//   u = scale[k, c]·(base + α[k]·p1 + β[k]·p2) + shift[k, c]        per input pixel
//   y[b, k·C + c, oh, ow] = ReLU(max over the pool window of u)      (window 1x1 without a pool)
// scale/shift carry a conv bias (scale 1) or an eval-mode BatchNorm (w/√(var+ε), b − mean·scale),
// which may be negative, so they apply before the max; ReLU commutes with it, so it applies after.
// Layout: prod [B, S·C, H, W], the conv of the batch with [W₀; D₁; D₂] stacked on output channels
// (S = 2 without d₂); y [B, K·C, OH, OW], points as channel groups (the image layout of the stacked
// layers that follow). Window as pool2d.wgsl (padding counts as −inf). One invocation per output.
struct PooledParams {
  b: u32, k: u32, c: u32, h: u32,
  w: u32, oh: u32, ow: u32, kh: u32,
  kw: u32, sh: u32, sw: u32, ph: u32,
  pw: u32, flags: u32, _p0: u32, _p1: u32,  // flags: 1 = p2 present, 2 = scale present, 4 = ReLU after
}
@group(0) @binding(0) var<uniform> Q: PooledParams;
@group(0) @binding(1) var<storage, read> prod: array<f32>;
// alpha, beta at bindings 4, 5 as above
@group(0) @binding(2) var<storage, read> scale: array<f32>;
@group(0) @binding(3) var<storage, read> shift: array<f32>;
@group(0) @binding(7) var<storage, read_write> pooled: array<f32>;

@compute @workgroup_size(WG)
fn combine_pooled(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                  @builtin(local_invocation_index) lid: u32) {
  let e = (wid.y * nwg.x + wid.x) * WG + lid;
  if (e >= Q.b * Q.k * Q.c * Q.oh * Q.ow) { return; }
  let ow = e % Q.ow;
  let oh = (e / Q.ow) % Q.oh;
  let c = (e / (Q.ow * Q.oh)) % Q.c;
  let k = (e / (Q.ow * Q.oh * Q.c)) % Q.k;
  let b = e / (Q.ow * Q.oh * Q.c * Q.k);
  let two = (Q.flags & 1u) != 0u;
  let plane = Q.h * Q.w;
  let p0 = (b * select(2u, 3u, two) * Q.c + c) * plane;  // θ's channel c; d₁'s is C planes on, d₂'s 2C
  let a = alpha[k];
  let bt = select(0.0, beta[k], two);
  let sc = select(1.0, scale[k * Q.c + c], (Q.flags & 2u) != 0u);
  let sf = shift[k * Q.c + c];
  let r0 = i32(oh * Q.sh) - i32(Q.ph);
  let c0 = i32(ow * Q.sw) - i32(Q.pw);
  var m = -3.402823e38;
  for (var i = max(r0, 0); i < min(r0 + i32(Q.kh), i32(Q.h)); i++) {
    for (var j = max(c0, 0); j < min(c0 + i32(Q.kw), i32(Q.w)); j++) {
      let at = p0 + u32(i) * Q.w + u32(j);
      var v = prod[at] + a * prod[at + Q.c * plane];
      if (two) { v += bt * prod[at + 2u * Q.c * plane]; }
      // NaN wins and stays (as pool2d.wgsl), so a point whose loss overflowed is flagged, not hidden
      let u = sc * v + sf;
      if (u > m || (bitcast<u32>(u) & 0x7fffffffu) > 0x7f800000u) { m = u; }
    }
  }
  if ((Q.flags & 4u) != 0u) { m = select(m, 0.0, m < 0.0); }
  pooled[e] = m;  // e = ((b·K + k)·C + c)·OH·OW + oh·OW + ow
}
