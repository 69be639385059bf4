// landscape: the per-point step of the batched landscape evaluator's first layer (combine for a
// Linear, combine_pooled for a Conv2d, below). The first layer is
// linear in θ, so its output at θ₀ + α_k·d₁ + β_k·d₂ is a combination of three products shared by all
// points (base = f(X; W₀), p1 = f(X; D₁), p2 = f(X; D₂)) plus the point's bias:
//   y[k, i] = base[i] + α[k]·p1[i] + β[k]·p2[i] + bias[k, i mod F]   (then ReLU, when the next layer is one)
// written for K points in one pass (composing it from broadcast ops took five passes over K·n).
// Layout: base, p1, p2 contiguous [n] (n = rows·F); alpha, beta [K]; bias [K, F]; y [K, n].
// p2 and bias are optional (flags); unused bindings are bound to p1 / base, read-only.
// Both entries read and write through vec4 views widened to whole vec4s (Tensor.buffer4). 2-D folded grid.
// combine_points, where F (so n) is a multiple of 4: one vec4 of the shared products per invocation,
// for every point in turn. combine, any F: 4 consecutive outputs per invocation, by component reads;
// each invocation writes its own vec4 of y, the last one partly into y's padding. (One output per
// invocation made the batched MLP's per-point work, mostly this pass, load-bound on llvmpipe.)

override WG: u32 = 256;

struct Params { k: u32, n: u32, f: u32, flags: u32 }  // flags: 1 = p2 present, 2 = bias present, 4 = ReLU after
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(4) var<storage, read> alpha: array<f32>;
@group(0) @binding(5) var<storage, read> beta: array<f32>;
@group(0) @binding(1) var<storage, read> base4: array<vec4f>;
@group(0) @binding(2) var<storage, read> p14: array<vec4f>;
@group(0) @binding(3) var<storage, read> p24: array<vec4f>;
@group(0) @binding(6) var<storage, read> bias4: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> y4: array<vec4f>;

@compute @workgroup_size(WG)
fn combine(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let j = (wid.y * nwg.x + wid.x) * WG + lid;
  if (j >= (P.k * P.n + 3u) / 4u) { return; }
  var v: vec4f;
  for (var c = 0u; c < 4u; c++) {
    let e = 4u * j + c;
    let k = min(e / P.n, P.k - 1u);
    let i = e % P.n;
    v[c] = base4[i >> 2u][i & 3u] + alpha[k] * p14[i >> 2u][i & 3u];
    if ((P.flags & 1u) != 0u) { v[c] += beta[k] * p24[i >> 2u][i & 3u]; }
    let bi = k * P.f + i % P.f;
    if ((P.flags & 2u) != 0u) { v[c] += bias4[bi >> 2u][bi & 3u]; }
  }
  if ((P.flags & 4u) != 0u) { v = max(v, vec4f(0.0)); }
  y4[j] = v;
}

// combine_points: combine when F is a multiple of 4, one vec4 of the shared products per invocation
// for every point in turn: base, p1 and p2 are read once instead of once per point, and each point's
// 4 outputs are two FMAs, its bias vec4 and a store away (α, β at the same address in every lane).
// The stores of one point are contiguous across lanes. (It replaced combine's whole-vec4 branch: the
// batched MLP 1.47x faster on llvmpipe, bench/RESULTS.md.)
@compute @workgroup_size(WG)
fn combine_points(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                  @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= P.n / 4u) { return; }
  let u0 = base4[i];
  let u1 = p14[i];
  var u2 = vec4f(0.0);
  if ((P.flags & 1u) != 0u) { u2 = p24[i]; }
  let f = (4u * i) % P.f;
  for (var k = 0u; k < P.k; k++) {
    var v = u0 + alpha[k] * u1 + beta[k] * u2;
    if ((P.flags & 2u) != 0u) { v += bias4[(k * P.f + f) / 4u]; }
    if ((P.flags & 4u) != 0u) { v = max(v, vec4f(0.0)); }
    y4[k * (P.n / 4u) + i] = v;
  }
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
