// requires: subgroups
// exchange: how matmul v7-v9 (matmul_subgroups.wgsl) and conv2d v3 (conv2d_subgroups.wgsl) share
// what their lanes load; no entry points of its own (those files extend it). Why: on llvmpipe a
// storage-buffer load costs about ten FMAs per component (a loop over the SIMD lanes with a bounds
// check each), while subgroupShuffle is one permute of a SIMD register, about the cost of an add.
// Lanes work in groups of 8 (lane l = 4p + q, p in 0..1, q in 0..3) on a GEMM tile of 8 rows x 16
// columns, each keeping a 4x4 block of it (rows 4p.., columns 4q..). For 8 ks at a time (k0..k0+7)
// a lane loads one row of A (row l of the tile: a0 = ks 0-3, a1 = ks 4-7) and its 4 columns of B
// at ks 4p..4p+3 (b0..b3), 24 values where it multiplies 128; exchange() then takes, for each k, A's
// 4 values of its rows from lanes 4p..4p+3 and B's 4 of its columns from lane 4(k / 4) + q. With
// `ta4` (matmul v8 with A transposed) a0, a1 instead hold 4 rows at ks 2q and 2q + 1, and a k's
// values come from lane 4p + k / 2 as one vec4.
// Needs subgroups of at least 8 lanes (a multiple of 8) laid along the local invocation index, as
// lavapipe and GPUs lay them; the hosts run other versions elsewhere.

// One block of 8 ks as a lane holds it after its loads: A's values a0, a1 and B's rows b0..b3.
struct Blk { a0: vec4f, a1: vec4f, b0: vec4f, b1: vec4f, b2: vec4f, b3: vec4f }

// A's 4 values for this lane's rows at k0 + kk, from the lanes that loaded them
fn a_rows(av: f32, src_a: u32) -> vec4f {
  return vec4f(subgroupShuffle(av, src_a), subgroupShuffle(av, src_a + 1u), subgroupShuffle(av, src_a + 2u), subgroupShuffle(av, src_a + 3u));
}

// acc plus the block's 8 ks: for k0 + kk, B's row from lane 4(kk / 4) + q (its b(kk % 4)), A's
// values from lanes 4p..4p+3 (their a(kk / 4)[kk % 4]), or with ta4 from lane 4p + kk / 2 (its
// a(kk % 2)); src_a = the group's first lane + 4p, src_b = the group's first lane + q
fn exchange(acc: mat4x4f, x: Blk, src_a: u32, src_b: u32, ta4: bool) -> mat4x4f {
  let av = array<vec4f, 2>(x.a0, x.a1);
  let bv = array<vec4f, 4>(x.b0, x.b1, x.b2, x.b3);
  var c = acc;
  for (var kk = 0u; kk < 8u; kk++) {
    let b = subgroupShuffle(bv[kk % 4u], src_b + 4u * (kk / 4u));
    var a: vec4f;
    if (ta4) { a = subgroupShuffle(av[kk % 2u], src_a + kk / 2u); } else { a = a_rows(av[kk / 4u][kk % 4u], src_a); }
    c = mat4x4f(fma(vec4f(a.x), b, c[0]), fma(vec4f(a.y), b, c[1]), fma(vec4f(a.z), b, c[2]), fma(vec4f(a.w), b, c[3]));
  }
  return c;
}

