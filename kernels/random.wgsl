// random: counter-based generation with Philox4x32-10 (Salmon et al., SC'11; the generator PyTorch
// uses on CUDA). Output element i takes lane i%4 of the Philox block at counter (offset + i/4) under
// key (seed_lo, seed_hi), so the numbers depend on seed, offset and i alone: the same on every adapter,
// in every run, whatever the grid. Integer maths only up to the final float conversion.
//   entry draw_uniform: y = low + (high - low) * u,  u = (bits >> 8) * 2^-24 in [0, 1)  (exact in f32)
//   entry draw_normal:  Box–Muller on lane pairs (0,1), (2,3): u1 = ((bits >> 8) + 1) * 2^-24 in (0, 1],
//                  y = mean + std * sqrt(-2 ln u1) * (cos | sin)(2π u2)
// Layout: y contiguous f32 of n elements; one invocation per block of 4 outputs, 2-D folded grid.
// The 64-bit block counter is (off_lo + i/4, off_hi) with carry; the counter's upper words are 0.

override WG: u32 = 256;

struct Params {
  n: u32, seed_lo: u32, seed_hi: u32, off_lo: u32,
  off_hi: u32, p0: f32, p1: f32, _pad: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;

// (high, low) words of the 64-bit product a*b, from 16-bit halves (WGSL has no 64-bit integers).
fn mulhilo(a: u32, b: u32) -> vec2u {
  let al = a & 0xffffu;
  let ah = a >> 16u;
  let bl = b & 0xffffu;
  let bh = b >> 16u;
  let lh = al * bh;
  let hl = ah * bl;
  let mid = ((al * bl) >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
  return vec2u(ah * bh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u), a * b);
}

fn philox(counter: vec4u, key: vec2u) -> vec4u {
  var c = counter;
  var k = key;
  for (var r = 0u; r < 10u; r++) {
    let p0 = mulhilo(0xD2511F53u, c.x);
    let p1 = mulhilo(0xCD9E8D57u, c.z);
    c = vec4u(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
    k += vec2u(0x9E3779B9u, 0xBB67AE85u);
  }
  return c;
}

fn block_bits(blk: u32) -> vec4u {
  let lo = P.off_lo + blk;
  let hi = P.off_hi + select(0u, 1u, lo < blk); // carry
  return philox(vec4u(lo, hi, 0u, 0u), vec2u(P.seed_lo, P.seed_hi));
}

fn block_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn draw_uniform(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let blk = block_index(wid, nwg, lid);
  if (blk * 4u >= P.n) { return; }
  let bits = block_bits(blk);
  let u = vec4f(bits >> vec4u(8u)) * (1.0 / 16777216.0);
  let v = P.p0 + (P.p1 - P.p0) * u;
  for (var j = 0u; j < 4u; j++) {
    if (blk * 4u + j < P.n) { y[blk * 4u + j] = v[j]; }
  }
}

@compute @workgroup_size(WG)
fn draw_normal(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
          @builtin(local_invocation_index) lid: u32) {
  let blk = block_index(wid, nwg, lid);
  if (blk * 4u >= P.n) { return; }
  let bits = block_bits(blk);
  let u = (vec4f(bits >> vec4u(8u)) + vec4f(1.0, 0.0, 1.0, 0.0)) * (1.0 / 16777216.0);
  let two_pi = 6.283185307179586;
  let r = sqrt(-2.0 * log(vec2f(u.x, u.z)));
  let t = two_pi * vec2f(u.y, u.w);
  let v = P.p0 + P.p1 * vec4f(r.x * cos(t.x), r.x * sin(t.x), r.y * cos(t.y), r.y * sin(t.y));
  for (var j = 0u; j < 4u; j++) {
    if (blk * 4u + j < P.n) { y[blk * 4u + j] = v[j]; }
  }
}
