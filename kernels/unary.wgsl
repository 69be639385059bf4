// unary: y[i] = f(x[i]) for the elementwise function selected by the OP override (a specialization
// constant, so each op compiles to its own branch-free pipeline). p0 and p1 are per-call scalars.
// Layout: x and y contiguous f32 arrays of n elements; one invocation per element, 2-D folded grid.
// OP codes (kept in step with UNARY_OPS in src/tensor/elementwise.ts):
//   0 neg   1 abs   2 exp   3 log   4 sqrt   5 rsqrt   6 tanh   7 sigmoid   8 relu   9 sin
//   10 cos  11 square   12 reciprocal   13 sign   14 floor   15 ceil
//   16 affine p0*x+p1   17 pow x^p0   18 clamp(x, p0, p1)   19 round (half to even)

override WG: u32 = 256;
override OP: u32 = 0;

struct Params { n: u32, p0: f32, p1: f32, _pad: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

fn apply(v: f32) -> f32 {
  switch OP {
    case 0u: { return -v; }
    case 1u: { return abs(v); }
    case 2u: { return exp(v); }
    case 3u: { return log(v); }
    case 4u: { return sqrt(v); }
    case 5u: { return inverseSqrt(v); }
    // tanh saturates to ±1 in f32 beyond |v| = 10; clamping keeps exp-based lowerings finite.
    case 6u: { return tanh(clamp(v, -10.0, 10.0)); }
    case 7u: { return 1.0 / (1.0 + exp(-v)); }
    case 8u: { return select(0.0, v, v > 0.0); }
    case 9u: { return sin(v); }
    case 10u: { return cos(v); }
    case 11u: { return v * v; }
    case 12u: { return 1.0 / v; }
    case 13u: { return sign(v); }
    case 14u: { return floor(v); }
    case 15u: { return ceil(v); }
    case 16u: { return P.p0 * v + P.p1; }
    case 17u: { return pow(v, P.p0); }
    case 18u: { return clamp(v, P.p0, P.p1); }
    case 19u: { return round(v); }
    default: { return v; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= P.n) { return; }
  y[i] = apply(x[i]);
}
