// extends: matmul, exchange
// matmul, versions whose lanes share what they load through subgroupShuffle (exchange.wgsl: the
// WGSL subgroups extension, kept apart from matmul.wgsl because a module that enables it does not
// compile on adapters without it). Same Params, bindings, epilogue and helpers as matmul.wgsl, which
// the engine puts before this file (src/gpu/kernel-source.ts).
//   v7: exchange.wgsl's groups of 8 lanes, 4x4 blocks of C per lane, scalar loads (a_at, b_at):
//       any shape, transpose and alignment. v6 loads 3 values per 8 FMAs per lane; v7 loads 3 for
//       16 (and shuffles 8). 16 accumulators and the 24 loaded values overflow AVX2's 16 vector
//       registers a little; 8x8 and 4x8 blocks per lane (more reuse, more spilling) were slower.
//   v8: v7 reading A and B through matmul.wgsl's vec4 views where vec4Ok allows (the host runs v7
//       otherwise): on llvmpipe a vec4 load costs less than four scalar ones with their address
//       arithmetic and clamps (1024³ on a 2-core Zen 3: v8 1.3-1.7x v7 in alternating runs).
//   v9: v8 with an 8x4 block per lane (two 4x4 blocks sharing B's loads; the group's tile 16 x 16,
//       the workgroup's 64 x 32): 4 loaded values per k for 32 FMAs. 32 accumulators spill on AVX2,
//       yet it ran 1.1-1.5x v8 at 512³ and 1024³ (alternating runs, 2-core Zen 3).
//   v7 and v8's eight groups make a 32x32 workgroup tile (64x16 with GN = 1, v9's 128x16); rows and columns past the edge are clamped and
//   masked at the store, ks past K read as 0 in the last block. Where subgroups of 8 lanes are
//   missing the host runs v6 (src/tensor/matmul.ts); the autotuner checks each version against a
//   float64 product before timing it.

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

// v8's and v9's loads, through the vec4 views (matmul.wgsl's a4v, b4v; the host checks vec4Ok).
// A: without TA, A[arow, k0..k0+7]; with TA (A is [K, M]), A at ks k0 + 2q and k0 + 2q + 1, rows
// `rows`..+3 (4 rows at one k are one vec4).
fn v8_a(off: vec2u, arow: u32, rows: u32, k0: u32, q: u32) -> array<vec4f, 2> {
  var a: array<vec4f, 2>;
  for (var h = 0u; h < 2u; h++) {
    if (TA) {
      let k = k0 + 2u * q + h;
      a[h] = select(vec4f(0.0), a4v[(off.x + min(k, P.k - 1u) * P.m + min(rows, P.m - 4u)) / 4u], k < P.k);
    } else {
      let k = k0 + 4u * h;
      a[h] = select(vec4f(0.0), a4v[(off.x + arow * P.k + min(k, P.k - 4u)) / 4u], k < P.k);
    }
  }
  return a;
}

// B[k0 + 4p + t, the 4 columns from col] for t = 0..3: one vec4 each without TB, the transpose of 4
// columns' vec4s along K with TB.
fn v8_b(off: vec2u, col: u32, k0: u32, p: u32) -> array<vec4f, 4> {
  let k4 = k0 + 4u * p;
  var b: array<vec4f, 4>;
  if (TB) {
    let c = cols4(col);
    let kk = min(k4, P.k - 4u);
    let m = transpose(mat4x4f(b4v[(off.y + c.x * P.k + kk) / 4u], b4v[(off.y + c.y * P.k + kk) / 4u],
                              b4v[(off.y + c.z * P.k + kk) / 4u], b4v[(off.y + c.w * P.k + kk) / 4u]));
    for (var t = 0u; t < 4u; t++) { b[t] = select(vec4f(0.0), m[t], k4 < P.k); }
    return b;
  }
  for (var t = 0u; t < 4u; t++) {
    let k = k4 + t;
    b[t] = select(vec4f(0.0), b4v[(off.y + min(k, P.k - 1u) * P.n + min(col, P.n - 4u)) / 4u], k < P.k);
  }
  return b;
}

// groups of 8 lanes side by side along N (16·GN columns), 8 / GN along M: the host sets 1 for an
// output of at most 16 columns (a classifier's 10), where 2 would leave 22 of 32 columns idle
override GN: u32 = 2;

struct Lanes { t: vec3u, off: vec2u, p: u32, q: u32, row0: u32, col0: u32, src_a: u32, src_b: u32 }

// The workgroup's tile (groups of `rows` x 16, 8 / GN x GN of them), where this lane's group sits
// in it, and which lanes it reads from.
fn lanes(wid: vec3u, nwg: vec3u, lid: u32, sid: u32, rows: u32) -> Lanes {
  let t = tile_origin(wid, nwg, rows * (8u / GN), 16u * GN);
  let g = lid / 8u;      // the group
  let lane0 = sid & ~7u; // the group's first lane in the subgroup
  let l = sid & 7u;
  let p = l / 4u;
  let q = l % 4u;
  return Lanes(t, batch_offsets(min(t.x, P.batch - 1u)), p, q, t.y + (g / GN) * rows, t.z + (g % GN) * 16u, lane0 + 4u * p, lane0 + q);
}

@compute @workgroup_size(64)
fn v7(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
      @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32) {
  let t = tile_origin(wid, nwg, 8u * (8u / GN), 16u * GN);
  if (t.x >= P.batch) { return; } // the whole workgroup: subgroup operations below stay uniform
  let L = lanes(wid, nwg, lid, sid, 8u);
  let arow = min(L.row0 + 4u * L.p + L.q, P.m - 1u);
  let bcols = cols4(L.col0 + 4u * L.q);
  var acc = mat4x4f();
  for (var k0 = 0u; k0 < P.k; k0 += 8u) { acc = exchange(acc, v7_load(L.off, arow, bcols, k0, L.p), L.src_a, L.src_b, false); }
  store4x4(L.t.x, L.row0 + 4u * L.p, L.col0 + 4u * L.q, acc);
}

@compute @workgroup_size(64)
fn v8(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
      @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32) {
  let t = tile_origin(wid, nwg, 8u * (8u / GN), 16u * GN);
  if (t.x >= P.batch) { return; }
  let L = lanes(wid, nwg, lid, sid, 8u);
  let arow = min(L.row0 + 4u * L.p + L.q, P.m - 1u);
  let col = L.col0 + 4u * L.q;
  var acc = mat4x4f();
  for (var k0 = 0u; k0 < P.k; k0 += 8u) {
    let a = v8_a(L.off, arow, L.row0 + 4u * L.p, k0, L.q);
    let b = v8_b(L.off, col, k0, L.p);
    acc = exchange(acc, Blk(a[0], a[1], b[0], b[1], b[2], b[3]), L.src_a, L.src_b, TA);
  }
  store4x4(L.t.x, L.row0 + 4u * L.p, col, acc);
}

// v9: v8 with two 4x4 blocks per lane, rows 4p.. and 8 + 4p.. of the group's 16 x 16 tile: both
// take the same B (loaded once), so a lane loads 4 values per k for 32 FMAs
@compute @workgroup_size(64)
fn v9(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
      @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32) {
  let t = tile_origin(wid, nwg, 16u * (8u / GN), 16u * GN);
  if (t.x >= P.batch) { return; }
  let L = lanes(wid, nwg, lid, sid, 16u);
  let rows = L.row0 + 4u * L.p;
  let arow = L.row0 + 4u * L.p + L.q;
  let col = L.col0 + 4u * L.q;
  var c0 = mat4x4f();
  var c1 = mat4x4f();
  for (var k0 = 0u; k0 < P.k; k0 += 8u) {
    let b = v8_b(L.off, col, k0, L.p);
    let a0 = v8_a(L.off, min(arow, P.m - 1u), rows, k0, L.q);
    let a1 = v8_a(L.off, min(arow + 8u, P.m - 1u), rows + 8u, k0, L.q);
    c0 = exchange(c0, Blk(a0[0], a0[1], b[0], b[1], b[2], b[3]), L.src_a, L.src_b, TA);
    c1 = exchange(c1, Blk(a1[0], a1[1], b[0], b[1], b[2], b[3]), L.src_a, L.src_b, TA);
  }
  store4x4(L.t.x, rows, col, c0);
  store4x4(L.t.x, rows + 8u, col, c1);
}
