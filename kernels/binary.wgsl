// binary: y = f(a, b) elementwise with NumPy broadcasting, f selected by the OP override.
// Layout: y contiguous f32 of n elements in the broadcast shape `shape` (rank <= 8). Entry `same`
// reads a and b at the same index (equal shapes), 4 elements per invocation through vec4 views
// widened to whole vec4s (as unary.wgsl, and for the same reason); entry `bcast` maps each output
// index to offsets in a and b through per-axis strides (0 along broadcast axes), one element per
// invocation. 2-D grid.
// OP codes (kept in step with BINARY_OPS in src/tensor/elementwise.ts):
//   0 add  1 sub  2 mul  3 div  4 pow  5 maximum  6 minimum  7 eq  8 ne  9 lt  10 le  11 gt  12 ge

override WG: u32 = 256;
override OP: u32 = 0;
// the rank of `bcast` as a specialization constant, so its coordinate loop unrolls (as copy.wgsl)
override RANK: u32 = 1;

struct Params {
  n: u32, rank: u32, _p0: u32, _p1: u32,
  shape: array<vec4u, 2>,
  a_strides: array<vec4u, 2>,
  b_strides: array<vec4u, 2>,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> a4: array<vec4f>;
@group(0) @binding(2) var<storage, read> b4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> y4: array<vec4f>;

fn apply(u: f32, v: f32) -> f32 {
  switch OP {
    case 0u: { return u + v; }
    case 1u: { return u - v; }
    case 2u: { return u * v; }
    case 3u: { return u / v; }
    case 4u: { return pow(u, v); }
    case 5u: { return max(u, v); }
    case 6u: { return min(u, v); }
    case 7u: { return select(0.0, 1.0, u == v); }
    case 8u: { return select(0.0, 1.0, u != v); }
    case 9u: { return select(0.0, 1.0, u < v); }
    case 10u: { return select(0.0, 1.0, u <= v); }
    case 11u: { return select(0.0, 1.0, u > v); }
    case 12u: { return select(0.0, 1.0, u >= v); }
    default: { return u; }
  }
}

fn index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn same(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= (P.n + 3u) / 4u) { return; }
  let u = a4[i];
  let v = b4[i];
  y4[i] = vec4f(apply(u.x, v.x), apply(u.y, v.y), apply(u.z, v.z), apply(u.w, v.w));
}

@compute @workgroup_size(WG)
fn bcast(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
         @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= P.n) { return; }
  var rem = i;
  var ia = 0u;
  var ib = 0u;
  for (var k = i32(RANK) - 1; k >= 0; k--) {
    let d = P.shape[k / 4][k % 4];
    let c = rem % d;
    rem = rem / d;
    ia += c * P.a_strides[k / 4][k % 4];
    ib += c * P.b_strides[k / 4][k % 4];
  }
  y[i] = apply(a[ia], b[ib]);
}
