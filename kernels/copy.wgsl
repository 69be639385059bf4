// copy: strided copy of n 32-bit words, the one data-movement kernel behind permute/transpose,
// slice, concat and broadcast materialization. For each index i of the iteration shape `shape`
// (rank <= 8, row-major), with coordinates c:  y[out_off + Σ c_k*out_strides_k] = x[in_off + Σ c_k*in_strides_k].
// Words are copied as u32, so the kernel serves every 32-bit dtype. One invocation per element.

override WG: u32 = 256;
// The rank as a specialization constant: the coordinate loop unrolls and its uniform reads become
// static (on lavapipe a rank-5 permute ran 2x and a slice 3x faster than with the loop over P.rank).
override RANK: u32 = 1;

struct Params {
  n: u32, rank: u32, in_off: u32, out_off: u32,
  shape: array<vec4u, 2>,
  in_strides: array<vec4u, 2>,
  out_strides: array<vec4u, 2>,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> y: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= P.n) { return; }
  var rem = i;
  var ix = P.in_off;
  var iy = P.out_off;
  for (var k = i32(RANK) - 1; k >= 0; k--) {
    let d = P.shape[k / 4][k % 4];
    let c = rem % d;
    rem = rem / d;
    ix += c * P.in_strides[k / 4][k % 4];
    iy += c * P.out_strides[k / 4][k % 4];
  }
  y[iy] = x[ix];
}
