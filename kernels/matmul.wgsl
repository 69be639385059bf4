// matmul: batched C[b] = op(A[b]) · op(B[b]), op = identity or transpose (TA, TB overrides).
// Layout: A is [.., M, K] (TA=0) or [.., K, M] (TA=1); B is [.., K, N] (TB=0) or [.., N, K] (TB=1);
// C is [batch, M, N] contiguous. Batch axes (rank <= 8) broadcast: the host passes the output batch
// shape and A's and B's batch strides (0 along broadcast axes). All f32, f32 accumulation.
// Versions (llm.c style; bench/matmul.ts times them against each other and the FMA ceiling):
//   v1: one invocation per output element, 16x16 workgroups. The plain reference kernel.
//   v2: register blocking: each invocation keeps a 4x4 block of C in registers and, per k, loads 4
//       values of A and 4 of B for 16 FMAs; 8x8 invocations cover a 32x32 tile. No workgroup memory:
//       on lavapipe (llvmpipe) barriers cost more than the reuse they buy (measured 8x slower; a
//       vec4 8x4 version with 16-deep k tiles in workgroup memory was still about 2x slower than v6).
//   v3: lanes along N: a 64-wide workgroup covers 8 rows x 64 columns, one column and 8 rows per
//       invocation, so A's addresses are workgroup-uniform. Slower than v2 on lavapipe: it does not
//       turn uniform SSBO addresses into one broadcast load, every lane still loads.
//   v4: vec4 loads (a4v/b4v views): 4x4 block per invocation, k in steps of 4, so one 4x4 block of A
//       and one of B are 8 vec4 loads for 64 FMAs (v2: 32 scalar loads). 8x8 invocations, 32x32 tile.
//   v5: as v4 with an 8x8 block per invocation (four 4x4 quadrants), 64x64 tile.
//   v6: as v4 with an 8x4 block per invocation (two 4x4 blocks stacked along M), 64x32 tile. Fastest.
//   v4-v6 need the vec4 axes (K or M for A, N or K for B) to be multiples of 4; the host falls back
//   to v2 otherwise (src/tensor/matmul.ts).
// Why the vec4 kernels win on llvmpipe: each invocation is one lane of an 8-wide SIMD loop, and an
// SSBO load becomes a per-lane scalar loop with a bounds check per component (about 8 instructions
// per lane and component, uniform addresses included), while an FMA is two 8-wide instructions
// (fma is split into mul + add). Loads dominate, so what counts is FMAs per load instruction: a vec4
// load amortises the per-lane setup over 4 values, and a bigger register block reuses each value
// more, until the accumulators spill: 8x8 (v5) ties with 8x4 at 1024 and loses on smaller shapes,
// 16x4 was slower still, 4x8 a little slower than 8x4 (not kept). Storing C (and reading the
// epilogue's bias and residual) as vec4s in v6 measured within ±10% of scalar stores on a ViT's
// Linear shapes (4250 x 64 x 192 and the like) and 10% slower at 512³, in alternating runs (not kept).
// Tiles need not divide M, N or K: reads are clamped to the last row/column, writes masked.
// Epilogue (every version, in put()): C = A·B + bias + R when BIAS / RES are set. bias is one row
// of N per batch element (P.bias_stride = N) or one row for all (0), broadcast over the M rows; R
// is [batch, M, N] like C. A Linear layer's bias and a residual connection thus cost no pass of
// their own (on lavapipe an elementwise pass over C costs about as much as a small-K matmul).
// Without them the bindings are still statically used: the host binds A there, never read.

override TA: bool = false;
override TB: bool = false;
override BIAS: bool = false;
override RES: bool = false;

struct Params {
  m: u32, n: u32, k: u32, batch: u32,
  brank: u32, bias_stride: u32, _p1: u32, _p2: u32,
  bshape: array<vec4u, 2>,
  a_bstrides: array<vec4u, 2>,
  b_bstrides: array<vec4u, 2>,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> res: array<f32>;

// C[bi, row, col] = v plus the epilogue's terms; the caller masks row and col to the matrix.
fn put(bi: u32, row: u32, col: u32, v: f32) {
  let at = (bi * P.m + row) * P.n + col;
  var y = v;
  if (BIAS) { y += bias[bi * P.bias_stride + col]; }
  if (RES) { y += res[at]; }
  c[at] = y;
}

// Offsets of batch element `bi` in A and B.
fn batch_offsets(bi: u32) -> vec2u {
  var rem = bi;
  var off = vec2u(0u);
  for (var k = i32(P.brank) - 1; k >= 0; k--) {
    let d = P.bshape[k / 4][k % 4];
    let i = rem % d;
    rem = rem / d;
    off += i * vec2u(P.a_bstrides[k / 4][k % 4], P.b_bstrides[k / 4][k % 4]);
  }
  return off;
}

fn a_at(base: u32, row: u32, kk: u32) -> f32 {
  if (TA) { return a[base + kk * P.m + row]; }
  return a[base + row * P.k + kk];
}

fn b_at(base: u32, kk: u32, col: u32) -> f32 {
  if (TB) { return b[base + col * P.k + kk]; }
  return b[base + kk * P.n + col];
}

@compute @workgroup_size(16, 16)
fn v1(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
      @builtin(local_invocation_id) lid: vec3u) {
  let tiles_m = (P.m + 15u) / 16u;
  let tiles_n = (P.n + 15u) / 16u;
  let w = wid.y * nwg.x + wid.x;
  let bi = w / (tiles_m * tiles_n);
  if (bi >= P.batch) { return; }
  let t = w % (tiles_m * tiles_n);
  let row = (t / tiles_n) * 16u + lid.y;
  let col = (t % tiles_n) * 16u + lid.x;
  if (row >= P.m || col >= P.n) { return; }
  let off = batch_offsets(bi);
  var acc = 0.0;
  for (var kk = 0u; kk < P.k; kk++) { acc = fma(a_at(off.x, row, kk), b_at(off.y, kk, col), acc); }
  put(bi, row, col, acc);
}

@compute @workgroup_size(8, 8)
fn v2(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
      @builtin(local_invocation_id) lid: vec3u) {
  let tiles_m = (P.m + 31u) / 32u;
  let tiles_n = (P.n + 31u) / 32u;
  let w = wid.y * nwg.x + wid.x;
  let bi = w / (tiles_m * tiles_n);
  if (bi >= P.batch) { return; }
  let t = w % (tiles_m * tiles_n);
  let row0 = (t / tiles_n) * 32u + lid.y * 4u;
  let col0 = (t % tiles_n) * 32u + lid.x * 4u;
  if (row0 >= P.m || col0 >= P.n) { return; }
  let off = batch_offsets(bi);
  let rows = min(vec4u(row0) + vec4u(0u, 1u, 2u, 3u), vec4u(P.m - 1u));
  let cols = min(vec4u(col0) + vec4u(0u, 1u, 2u, 3u), vec4u(P.n - 1u));
  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  for (var kk = 0u; kk < P.k; kk++) {
    let av = vec4f(a_at(off.x, rows.x, kk), a_at(off.x, rows.y, kk), a_at(off.x, rows.z, kk), a_at(off.x, rows.w, kk));
    let bv = vec4f(b_at(off.y, kk, cols.x), b_at(off.y, kk, cols.y), b_at(off.y, kk, cols.z), b_at(off.y, kk, cols.w));
    acc0 = fma(vec4f(av.x), bv, acc0);
    acc1 = fma(vec4f(av.y), bv, acc1);
    acc2 = fma(vec4f(av.z), bv, acc2);
    acc3 = fma(vec4f(av.w), bv, acc3);
  }
  let accs = array<vec4f, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    let row = row0 + i;
    if (row >= P.m) { break; }
    for (var j = 0u; j < 4u; j++) {
      if (col0 + j < P.n) { put(bi, row, col0 + j, accs[i][j]); }
    }
  }
}

// ---- shared by v3-v6 ----

// (batch index, first row, first column) of workgroup `wid`'s tm x tn output tile.
fn tile_origin(wid: vec3u, nwg: vec3u, tm: u32, tn: u32) -> vec3u {
  let tiles_m = (P.m + tm - 1u) / tm;
  let tiles_n = (P.n + tn - 1u) / tn;
  let w = wid.y * nwg.x + wid.x;
  let t = w % (tiles_m * tiles_n);
  return vec3u(w / (tiles_m * tiles_n), (t / tiles_n) * tm, (t % tiles_n) * tn);
}

// Rows r..r+3, clamped to the last row (their results are masked at the store).
fn rows4(r: u32) -> vec4u { return min(vec4u(r) + vec4u(0u, 1u, 2u, 3u), vec4u(P.m - 1u)); }

// Columns c..c+3, clamped to the last column.
fn cols4(c: u32) -> vec4u { return min(vec4u(c) + vec4u(0u, 1u, 2u, 3u), vec4u(P.n - 1u)); }

fn store(bi: u32, row: u32, col: u32, v: f32) {
  if (row < P.m && col < P.n) { put(bi, row, col, v); }
}

// The 4x4 block acc (acc[i][j] = C[row0 + i, col0 + j]), masked to the matrix.
fn store4x4(bi: u32, row0: u32, col0: u32, acc: mat4x4f) {
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) { store(bi, row0 + i, col0 + j, acc[i][j]); }
  }
}

// acc[i] += a[i] * b: one k step of a 4x4 outer product (a over rows, b over columns).
fn outer(acc: mat4x4f, a: vec4f, b: vec4f) -> mat4x4f {
  return mat4x4f(fma(vec4f(a.x), b, acc[0]), fma(vec4f(a.y), b, acc[1]),
                 fma(vec4f(a.z), b, acc[2]), fma(vec4f(a.w), b, acc[3]));
}

@compute @workgroup_size(64)
fn v3(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
      @builtin(local_invocation_id) lid: vec3u) {
  let t = tile_origin(wid, nwg, 8u, 64u);
  if (t.x >= P.batch) { return; }
  let off = batch_offsets(t.x);
  // rows depend on the workgroup only: A's loads have the same address in every lane
  let r0 = rows4(t.y);
  let r1 = rows4(t.y + 4u);
  // adjacent lanes take adjacent columns: B's loads are contiguous across lanes
  let col = t.z + lid.x;
  let cc = min(col, P.n - 1u);
  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  for (var kk = 0u; kk < P.k; kk++) {
    let bv = vec4f(b_at(off.y, kk, cc));
    acc0 = fma(vec4f(a_at(off.x, r0.x, kk), a_at(off.x, r0.y, kk), a_at(off.x, r0.z, kk), a_at(off.x, r0.w, kk)), bv, acc0);
    acc1 = fma(vec4f(a_at(off.x, r1.x, kk), a_at(off.x, r1.y, kk), a_at(off.x, r1.z, kk), a_at(off.x, r1.w, kk)), bv, acc1);
  }
  for (var i = 0u; i < 4u; i++) {
    store(t.x, t.y + i, col, acc0[i]);
    store(t.x, t.y + 4u + i, col, acc1[i]);
  }
}

// ---- vec4 kernels (v4-v6) ----
// vec4 views of A and B. They alias bindings 1 and 2; no entry point uses both views of one buffer.
// Valid only when every vec4 the kernels read is 16-byte aligned: the host checks that the axis
// read as vec4 (K for A, or M when TA; N for B, or K when TB) is a multiple of 4, which also makes
// the batch strides (whole matrices) multiples of 4.
@group(0) @binding(1) var<storage, read> a4v: array<vec4f>;
@group(0) @binding(2) var<storage, read> b4v: array<vec4f>;

// A[row0..row0+3, k0..k0+3] as columns indexed by k: result[q][i] = A[row0 + i, k0 + q]. k0 is a
// multiple of 4 with k0 + 4 <= K. transpose() is free here: in llvmpipe's SoA code each component
// is its own register, so it only renames them.
fn a_blk(base: u32, row0: u32, k0: u32) -> mat4x4f {
  if (TA) { // A is [K, M]: 4 rows at one k are one vec4 (M % 4 == 0, row0 % 4 == 0)
    let i = (base + k0 * P.m + min(row0, P.m - 4u)) / 4u;
    let s = P.m / 4u;
    return mat4x4f(a4v[i], a4v[i + s], a4v[i + 2u * s], a4v[i + 3u * s]);
  }
  // A is [M, K]: 4 ks of one row are one vec4 (K % 4 == 0)
  let r = rows4(row0);
  return transpose(mat4x4f(a4v[(base + r.x * P.k + k0) / 4u], a4v[(base + r.y * P.k + k0) / 4u],
                           a4v[(base + r.z * P.k + k0) / 4u], a4v[(base + r.w * P.k + k0) / 4u]));
}

// B[k0..k0+3, col0..col0+3] as columns indexed by k: result[q][j] = B[k0 + q, col0 + j].
fn b_blk(base: u32, k0: u32, col0: u32) -> mat4x4f {
  if (TB) { // B is [N, K]: 4 ks of one column are one vec4 (K % 4 == 0)
    let c = cols4(col0);
    return transpose(mat4x4f(b4v[(base + c.x * P.k + k0) / 4u], b4v[(base + c.y * P.k + k0) / 4u],
                             b4v[(base + c.z * P.k + k0) / 4u], b4v[(base + c.w * P.k + k0) / 4u]));
  }
  // B is [K, N]: 4 columns at one k are one vec4 (N % 4 == 0, col0 % 4 == 0)
  let i = (base + k0 * P.n + min(col0, P.n - 4u)) / 4u;
  let s = P.n / 4u;
  return mat4x4f(b4v[i], b4v[i + s], b4v[i + 2u * s], b4v[i + 3u * s]);
}

// Scalar reads through the vec4 views, for the k tail (K % 4 != 0 only happens with TA and !TB).
fn a_s(i: u32) -> f32 { return a4v[i / 4u][i % 4u]; }
fn b_s(i: u32) -> f32 { return b4v[i / 4u][i % 4u]; }

// A[row0..row0+3, kk] and B[kk, col0..col0+3], one k at a time.
fn a_col(base: u32, row0: u32, kk: u32) -> vec4f {
  let r = rows4(row0);
  if (TA) { return vec4f(a_s(base + kk * P.m + r.x), a_s(base + kk * P.m + r.y), a_s(base + kk * P.m + r.z), a_s(base + kk * P.m + r.w)); }
  return vec4f(a_s(base + r.x * P.k + kk), a_s(base + r.y * P.k + kk), a_s(base + r.z * P.k + kk), a_s(base + r.w * P.k + kk));
}
fn b_row(base: u32, kk: u32, col0: u32) -> vec4f {
  let c = cols4(col0);
  if (TB) { return vec4f(b_s(base + c.x * P.k + kk), b_s(base + c.y * P.k + kk), b_s(base + c.z * P.k + kk), b_s(base + c.w * P.k + kk)); }
  return vec4f(b_s(base + kk * P.n + c.x), b_s(base + kk * P.n + c.y), b_s(base + kk * P.n + c.z), b_s(base + kk * P.n + c.w));
}

@compute @workgroup_size(8, 8)
fn v4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
      @builtin(local_invocation_id) lid: vec3u) {
  let t = tile_origin(wid, nwg, 32u, 32u);
  if (t.x >= P.batch) { return; }
  let off = batch_offsets(t.x);
  let row0 = t.y + lid.y * 4u;
  let col0 = t.z + lid.x * 4u;
  var acc = mat4x4f();
  let k4 = P.k & ~3u;
  for (var k0 = 0u; k0 < k4; k0 += 4u) {
    let av = a_blk(off.x, row0, k0);
    let bv = b_blk(off.y, k0, col0);
    for (var q = 0u; q < 4u; q++) { acc = outer(acc, av[q], bv[q]); }
  }
  for (var kk = k4; kk < P.k; kk++) { acc = outer(acc, a_col(off.x, row0, kk), b_row(off.y, kk, col0)); }
  store4x4(t.x, row0, col0, acc);
}

@compute @workgroup_size(8, 8)
fn v5(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
      @builtin(local_invocation_id) lid: vec3u) {
  let t = tile_origin(wid, nwg, 64u, 64u);
  if (t.x >= P.batch) { return; }
  let off = batch_offsets(t.x);
  let row0 = t.y + lid.y * 8u;
  let col0 = t.z + lid.x * 8u;
  // cIJ: rows row0 + 4I.., columns col0 + 4J..
  var c00 = mat4x4f();
  var c01 = mat4x4f();
  var c10 = mat4x4f();
  var c11 = mat4x4f();
  let k4 = P.k & ~3u;
  for (var k0 = 0u; k0 < k4; k0 += 4u) {
    let a0 = a_blk(off.x, row0, k0);
    let a1 = a_blk(off.x, row0 + 4u, k0);
    let b0 = b_blk(off.y, k0, col0);
    let b1 = b_blk(off.y, k0, col0 + 4u);
    for (var q = 0u; q < 4u; q++) {
      c00 = outer(c00, a0[q], b0[q]);
      c01 = outer(c01, a0[q], b1[q]);
      c10 = outer(c10, a1[q], b0[q]);
      c11 = outer(c11, a1[q], b1[q]);
    }
  }
  for (var kk = k4; kk < P.k; kk++) {
    let a0 = a_col(off.x, row0, kk);
    let a1 = a_col(off.x, row0 + 4u, kk);
    let b0 = b_row(off.y, kk, col0);
    let b1 = b_row(off.y, kk, col0 + 4u);
    c00 = outer(c00, a0, b0);
    c01 = outer(c01, a0, b1);
    c10 = outer(c10, a1, b0);
    c11 = outer(c11, a1, b1);
  }
  store4x4(t.x, row0, col0, c00);
  store4x4(t.x, row0, col0 + 4u, c01);
  store4x4(t.x, row0 + 4u, col0, c10);
  store4x4(t.x, row0 + 4u, col0 + 4u, c11);
}

@compute @workgroup_size(8, 8)
fn v6(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
      @builtin(local_invocation_id) lid: vec3u) {
  let t = tile_origin(wid, nwg, 64u, 32u);
  if (t.x >= P.batch) { return; }
  let off = batch_offsets(t.x);
  let row0 = t.y + lid.y * 8u;
  let col0 = t.z + lid.x * 4u;
  // c0: rows row0..row0+3, c1: rows row0+4..row0+7; both share B's 4x4 block: 12 vec4 loads
  // per 128 FMAs, and 32 accumulators still fit the registers (AVX-512's 32 ymm) with little spilling
  var c0 = mat4x4f();
  var c1 = mat4x4f();
  let k4 = P.k & ~3u;
  for (var k0 = 0u; k0 < k4; k0 += 4u) {
    let a0 = a_blk(off.x, row0, k0);
    let a1 = a_blk(off.x, row0 + 4u, k0);
    let b0 = b_blk(off.y, k0, col0);
    for (var q = 0u; q < 4u; q++) {
      c0 = outer(c0, a0[q], b0[q]);
      c1 = outer(c1, a1[q], b0[q]);
    }
  }
  for (var kk = k4; kk < P.k; kk++) {
    let b0 = b_row(off.y, kk, col0);
    c0 = outer(c0, a_col(off.x, row0, kk), b0);
    c1 = outer(c1, a_col(off.x, row0 + 4u, kk), b0);
  }
  store4x4(t.x, row0, col0, c0);
  store4x4(t.x, row0 + 4u, col0, c1);
}
