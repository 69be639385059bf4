// attention: fused scaled dot-product attention O = softmax(Q·Kᵀ·scale)·V, flash-attention style:
// the score matrix is never materialized. BH batch-heads of SQ queries and SK keys, head dim HD,
// f32; LSE [BH, SQ] (the log-sum-exp of each score row, saved for backward) contiguous.
// Layouts: batch-head bh = b·heads + h, and row i of Q starts at element
// b·q_b + h·in_h + i·in_r + q_off (K and V alike with kv_b and k_off, v_off; O and dO with o_b,
// o_h, o_r), so the same kernels serve
//   separate tensors: Q [BH, SQ, HD], K and V [BH, SK, HD], O [BH, SQ, HD] (heads = 1), and
//   a packed projection: Q, K and V inside one qkv [B, T, 3, heads, HD] buffer, O [B, T, heads, HD]
//   (a transformer's qkv linear output and the proj input as they are: no permutes around it).
// dQ, dK and dV have the layouts of Q, K and V; dV goes to dK's buffer at dv_off (after dK, or at
// V's place in a packed gradient). P.causal = 1 masks keys j > i.
// Backward, recomputing P from the saved LSE once, key chunk by key chunk (no atomics):
//   rowdot:      Dv[i] = dO_i · O_i
//   backward_kv: per key row j of the chunk [P.k0, P.k0 + P.kc), over every query i:
//                dS_ij = scale · P_ij (dO_i·V_j − Dv_i),  dV_j = Σ_i P_ij dO_i,  dK_j = Σ_i dS_ij Q_i,
//                and dS of the chunk to the scratch DS [BH, SQ, P.kc] (the chunk's keys contiguous)
//   backward_q:  per query row, after backward_kv of the same chunk: dQ_i (+)= Σ_{j in chunk} dS_ij K_j
//                (the first chunk stores, later ones add to what dQ holds)
// The host runs the two per chunk; a chunk is about a quarter of the keys (all of them up to 64),
// so DS is about a quarter of one score matrix. FlashAttention-2's split (one kernel per query block recomputing P and dP for
// dQ, one per key block for dK and dV) recomputes them twice: 9 matmul-sized passes with the
// forward, against 7 here plus writing and reading dS once (about a tenth of the backward's time,
// measured by leaving it out). Partial dQ per key block instead would need a sum over the block's
// invocations: WGSL has no float atomics, and that needs workgroup memory or subgroups.
// Tiling, register-blocked like matmul v4-v6 (kernels/matmul.wgsl) and for the same reasons:
//   - Each invocation owns 4 rows (queries in forward and backward_q, keys in backward_kv), held
//     as vec4s over those rows: its row data live in private arrays of mat4x4f, element [c][e] =
//     the 4 rows' values at head dim 4c+e. The streamed rows (K, V or Q, dO) are read 4 head dims
//     at a time as one vec4 straight from the storage buffer, and each of their 4 components feeds
//     a 4-wide FMA: 16 FMAs per load. (The previous version, one row per invocation with K/V tiles
//     in workgroup memory, did 1 FMA per load and ran at 0.5-1 GFLOP/s; on lavapipe a load costs
//     far more than an FMA, and workgroup memory plus barriers buy nothing.)
//   - Streamed rows are taken T at a time: T scores (vec4 over the invocation's rows) are computed
//     with head dims in the outer loop, then masked and folded into the online softmax once per
//     block (one rescale of the accumulators per T keys), then the T rows update the accumulators,
//     again head dims outer. T is a small constant, unrolled. T = 8 against 4 (back to back, 2-core
//     lavapipe): forward 15-20% faster at 1024, backward_kv 12-14%; T = 16 slower than both (more
//     live values than registers). Cold pipeline creation grew with it: the backward entry points
//     about 15.5 s against 12.4 s, forward about 3.5 s either way (back to back, loaded machine).
//   - One product per loop over head dims: backward_kv computes scores, dO·V, dV and dK in four
//     loops. Merging the two score loops, or the dV and dK updates, into one loop (fewer loads
//     and private-array reads) was 15-35% slower: the live values no longer fit in registers.
//     Keeping the streamed Q and dO rows of a block in a private array for reuse, instead of
//     loading them again, was about 20% slower: private arrays with a loop index cost more than
//     loads whose address was the same for the whole workgroup (measured when a workgroup took
//     one batch-head; since quad() it may span several). Workgroups of 8 or 32 invocations
//     ran no differently from 16 (4 was slower: fewer than llvmpipe's 8 SIMD lanes).
//   - backward_q reads dS as vec4s of 4 keys per row (DS's rows are per query) and keeps dQ across
//     chunks in its buffer, read and written as vec4s when HD is a multiple of 4.
//   - No workgroup memory and no barriers, so no tile has to fit maxComputeWorkgroupStorageSize.
//   - HD and the causal flag are uniforms, not override constants: one pipeline per entry point
//     serves every head dim (loops over head dims run to P.hd4 and are not unrolled). Cold
//     pipeline creation on lavapipe (2 cores, load-dependent): forward 1.2-2.6 s, the three
//     backward entry points 4-11 s together (with T = 4); previously ~2 s and ~17 s per (HD, CAUSAL)
//     pair. The head dims as an override constant (loop bound known) measured 0-10% faster, the
//     most at HD 32: not worth a pipeline set per head dim.
//     Only VEC4 is specialized: with HD a multiple of 4, rows are read through the vec4 views;
//     otherwise component by component from the same views, dims past HD reading as 0.
//   - The 4-row groups of all batch-heads are numbered in one sequence (quad()), so a workgroup
//     may span batch-heads: with one batch-head per workgroup, a ViT's 17 tokens kept 5 of 16
//     invocations busy. The causal bounds are per invocation (its own last row or first key).
//   - Per-block arrays (scores) are zeroed by an explicit loop, not by their declaration: the
//     declaration inside the loop did not re-zero them per iteration here (wrong results from the
//     second key block on, Dawn + lavapipe).
// Rows past the end of Q or K are clamped to the last row (their results are masked or not stored).

// at4() below takes a pointer to a storage array (WGSL language feature, in Chrome/Dawn since 123).
requires unrestricted_pointer_parameters;

const T = 8u;            // streamed rows per block; a multiple of 4 (backward_q reads dS 4 keys a
                         // vec4) dividing the chunk size P.kc (backward_q reads whole blocks)
const MAX_C = 32u;       // head dims / 4: MAX_HD = 128 (private arrays need a constant size)
override WG: u32 = 16;   // invocations per workgroup, each 4 rows
override VEC4: bool = true;

struct Params {
  bh: u32, sq: u32, sk: u32, scale: f32, neg_inf: f32, hd: u32, hd4: u32, causal: u32, k0: u32, kc: u32,
  // layouts (element strides and offsets; see the header): bh = b·heads + h
  heads: u32, q_b: u32, kv_b: u32, in_h: u32, in_r: u32, q_off: u32, k_off: u32, v_off: u32,
  o_b: u32, o_h: u32, o_r: u32, dv_off: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> q4: array<vec4f>;
@group(0) @binding(2) var<storage, read> k4: array<vec4f>;
@group(0) @binding(3) var<storage, read> v4: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> o: array<f32>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
// backward bindings
@group(0) @binding(4) var<storage, read> o_in: array<f32>;
@group(0) @binding(5) var<storage, read> lse_in: array<f32>;
@group(0) @binding(6) var<storage, read> d_o4: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> dv_row: array<f32>;
@group(0) @binding(7) var<storage, read> dv_in: array<f32>;
@group(0) @binding(8) var<storage, read_write> dq4: array<vec4f>;
@group(0) @binding(8) var<storage, read_write> dkv: array<f32>; // dK and dV, one buffer (see dv_at)
@group(0) @binding(10) var<storage, read_write> ds_out: array<vec4f>;
@group(0) @binding(10) var<storage, read> ds_in: array<vec4f>;

// First element of row i of batch-head bh in Q (and dQ), K (dK), V (dV), and O (dO).
fn at_row(bh: u32, i: u32, b_stride: u32, off: u32) -> u32 {
  return (bh / P.heads) * b_stride + (bh % P.heads) * P.in_h + i * P.in_r + off;
}
// The same for 4 rows at once.
fn at_rows(bh: u32, rows: vec4u, b_stride: u32, off: u32) -> vec4u {
  return vec4u(at_row(bh, rows.x, b_stride, off), at_row(bh, rows.y, b_stride, off), at_row(bh, rows.z, b_stride, off),
               at_row(bh, rows.w, b_stride, off));
}
// Rows i0 .. i0+3 of n, clamped to the last one (their results are masked or not stored).
fn four_rows(i0: u32, n: u32) -> vec4u { return min(vec4u(i0) + vec4u(0u, 1u, 2u, 3u), vec4u(n - 1u)); }
fn q_row(bh: u32, i: u32) -> u32 { return at_row(bh, i, P.q_b, P.q_off); }
fn k_row(bh: u32, j: u32) -> u32 { return at_row(bh, j, P.kv_b, P.k_off); }
fn v_row(bh: u32, j: u32) -> u32 { return at_row(bh, j, P.kv_b, P.v_off); }
// dV's rows in the dK buffer: at V's place in a packed layout, after dK when separate (WebGPU
// refuses two writable bindings of overlapping ranges, which dK and dV of a packed buffer are).
fn dv_at(bh: u32, j: u32) -> u32 { return at_row(bh, j, P.kv_b, P.dv_off); }
fn o_row(bh: u32, i: u32) -> u32 { return (bh / P.heads) * P.o_b + (bh % P.heads) * P.o_h + i * P.o_r; }

// Head dims 4c .. 4c+3 of the row starting at element `row` of one of Q, K, V, dO (zero past HD).
// One function for the four bindings: a pointer parameter into storage needs WGSL's
// unrestricted_pointer_parameters.
fn at4(buf: ptr<storage, array<vec4f>, read>, row: u32, c: u32) -> vec4f {
  if (VEC4) { return (*buf)[row / 4u + c]; }
  let d = vec4u(4u * c) + vec4u(0u, 1u, 2u, 3u);
  let i = row + min(d, vec4u(P.hd - 1u));
  return select(vec4f(0.0), vec4f((*buf)[i.x >> 2u][i.x & 3u], (*buf)[i.y >> 2u][i.y & 3u], (*buf)[i.z >> 2u][i.z & 3u],
                                  (*buf)[i.w >> 2u][i.w & 3u]), d < vec4u(P.hd));
}
// Head dims 4c .. 4c+3 of four rows (their first elements), as a matrix: [e][r] = row r's head dim 4c+e.
fn rows4(buf: ptr<storage, array<vec4f>, read>, rows: vec4u, c: u32) -> mat4x4f {
  return transpose(mat4x4f(at4(buf, rows.x, c), at4(buf, rows.y, c), at4(buf, rows.z, c), at4(buf, rows.w, c)));
}
fn at_q(row: u32, c: u32) -> vec4f { return at4(&q4, row, c); }
fn at_k(row: u32, c: u32) -> vec4f { return at4(&k4, row, c); }
fn at_v(row: u32, c: u32) -> vec4f { return at4(&v4, row, c); }
fn at_do(row: u32, c: u32) -> vec4f { return at4(&d_o4, row, c); }

// s + m·x: the dot of 4 rows (m[e] = their head dim 4c+e) with one streamed chunk x, per row.
fn dot4(s: vec4f, m: mat4x4f, x: vec4f) -> vec4f {
  return fma(m[3], vec4f(x.w), fma(m[2], vec4f(x.z), fma(m[1], vec4f(x.y), fma(m[0], vec4f(x.x), s))));
}

// a[e] += p · x[e]: one streamed chunk x, weighted per row by p, into the 4x4 accumulator block.
fn axpy4(a: mat4x4f, p: vec4f, x: vec4f) -> mat4x4f {
  return mat4x4f(fma(p, vec4f(x.x), a[0]), fma(p, vec4f(x.y), a[1]), fma(p, vec4f(x.z), a[2]),
                 fma(p, vec4f(x.w), a[3]));
}

// Element of head dim 4c+e of the row starting at `row`, or none (0xffffffff) past HD; the 4 rows
// of an invocation are stored one component at a time (a[e][r]), once per kernel.
fn out_at(row: u32, c: u32, e: u32) -> u32 {
  let d = 4u * c + e;
  return select(0xffffffffu, row + d, d < P.hd);
}

// This invocation's (batch-head, first of its 4 rows) among `rows` rows per batch-head: the 4-row
// groups of all batch-heads are numbered in one sequence, so a workgroup may span batch-heads and
// none idles on short sequences (17 tokens filled 5 of 16 invocations when a workgroup took one).
fn quad(wid: vec3u, nwg: vec3u, lid: u32, rows: u32) -> vec2u {
  let g = (wid.y * nwg.x + wid.x) * WG + lid;
  let quads = (rows + 3u) / 4u;
  return vec2u(g / quads, (g % quads) * 4u);
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let qd = quad(wid, nwg, lid, P.sq);
  let bh = qd.x;
  if (bh >= P.bh) { return; }
  let i0 = qd.y;
  let rows = four_rows(i0, P.sq);
  let qrows = at_rows(bh, rows, P.q_b, P.q_off);
  var qr: array<mat4x4f, MAX_C>;
  var acc: array<mat4x4f, MAX_C>;
  for (var c = 0u; c < P.hd4; c++) {
    qr[c] = rows4(&q4, qrows, c) * P.scale;
    acc[c] = mat4x4f();
  }
  var m = vec4f(P.neg_inf);
  var l = vec4f(0.0);
  // causal: no key past the invocation's last row
  var jend = P.sk;
  if (P.causal != 0u) { jend = min(P.sk, i0 + 4u); }
  for (var j0 = 0u; j0 < jend; j0 += T) {
    var kr: array<u32, T>;
    var vr: array<u32, T>;
    for (var t = 0u; t < T; t++) {
      let j = min(j0 + t, P.sk - 1u);
      kr[t] = k_row(bh, j);
      vr[t] = v_row(bh, j);
    }
    var s: array<vec4f, T>;
    for (var t = 0u; t < T; t++) { s[t] = vec4f(0.0); }
    for (var c = 0u; c < P.hd4; c++) {
      let qc = qr[c];
      for (var t = 0u; t < T; t++) { s[t] = dot4(s[t], qc, at_k(kr[t], c)); }
    }
    var bm = vec4f(P.neg_inf);
    for (var t = 0u; t < T; t++) {
      let j = j0 + t;
      let ok = vec4<bool>(j < P.sk) & (vec4<bool>(P.causal == 0u) | (vec4u(j) <= rows));
      s[t] = select(vec4f(P.neg_inf), s[t], ok);
      bm = max(bm, s[t]);
    }
    // every row has a valid key in the first block (key 0), so m_new is finite from there on
    let m_new = max(m, bm);
    let corr = exp(m - m_new);
    l *= corr;
    for (var t = 0u; t < T; t++) {
      s[t] = exp(s[t] - m_new);
      l += s[t];
    }
    m = m_new;
    for (var c = 0u; c < P.hd4; c++) {
      var a = acc[c];
      a = mat4x4f(a[0] * corr, a[1] * corr, a[2] * corr, a[3] * corr);
      for (var t = 0u; t < T; t++) { a = axpy4(a, s[t], at_v(vr[t], c)); }
      acc[c] = a;
    }
  }
  if (i0 >= P.sq) { return; }
  let n = min(4u, P.sq - i0);
  let inv = 1.0 / l;
  for (var c = 0u; c < P.hd4; c++) {
    let a = acc[c];
    for (var e = 0u; e < 4u; e++) {
      for (var r = 0u; r < n; r++) {
        let at = out_at(o_row(bh, i0 + r), c, e);
        if (at != 0xffffffffu) { o[at] = a[e][r] * inv[r]; }
      }
    }
  }
  let ls = m + log(l);
  for (var r = 0u; r < n; r++) { lse[bh * P.sq + i0 + r] = ls[r]; }
}

@compute @workgroup_size(WG)
fn rowdot(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
          @builtin(local_invocation_index) lid: u32) {
  let r = (wid.y * nwg.x + wid.x) * WG + lid;
  if (r >= P.bh * P.sq) { return; }
  let row = o_row(r / P.sq, r % P.sq);
  var s = 0.0;
  for (var d = 0u; d < P.hd; d++) {
    let f = row + d;
    s = fma(d_o4[f >> 2u][f & 3u], o_in[f], s);
  }
  dv_row[r] = s;
}

@compute @workgroup_size(WG)
fn backward_kv(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) lid: u32) {
  let qd = quad(wid, nwg, lid, P.kc);
  let bh = qd.x;
  let j0 = P.k0 + qd.y; // the invocation's first key
  if (bh >= P.bh || j0 >= P.sk) { return; }
  let keys = four_rows(j0, P.sk);
  var kr: array<mat4x4f, MAX_C>;
  var vr: array<mat4x4f, MAX_C>;
  var dka: array<mat4x4f, MAX_C>;
  var dva: array<mat4x4f, MAX_C>;
  let krows = at_rows(bh, keys, P.kv_b, P.k_off);
  let vrows = at_rows(bh, keys, P.kv_b, P.v_off);
  for (var c = 0u; c < P.hd4; c++) {
    kr[c] = rows4(&k4, krows, c) * P.scale;
    vr[c] = rows4(&v4, vrows, c);
    dka[c] = mat4x4f();
    dva[c] = mat4x4f();
  }
  // causal: no query before the invocation's first key sees any of its keys
  var ibeg = 0u;
  if (P.causal != 0u) { ibeg = j0; }
  // DS[(bh, i, j0 - k0) / 4]: 4 keys per vec4. Causal: queries before ibeg are not written (they
  // see none of these keys, and backward_q masks them)
  let dsb = (bh * P.sq * P.kc + j0 - P.k0) / 4u;
  for (var i0 = ibeg; i0 < P.sq; i0 += T) {
    var qi: array<u32, T>;   // flat index of (bh, i) in LSE and Dv
    var qrow: array<u32, T>; // first element of row i in Q
    var orow: array<u32, T>; // and in dO
    for (var t = 0u; t < T; t++) {
      let i = min(i0 + t, P.sq - 1u);
      qi[t] = bh * P.sq + i;
      qrow[t] = q_row(bh, i);
      orow[t] = o_row(bh, i);
    }
    var sc: array<vec4f, T>;
    for (var t = 0u; t < T; t++) { sc[t] = vec4f(0.0); }
    for (var c = 0u; c < P.hd4; c++) {
      let kc = kr[c];
      for (var t = 0u; t < T; t++) { sc[t] = dot4(sc[t], kc, at_q(qrow[t], c)); }
    }
    var dp: array<vec4f, T>;
    for (var t = 0u; t < T; t++) { dp[t] = vec4f(0.0); }
    for (var c = 0u; c < P.hd4; c++) {
      let vc = vr[c];
      for (var t = 0u; t < T; t++) { dp[t] = dot4(dp[t], vc, at_do(orow[t], c)); }
    }
    // P in sc, dS (scaled) in dp
    for (var t = 0u; t < T; t++) {
      let i = i0 + t;
      let ok = vec4<bool>(i < P.sq) & (vec4<bool>(P.causal == 0u) | (keys <= vec4u(i)));
      let p = select(vec4f(0.0), exp(sc[t] - lse_in[qi[t]]), ok);
      sc[t] = p;
      dp[t] = p * (dp[t] - dv_in[qi[t]]) * P.scale;
      if (i < P.sq) { ds_out[dsb + i * (P.kc / 4u)] = dp[t]; }
    }
    for (var c = 0u; c < P.hd4; c++) {
      var av = dva[c];
      for (var t = 0u; t < T; t++) { av = axpy4(av, sc[t], at_do(orow[t], c)); }
      dva[c] = av;
    }
    for (var c = 0u; c < P.hd4; c++) {
      var ak = dka[c];
      for (var t = 0u; t < T; t++) { ak = axpy4(ak, dp[t], at_q(qrow[t], c)); }
      dka[c] = ak;
    }
  }
  let n = min(4u, P.sk - j0);
  for (var c = 0u; c < P.hd4; c++) {
    let ak = dka[c];
    let av = dva[c];
    for (var e = 0u; e < 4u; e++) {
      for (var r = 0u; r < n; r++) {
        let atk = out_at(k_row(bh, j0 + r), c, e);
        if (atk != 0xffffffffu) { dkv[atk] = ak[e][r]; }
        let atv = out_at(dv_at(bh, j0 + r), c, e);
        if (atv != 0xffffffffu) { dkv[atv] = av[e][r]; }
      }
    }
  }
}

// dQ of 4 rows (their first elements), head dims 4c .. 4c+3, as [e][r] (zero past HD), and its
// store for the first n of them: vec4s when VEC4, else one component at a time (a vec4 of dq4 may
// then straddle two rows, so whole-vec4 stores would race with the neighbouring row's invocation).
fn dq_get(rows: vec4u, c: u32) -> mat4x4f {
  var m: mat4x4f;
  for (var r = 0u; r < 4u; r++) {
    var x = vec4f(0.0);
    if (VEC4) {
      x = dq4[rows[r] / 4u + c];
    } else {
      for (var e = 0u; e < 4u; e++) {
        let at = out_at(rows[r], c, e);
        if (at != 0xffffffffu) { x[e] = dq4[at >> 2u][at & 3u]; }
      }
    }
    m[r] = x;
  }
  return transpose(m);
}
fn dq_put(rows: vec4u, n: u32, c: u32, a: mat4x4f) {
  let m = transpose(a);
  for (var r = 0u; r < n; r++) {
    if (VEC4) {
      dq4[rows[r] / 4u + c] = m[r];
    } else {
      for (var e = 0u; e < 4u; e++) {
        let at = out_at(rows[r], c, e);
        if (at != 0xffffffffu) { dq4[at >> 2u][at & 3u] = m[r][e]; }
      }
    }
  }
}

@compute @workgroup_size(WG)
fn backward_q(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_index) lid: u32) {
  let qd = quad(wid, nwg, lid, P.sq);
  let bh = qd.x;
  if (bh >= P.bh) { return; }
  let i0 = qd.y;
  let rows = four_rows(i0, P.sq);
  let qrows = at_rows(bh, rows, P.q_b, P.q_off);
  let n = min(4u, P.sq - min(i0, P.sq));
  var acc: array<mat4x4f, MAX_C>;
  for (var c = 0u; c < P.hd4; c++) {
    var a = mat4x4f();
    if (P.k0 != 0u) { a = dq_get(qrows, c); } // add to the previous chunks' sum
    acc[c] = a;
  }
  var jend = min(P.sk, P.k0 + P.kc);
  if (P.causal != 0u) { jend = min(jend, i0 + 4u); }
  let kc4 = P.kc / 4u;
  let dsb = vec4u(bh * P.sq) + rows;
  for (var j0 = P.k0; j0 < jend; j0 += T) {
    var dst: array<vec4f, T>;
    var kr: array<u32, T>;
    for (var h = 0u; h < T / 4u; h++) {
      // dS of the 4 rows (columns) and 4 keys (components), transposed: [t][r]
      let jl = (j0 - P.k0) / 4u + h;
      let dsr = transpose(mat4x4f(ds_in[dsb.x * kc4 + jl], ds_in[dsb.y * kc4 + jl], ds_in[dsb.z * kc4 + jl],
                                  ds_in[dsb.w * kc4 + jl]));
      for (var e = 0u; e < 4u; e++) {
        let t = 4u * h + e;
        let j = j0 + t;
        let ok = vec4<bool>(j < P.sk) & (vec4<bool>(P.causal == 0u) | (vec4u(j) <= rows));
        dst[t] = select(vec4f(0.0), dsr[e], ok);
        kr[t] = k_row(bh, min(j, P.sk - 1u));
      }
    }
    for (var c = 0u; c < P.hd4; c++) {
      var a = acc[c];
      for (var t = 0u; t < T; t++) { a = axpy4(a, dst[t], at_k(kr[t], c)); }
      acc[c] = a;
    }
  }
  for (var c = 0u; c < P.hd4; c++) { dq_put(qrows, n, c, acc[c]); }
}
