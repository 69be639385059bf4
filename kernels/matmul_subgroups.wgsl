// requires: subgroups
// extends: matmul
// matmul, versions that exchange values between the lanes of a subgroup (the WGSL subgroups
// extension; kept apart from matmul.wgsl because a module that enables it does not compile on
// adapters without it). Same Params, bindings, epilogue and helpers as matmul.wgsl, which the
// engine puts before this file (src/gpu/kernel-source.ts).
//   v7: lanes in groups of 8 share what they load. On llvmpipe a storage-buffer load costs about
//       ten FMAs per component (a loop over the SIMD lanes with a bounds check each, uniform
//       addresses included) while subgroupShuffle is one permute of a SIMD register (measured:
//       about the cost of an add), so v1-v6, which load every value they use, are bound by their
//       loads: v6 loads 3 values per 8 FMAs per lane. Here each value is loaded by one lane of
//       the group and shuffled to the lanes that use it: per k a lane loads 3 values for 16 FMAs.
//       Lane l = 4p + q (p in 0..1, q in 0..3) keeps a 4x4 block of C (rows 4p.., columns 4q.. of
//       the group's 8 x 16 tile); per block of 8 ks it loads A's row l of the tile (8 values) and
//       B's columns 4q..4q+3 at ks p, p+2, p+4, p+6 (16 values), then takes each k's 4 values of
//       A from lanes 4p..4p+3 and its 4 of B from lane 4(k % 2) + q. 16 accumulators and the 24
//       loaded values overflow AVX2's 16 vector registers a little; 8x8 and 4x8 blocks per lane
//       (more reuse, more spilling) measured slower on a 2-core Zen 3.
//       Eight groups make a 32x32 workgroup tile. Loads are scalar (a_at, b_at), so any shape,
//       transpose and alignment runs; rows and columns past the edge are clamped and masked at
//       the store, ks past K read as 0 in the last block.
//   Needs subgroups of at least 8 lanes (a multiple of 8) laid along the local invocation index,
//   as lavapipe and GPUs lay them; the host runs v6 elsewhere (src/tensor/matmul.ts), and the
//   autotuner checks each version against a float64 product before timing it.

// One block of 8 ks as a lane holds it after its loads: A's values a0, a1 and B's rows b0..b3
// (which lanes hold what: see v7 above).
struct Blk { a0: vec4f, a1: vec4f, b0: vec4f, b1: vec4f, b2: vec4f, b3: vec4f }

// ks k..k+3 that are past K (in the last block): their values read as 0
fn live4(k: u32) -> vec4<bool> { return vec4u(k) + vec4u(0u, 1u, 2u, 3u) < vec4u(P.k); }

// v7's loads, scalar: a0, a1 = A[arow, k0..k0+7]; bt = B[k0 + 4p + t, bcols]
fn v7_load(off: vec2u, arow: u32, bcols: vec4u, k0: u32, p: u32) -> Blk {
  var a: array<vec4f, 2>;
  var b: array<vec4f, 4>;
  for (var h = 0u; h < 2u; h++) {
    let ks = min(vec4u(k0 + 4u * h) + vec4u(0u, 1u, 2u, 3u), vec4u(P.k - 1u));
    let v = vec4f(a_at(off.x, arow, ks.x), a_at(off.x, arow, ks.y), a_at(off.x, arow, ks.z), a_at(off.x, arow, ks.w));
    a[h] = select(vec4f(0.0), v, live4(k0 + 4u * h));
  }
  for (var t = 0u; t < 4u; t++) {
    let k = k0 + 4u * p + t;
    let kk = min(k, P.k - 1u);
    let v = vec4f(b_at(off.y, kk, bcols.x), b_at(off.y, kk, bcols.y), b_at(off.y, kk, bcols.z), b_at(off.y, kk, bcols.w));
    b[t] = select(vec4f(0.0), v, k < P.k);
  }
  return Blk(a[0], a[1], b[0], b[1], b[2], b[3]);
}

// v8's loads, through the vec4 views (matmul.wgsl's a4v, b4v; the host checks vec4Ok):
// A: without TA a0, a1 = A[arow, k0..k0+7]; with TA (A is [K, M]) a0, a1 = A at ks k0 + 2q and
// k0 + 2q + 1, rows row0 + 4p..+3 (4 rows at one k are one vec4). B: bt = B[k0 + 4p + t, the 4
// columns]: one vec4 each without TB, the transpose of 4 columns' vec4s along K with TB.
fn v8_load(off: vec2u, arow: u32, rows: u32, col: u32, k0: u32, p: u32, q: u32) -> Blk {
  var a: array<vec4f, 2>;
  var b: array<vec4f, 4>;
  for (var h = 0u; h < 2u; h++) {
    if (TA) {
      let k = k0 + 2u * q + h;
      a[h] = select(vec4f(0.0), a4v[(off.x + min(k, P.k - 1u) * P.m + min(rows, P.m - 4u)) / 4u], k < P.k);
    } else {
      let k = k0 + 4u * h;
      a[h] = select(vec4f(0.0), a4v[(off.x + arow * P.k + min(k, P.k - 4u)) / 4u], k < P.k);
    }
  }
  let k4 = k0 + 4u * p;
  if (TB) {
    let c = cols4(col);
    let kk = min(k4, P.k - 4u);
    let m = transpose(mat4x4f(b4v[(off.y + c.x * P.k + kk) / 4u], b4v[(off.y + c.y * P.k + kk) / 4u],
                              b4v[(off.y + c.z * P.k + kk) / 4u], b4v[(off.y + c.w * P.k + kk) / 4u]));
    let live = k4 < P.k;
    return Blk(a[0], a[1], select(vec4f(0.0), m[0], live), select(vec4f(0.0), m[1], live), select(vec4f(0.0), m[2], live), select(vec4f(0.0), m[3], live));
  }
  for (var t = 0u; t < 4u; t++) {
    let k = k4 + t;
    b[t] = select(vec4f(0.0), b4v[(off.y + min(k, P.k - 1u) * P.n + min(col, P.n - 4u)) / 4u], k < P.k);
  }
  return Blk(a[0], a[1], b[0], b[1], b[2], b[3]);
}

// A's 4 values for this lane's rows at k0 + kk, from the lanes that loaded them
fn v7_arow(av: f32, src_a: u32) -> vec4f {
  return vec4f(subgroupShuffle(av, src_a), subgroupShuffle(av, src_a + 1u), subgroupShuffle(av, src_a + 2u), subgroupShuffle(av, src_a + 3u));
}

// the 8 ks of a block: for k0 + kk, B's row from lane 4(kk / 4) + q (its b(kk % 4)), A's values
// from lanes 4p..4p+3 (their a(kk / 4)[kk % 4]), or with v8's TA from lane 4p + kk / 2 (its a(kk % 2))
fn exchange(acc: mat4x4f, x: Blk, src_a: u32, src_b: u32, ta4: bool) -> mat4x4f {
  let av = array<vec4f, 2>(x.a0, x.a1);
  let bv = array<vec4f, 4>(x.b0, x.b1, x.b2, x.b3);
  var c = acc;
  for (var kk = 0u; kk < 8u; kk++) {
    let b = subgroupShuffle(bv[kk % 4u], src_b + 4u * (kk / 4u));
    var a: vec4f;
    if (ta4) { a = subgroupShuffle(av[kk % 2u], src_a + kk / 2u); } else { a = v7_arow(av[kk / 4u][kk % 4u], src_a); }
    c = outer(c, a, b);
  }
  return c;
}

struct Lanes { t: vec3u, off: vec2u, p: u32, q: u32, row0: u32, col0: u32, src_a: u32, src_b: u32 }

// Where a lane's group of 8 sits in the workgroup's 32 x 32 tile t, and which lanes it reads from.
fn lanes(t: vec3u, lid: u32, sid: u32) -> Lanes {
  let g = lid / 8u;      // the group: its 8 x 16 tile
  let lane0 = sid & ~7u; // the group's first lane in the subgroup
  let l = sid & 7u;
  let p = l / 4u;
  let q = l % 4u;
  return Lanes(t, batch_offsets(min(t.x, P.batch - 1u)), p, q, t.y + (g / 2u) * 8u, t.z + (g % 2u) * 16u, lane0 + 4u * p, lane0 + q);
}

@compute @workgroup_size(64)
fn v7(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
      @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32) {
  let t = tile_origin(wid, nwg, 32u, 32u);
  if (t.x >= P.batch) { return; } // the whole workgroup: subgroup operations below stay uniform
  let L = lanes(t, lid, sid);
  let arow = min(L.row0 + 4u * L.p + L.q, P.m - 1u);
  let bcols = cols4(L.col0 + 4u * L.q);
  var acc = mat4x4f();
  for (var k0 = 0u; k0 < P.k; k0 += 8u) { acc = exchange(acc, v7_load(L.off, arow, bcols, k0, L.p), L.src_a, L.src_b, false); }
  store4x4(L.t.x, L.row0 + 4u * L.p, L.col0 + 4u * L.q, acc);
}

@compute @workgroup_size(64)
fn v8(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
      @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32) {
  let t = tile_origin(wid, nwg, 32u, 32u);
  if (t.x >= P.batch) { return; }
  let L = lanes(t, lid, sid);
  let arow = min(L.row0 + 4u * L.p + L.q, P.m - 1u);
  var acc = mat4x4f();
  for (var k0 = 0u; k0 < P.k; k0 += 8u) {
    acc = exchange(acc, v8_load(L.off, arow, L.row0 + 4u * L.p, L.col0 + 4u * L.q, k0, L.p, L.q), L.src_a, L.src_b, TA);
  }
  store4x4(L.t.x, L.row0 + 4u * L.p, L.col0 + 4u * L.q, acc);
}
