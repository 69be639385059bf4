// extends: conv2d, exchange
// conv2d, v3: the forward and the input gradient with lanes that share what they load through
// subgroupShuffle (exchange.wgsl; kept apart from conv2d.wgsl because a module that enables
// subgroups does not compile without them). Same Params, bindings and layouts as conv2d.wgsl, which
// the engine puts first.
//   v3 (forward_sg): the implicit GEMM Y[(n,oh,ow), oc] = Σ_k X[(n,oh,ow), k] · Wt[k, oc] of one
//       group with exchange.wgsl's groups of 8 lanes: per 8 ks a lane loads one output pixel's 8
//       input taps (A's row) and 4 rows of 4 output channels of the transposed weights (B), where
//       conv2d.wgsl's forward loads 4 pixels' taps and 8 weight rows for the same 128 FMAs. The
//       taps (input channel, kernel row, kernel column) of k0..k0+7 are stepped, never divided
//       (divisions in the k loop had made the first implicit GEMM 3-4x slower on lavapipe), and are
//       the same for every lane. With POOL each 4 rows of the tile are one pooled pixel's 2x2
//       window, so a lane's 4x4 block reduces to the max over its rows.
//       GN groups of 8 lanes sit side by side along the channels (16·GN of them), 8 / GN along
//       the pixels; the host picks GN = 1 for at most 16 channels per group.
//   v3 (input_sg): the input gradient the same way, k over (output channel, kernel row, column)
//       and a tap's output pixel found as backward_input finds it (whole and in range); the host
//       permutes the weights to [groups, OCg·KH·KW, Cg] so that 4 input channels are one vec4.

override GN: u32 = 2;

// The tap of one k: input channel, kernel row and column.
struct Tap { ic: u32, kh: u32, kw: u32 }

fn next_tap(t: Tap) -> Tap {
  var n = Tap(t.ic, t.kh, t.kw + 1u);
  if (n.kw == P.kw) {
    n.kw = 0u;
    n.kh++;
    if (n.kh == P.kh) {
      n.kh = 0u;
      n.ic++;
    }
  }
  return n;
}

// X under tap t for the lane's pixel (its input offset and window corner); 0 in the padding and
// past the last tap
fn tap_value(xbase: u32, ih0: i32, iw0: i32, t: Tap) -> f32 {
  let ih = ih0 + i32(t.kh * P.dil_h);
  let iw = iw0 + i32(t.kw * P.dil_w);
  let ok = t.ic < cg() && ih >= 0 && iw >= 0 && ih < i32(P.h) && iw < i32(P.w);
  return select(0.0, x[xbase + (min(t.ic, cg() - 1u) * P.h + u32(max(ih, 0))) * P.w + u32(max(iw, 0))], ok);
}

// Row k of the weights as a GEMM's B (kmax rows of `cols` channels from wbase), at the 4 channels
// from col (jv, clamped); 0 from kmax on. One vec4 when the channels come in 4s (VEC4W).
fn weight_row(wbase: u32, k: u32, kmax: u32, cols: u32, col: u32, jv: vec4u) -> vec4f {
  let row = wbase + min(k, kmax - 1u) * cols;
  var b: vec4f;
  if (VEC4W) {
    b = wt4[(row + min(col, cols - 4u)) / 4u];
  } else {
    let i = vec4u(row) + jv;
    b = vec4f(wt4[i.x >> 2u][i.x & 3u], wt4[i.y >> 2u][i.y & 3u], wt4[i.z >> 2u][i.z & 3u], wt4[i.w >> 2u][i.w & 3u]);
  }
  return select(vec4f(0.0), b, k < kmax);
}

// The lanes of a GN x (8 / GN) arrangement of groups of 8 over a tile of (64 / GN) rows and 16·GN
// columns: the group's first row and column, the lane's p, q and exchange sources.
struct Lanes { row0: u32, col0: u32, l: u32, p: u32, q: u32, src_a: u32, src_b: u32 }

// The convolution group this workgroup computes (x), its tile's index (y) and the tiles per row of
// tiles (z), for a GEMM of `rows` x `cols` per group in tiles of (64 / GN) x 16·GN.
fn workgroup_tile(wid: vec3u, nwg: vec3u, rows: u32, cols: u32) -> vec3u {
  let tiles = ((rows + 64u / GN - 1u) / (64u / GN)) * ((cols + 16u * GN - 1u) / (16u * GN));
  let w = wid.y * nwg.x + wid.x;
  return vec3u(w / tiles, w % tiles, (cols + 16u * GN - 1u) / (16u * GN));
}

fn lanes(tile: u32, tc: u32, lid: u32, sid: u32) -> Lanes {
  let grp = lid / 8u;
  let lane0 = sid & ~7u;
  let l = sid & 7u;
  return Lanes((tile / tc) * (64u / GN) + (grp / GN) * 8u, (tile % tc) * 16u * GN + (grp % GN) * 16u, l, l / 4u, l % 4u, lane0 + 4u * (l / 4u), lane0 + l % 4u);
}

@compute @workgroup_size(64)
fn forward_sg(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32) {
  let pw = P.ow / 2u;
  let ph = P.oh / 2u;
  // with POOL, 4 rows per pooled pixel: its window
  let rows = select(P.n * P.oh * P.ow, 4u * P.n * ph * pw, POOL);
  let wt = workgroup_tile(wid, nwg, rows, ocg());
  let g = wt.x;
  if (g >= P.groups) { return; } // the whole workgroup: subgroup operations below stay uniform
  let L = lanes(wt.y, wt.z, lid, sid);
  let row0 = L.row0;
  let p = L.p;
  // the pixel of this lane's row of A: row0 + l (a window position of a pooled pixel with POOL)
  let r = min(row0 + L.l, rows - 1u);
  var n: u32;
  var oh: u32;
  var ow: u32;
  if (POOL) {
    let pp = r / 4u;
    ow = 2u * (pp % pw) + (r & 1u);
    oh = 2u * ((pp / pw) % ph) + ((r >> 1u) & 1u);
    n = pp / (pw * ph);
  } else {
    ow = r % P.ow;
    oh = (r / P.ow) % P.oh;
    n = r / (P.ow * P.oh);
  }
  let xbase = (n * P.c + g * cg()) * P.h * P.w;
  let ih0 = i32(oh * P.stride_h) - i32(P.pad_h);
  let iw0 = i32(ow * P.stride_w) - i32(P.pad_w);
  let wbase = g * ksize() * ocg();
  let col = L.col0 + 4u * L.q;
  let jv = min(vec4u(col) + vec4u(0u, 1u, 2u, 3u), vec4u(ocg() - 1u));
  var acc = mat4x4f();
  var tap = Tap(0u, 0u, 0u);
  for (var k0 = 0u; k0 < ksize(); k0 += 8u) {
    var a: array<f32, 8>;
    for (var i = 0u; i < 8u; i++) {
      a[i] = tap_value(xbase, ih0, iw0, tap);
      tap = next_tap(tap);
    }
    let k4 = k0 + 4u * p;
    let blk = Blk(vec4f(a[0], a[1], a[2], a[3]), vec4f(a[4], a[5], a[6], a[7]),
                  weight_row(wbase, k4, ksize(), ocg(), col, jv), weight_row(wbase, k4 + 1u, ksize(), ocg(), col, jv),
                  weight_row(wbase, k4 + 2u, ksize(), ocg(), col, jv), weight_row(wbase, k4 + 3u, ksize(), ocg(), col, jv));
    acc = exchange(acc, blk, L.src_a, L.src_b, false);
  }
  let oc = g * ocg() + jv;
  var bv = vec4f(0.0);
  if (P.has_bias == 1u) { bv = vec4f(bias[oc.x], bias[oc.y], bias[oc.z], bias[oc.w]); }
  let rbase = row0 + 4u * p;
  if (POOL) {
    // rows rbase..rbase+3 are pooled pixel rbase / 4's window; the bias is the same across it, and
    // ReLU commutes with the max
    var m = max(max(acc[0], acc[1]), max(acc[2], acc[3])) + bv;
    if (P.relu == 1u) { m = max(m, vec4f(0.0)); }
    let pp = rbase / 4u;
    if (rbase >= rows) { return; }
    for (var j = 0u; j < 4u; j++) {
      if (col + j < ocg()) { y[((pp / (pw * ph)) * P.oc + oc[j]) * ph * pw + pp % (ph * pw)] = m[j]; }
    }
    return;
  }
  for (var i = 0u; i < 4u; i++) {
    let px = rbase + i;
    if (px >= rows) { break; }
    for (var j = 0u; j < 4u; j++) {
      if (col + j < ocg()) { y[((px / (P.oh * P.ow)) * P.oc + oc[j]) * P.oh * P.ow + px % (P.oh * P.ow)] = acc[i][j] + bv[j]; }
    }
  }
}

// dY under tap t = (output channel of the group, kernel row, column) for input pixel (ih, iw): the
// output pixel whose window puts that tap there, if its coordinates are whole and in range
fn dy_value(dybase: u32, ih: u32, iw: u32, t: Tap) -> f32 {
  let th = i32(ih + P.pad_h) - i32(t.kh * P.dil_h);
  let tw = i32(iw + P.pad_w) - i32(t.kw * P.dil_w);
  // SIMD has no vector integer division (llvmpipe does one lane at a time): none for stride 1
  var oh = th;
  var ow = tw;
  if (P.stride_h != 1u) { oh = th / i32(P.stride_h); }
  if (P.stride_w != 1u) { ow = tw / i32(P.stride_w); }
  let ok = t.ic < ocg() && th >= 0 && tw >= 0 && oh * i32(P.stride_h) == th && ow * i32(P.stride_w) == tw && oh < i32(P.oh) && ow < i32(P.ow);
  return select(0.0, dy[dybase + (min(t.ic, ocg() - 1u) * P.oh + u32(max(oh, 0))) * P.ow + u32(max(ow, 0))], ok);
}

// v3's input gradient (input_sg): dX[(n, ih, iw), ic] = Σ_k dY-under-tap-k · Wb[k, ic] per group, k
// over (output channel, kernel row, column), Wb the weights the host permutes to
// [groups, OCg·KH·KW, Cg] (wt4); the same exchange as forward_sg.
@compute @workgroup_size(64)
fn input_sg(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32) {
  let rows = P.n * P.h * P.w;
  let wt = workgroup_tile(wid, nwg, rows, cg());
  let g = wt.x;
  if (g >= P.groups) { return; } // the whole workgroup: subgroup operations below stay uniform
  let L = lanes(wt.y, wt.z, lid, sid);
  let r = min(L.row0 + L.l, rows - 1u);
  let iw = r % P.w;
  let ih = (r / P.w) % P.h;
  let dybase = ((r / (P.w * P.h)) * P.oc + g * ocg()) * P.oh * P.ow;
  let kmax = ocg() * P.kh * P.kw;
  let wbase = g * kmax * cg();
  let col = L.col0 + 4u * L.q;
  let jv = min(vec4u(col) + vec4u(0u, 1u, 2u, 3u), vec4u(cg() - 1u));
  var acc = mat4x4f();
  var tap = Tap(0u, 0u, 0u);
  for (var k0 = 0u; k0 < kmax; k0 += 8u) {
    var a: array<f32, 8>;
    for (var i = 0u; i < 8u; i++) {
      a[i] = dy_value(dybase, ih, iw, tap);
      tap = next_tap(tap);
    }
    let k4 = k0 + 4u * L.p;
    let blk = Blk(vec4f(a[0], a[1], a[2], a[3]), vec4f(a[4], a[5], a[6], a[7]),
                  weight_row(wbase, k4, kmax, cg(), col, jv), weight_row(wbase, k4 + 1u, kmax, cg(), col, jv),
                  weight_row(wbase, k4 + 2u, kmax, cg(), col, jv), weight_row(wbase, k4 + 3u, kmax, cg(), col, jv));
    acc = exchange(acc, blk, L.src_a, L.src_b, false);
  }
  let rbase = L.row0 + 4u * L.p;
  for (var i = 0u; i < 4u; i++) {
    let px = rbase + i;
    if (px >= rows) { break; }
    for (var j = 0u; j < 4u; j++) {
      if (col + j < cg()) { dx[((px / (P.h * P.w)) * P.c + g * cg() + jv[j]) * P.h * P.w + px % (P.h * P.w)] = acc[i][j]; }
    }
  }
}
