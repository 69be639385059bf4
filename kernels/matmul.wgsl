// matmul: batched C[b] = op(A[b]) · op(B[b]), op = identity or transpose (TA, TB overrides).
// Layout: A is [.., M, K] (TA=0) or [.., K, M] (TA=1); B is [.., K, N] (TB=0) or [.., N, K] (TB=1);
// C is [batch, M, N] contiguous. Batch axes (rank <= 8) broadcast: the host passes the output batch
// shape and A's and B's batch strides (0 along broadcast axes). All f32, f32 accumulation.
// Versions (llm.c style; bench/matmul.ts times them against each other and the FMA ceiling):
//   v1: one invocation per output element, 16x16 workgroups. The plain reference kernel.
//   v2: register blocking: each invocation keeps a 4x4 block of C in registers and, per k, loads 4
//       values of A and 4 of B for 16 FMAs; 8x8 invocations cover a 32x32 tile. No workgroup memory:
//       on lavapipe (llvmpipe) barriers cost more than the reuse they buy (measured 8x slower).
// Tiles need not divide M, N or K: reads are clamped to the last row/column, writes masked.

override TA: bool = false;
override TB: bool = false;

struct Params {
  m: u32, n: u32, k: u32, batch: u32,
  brank: u32, _p0: u32, _p1: u32, _p2: u32,
  bshape: array<vec4u, 2>,
  a_bstrides: array<vec4u, 2>,
  b_bstrides: array<vec4u, 2>,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

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
  c[(bi * P.m + row) * P.n + col] = acc;
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
      if (col0 + j < P.n) { c[(bi * P.m + row) * P.n + col0 + j] = accs[i][j]; }
    }
  }
}
