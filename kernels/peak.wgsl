// peak: the adapter's ceilings, for benchmarks to report against (src/node/bench.ts measures them in
// the same run as the cases).
//   fma8, fma4, fma2: ITERS rounds of 8, 4 or 2 independent vec4 FMA chains per invocation (enough
//     independent work to hide FMA latency), 2*4*8*ITERS flops each, then one value written so the
//     compiler cannot drop the work. The ceiling is the fastest of the three: on llvmpipe a vec4
//     is four SIMD registers, and 8 chains (32 registers) spill on AVX2's 16 (measured on a 2-core
//     Zen 3: fma8 half the rate of fma4), while a GPU may want the most chains in flight.
//   copy: y = x as vec4s, one per invocation: the bandwidth a kernel's loads and stores reach.
// Layout: fma*: y has one f32 per invocation, P.seed the chains' start value (0.5 gives finite
// results); copy: x and y of P.n vec4s.

override WG: u32 = 256;
override ITERS: u32 = 1024;

struct Params { seed: f32, mul: f32, add: f32, n: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read_write> y4: array<vec4f>;
@group(0) @binding(2) var<storage, read> x4: array<vec4f>;

fn start(lid: u32) -> vec4f { return vec4f(P.seed) + f32(lid) * 1e-7; }
fn out(wid: vec3u, nwg: vec3u, lid: u32, s: vec4f) { y[(wid.y * nwg.x + wid.x) * WG + lid] = s.x + s.y + s.z + s.w; }

@compute @workgroup_size(WG)
fn fma8(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let m = vec4f(P.mul);
  let d = vec4f(P.add);
  var c0 = start(lid);
  var c1 = c0 + 1e-3;
  var c2 = c0 + 2e-3;
  var c3 = c0 + 3e-3;
  var c4 = c0 + 4e-3;
  var c5 = c0 + 5e-3;
  var c6 = c0 + 6e-3;
  var c7 = c0 + 7e-3;
  for (var it = 0u; it < ITERS; it++) {
    c0 = fma(c0, m, d);
    c1 = fma(c1, m, d);
    c2 = fma(c2, m, d);
    c3 = fma(c3, m, d);
    c4 = fma(c4, m, d);
    c5 = fma(c5, m, d);
    c6 = fma(c6, m, d);
    c7 = fma(c7, m, d);
  }
  out(wid, nwg, lid, (c0 + c1) + (c2 + c3) + (c4 + c5) + (c6 + c7));
}

@compute @workgroup_size(WG)
fn fma4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let m = vec4f(P.mul);
  let d = vec4f(P.add);
  var c0 = start(lid);
  var c1 = c0 + 1e-3;
  var c2 = c0 + 2e-3;
  var c3 = c0 + 3e-3;
  for (var it = 0u; it < 2u * ITERS; it++) {
    c0 = fma(c0, m, d);
    c1 = fma(c1, m, d);
    c2 = fma(c2, m, d);
    c3 = fma(c3, m, d);
  }
  out(wid, nwg, lid, (c0 + c1) + (c2 + c3));
}

@compute @workgroup_size(WG)
fn fma2(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let m = vec4f(P.mul);
  let d = vec4f(P.add);
  var c0 = start(lid);
  var c1 = c0 + 1e-3;
  for (var it = 0u; it < 4u * ITERS; it++) {
    c0 = fma(c0, m, d);
    c1 = fma(c1, m, d);
  }
  out(wid, nwg, lid, c0 + c1);
}

@compute @workgroup_size(WG)
fn copy(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i < P.n) { y4[i] = x4[i]; }
}
