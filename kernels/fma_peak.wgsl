// fma_peak: the adapter's arithmetic ceiling, for benchmarks to report against. Each invocation runs
// ITERS rounds of 8 independent vec4 FMA chains (enough independent work to hide FMA latency), i.e.
// 2*4*8*ITERS flops, then writes one value so the compiler cannot drop the work.
// Layout: y has one f32 per invocation; seed holds the chains' start value (0.5 gives finite results).

override WG: u32 = 256;
override ITERS: u32 = 1024;

struct Params { seed: f32, mul: f32, add: f32, _pad: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  let m = vec4f(P.mul);
  let d = vec4f(P.add);
  var c0 = vec4f(P.seed) + f32(lid) * 1e-7;
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
  let s = (c0 + c1) + (c2 + c3) + (c4 + c5) + (c6 + c7);
  y[i] = s.x + s.y + s.z + s.w;
}
