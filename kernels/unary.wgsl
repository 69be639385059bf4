// unary: y[i] = f(x[i]) for the elementwise function selected by the OP override (a specialization
// constant, so each op compiles to its own branch-free pipeline). p0 and p1 are per-call scalars.
// Entry `grad` is the backward: dx[i] = g[i] * f'(x[i]), next to the forward in `derivative`.
// Entry `from_i32` converts i32 values to f32 (labels and indices into arithmetic).
// Layout: x, g, y, dx contiguous f32 arrays of n elements, bound as vec4s widened to whole vec4s
// (Tensor.buffer4): each invocation takes 4 elements, 2-D grid. On llvmpipe a storage access costs
// per lane about the same for a vec4 as for one f32, so one element per invocation made ReLU cost
// as much as a small convolution. The tail vec4's values past n are computed and written into the
// output's padding (fresh outputs only).
// OP codes (kept in step with UNARY_OPS in src/tensor/elementwise.ts):
//   0 neg   1 abs   2 exp   3 log   4 sqrt   5 rsqrt   6 tanh   7 sigmoid   8 relu   9 sin
//   10 cos  11 square   12 reciprocal   13 sign   14 floor   15 ceil
//   16 affine p0*x+p1   17 pow x^p0   18 clamp(x, p0, p1)   19 round (half to even)
//   20 gelu (erf form)   21 gelu (tanh form)

override WG: u32 = 256;
override OP: u32 = 0;

struct Params { n: u32, p0: f32, p1: f32, _pad: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4f>;
@group(0) @binding(2) var<storage, read> g: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> dx: array<vec4f>;
@group(0) @binding(1) var<storage, read> xi: array<i32>;
@group(0) @binding(2) var<storage, read_write> yi: array<f32>;

const SQRT_2_OVER_PI = 0.7978845608028654;
const INV_SQRT_2 = 0.7071067811865476;
const INV_SQRT_2PI = 0.3989422804014327;

// erfc with relative error below 1.2e-7 everywhere (Numerical Recipes' Chebyshev fit), so that
// gelu keeps its relative precision in the far negative tail, where 1 + erf(x) cancels.
fn erfc(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
      t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
      t * (-0.82215223 + t * 0.17087277)))))))));
  return select(2.0 - r, r, x >= 0.0);
}

// tanh within 3 ulp (WGSL's tanh inherits the absolute error of sinh/cosh: on llvmpipe hundreds of
// ulp near 0, 280 at x = 0.001). |x| < 0.55: the odd Taylor series to x¹⁷ (terms shrink by ~0.12
// each; 1.5 ulp); beyond: 1 − 2/(e^{2|x|} + 1), no cancellation once tanh ≥ 0.5, clamped at 10
// where f32 tanh is ±1.
fn tanh_f32(v: f32) -> f32 {
  let a = abs(v);
  if (a < 0.55) {
    let s = v * v;
    var p = 5.9002744e-4;
    p = p * s - 1.4558344e-3;
    p = p * s + 3.5921280e-3;
    p = p * s - 8.8632355e-3;
    p = p * s + 2.1869489e-2;
    p = p * s - 5.3968254e-2;
    p = p * s + 0.13333333;
    p = p * s - 0.33333333;
    return v + v * s * p;
  }
  let e = exp(2.0 * min(a, 10.0));
  return sign(v) * (1.0 - 2.0 / (e + 1.0));
}

// ln x within 4 ulp (WGSL promises only 2^-21 absolute error on [0.5, 2], and llvmpipe's log is
// that loose just below 1: 2% relative error at 1 − 2^-21). On [0.5, 2]: 2·atanh(s),
// s = (x − 1)/(x + 1) (x − 1 exact there, |s| ≤ 1/3), by its series to s¹⁵; elsewhere the builtin.
fn log_f32(x: f32) -> f32 {
  if (!(x >= 0.5 && x <= 2.0)) { return log(x); }
  let s = (x - 1.0) / (x + 1.0);
  let q = s * s;
  var p = 1.0 / 15.0;
  p = p * q + 1.0 / 13.0;
  p = p * q + 1.0 / 11.0;
  p = p * q + 1.0 / 9.0;
  p = p * q + 1.0 / 7.0;
  p = p * q + 1.0 / 5.0;
  p = p * q + 1.0 / 3.0;
  return 2.0 * (s + s * q * p);
}

fn gelu_tanh_inner(v: f32) -> f32 {
  return tanh_f32(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v));
}

fn apply(v: f32) -> f32 {
  switch OP {
    case 0u: { return -v; }
    case 1u: { return abs(v); }
    case 2u: { return exp(v); }
    case 3u: { return log_f32(v); }
    case 4u: { return sqrt(v); }
    case 5u: { return inverseSqrt(v); }
    case 6u: { return tanh_f32(v); }
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
    case 20u: { return 0.5 * v * erfc(-v * INV_SQRT_2); }
    case 21u: { return 0.5 * v * (1.0 + gelu_tanh_inner(v)); }
    default: { return v; }
  }
}

// f'(v)
fn derivative(v: f32) -> f32 {
  switch OP {
    case 0u: { return -1.0; }
    case 1u: { return sign(v); }
    case 2u: { return exp(v); }
    case 3u: { return 1.0 / v; }
    case 4u: { return 0.5 / sqrt(v); }
    case 5u: { return -0.5 * inverseSqrt(v) / v; }
    case 6u: { let t = tanh_f32(v); return 1.0 - t * t; }
    case 7u: { let s = 1.0 / (1.0 + exp(-v)); return s * (1.0 - s); }
    case 8u: { return select(0.0, 1.0, v > 0.0); }
    case 9u: { return cos(v); }
    case 10u: { return -sin(v); }
    case 11u: { return 2.0 * v; }
    case 12u: { return -1.0 / (v * v); }
    case 16u: { return P.p0; }
    case 17u: { return P.p0 * pow(v, P.p0 - 1.0); }
    case 18u: { return select(0.0, 1.0, v >= P.p0 && v <= P.p1); }
    case 20u: { return 0.5 * erfc(-v * INV_SQRT_2) + v * INV_SQRT_2PI * exp(-0.5 * v * v); }
    case 21u: {
      let t = gelu_tanh_inner(v);
      return 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * v * v);
    }
    default: { return 0.0; } // sign, floor, ceil, round: piecewise constant
  }
}

// Index of this invocation's vec4, or none (0xffffffff) past the n / 4 rounded up.
fn vec4_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  return select(0xffffffffu, i, i < (P.n + 3u) / 4u);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = vec4_index(wid, nwg, lid);
  if (i == 0xffffffffu) { return; }
  let v = x[i];
  y[i] = vec4f(apply(v.x), apply(v.y), apply(v.z), apply(v.w));
}

@compute @workgroup_size(WG)
fn grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = vec4_index(wid, nwg, lid);
  if (i == 0xffffffffu) { return; }
  let v = x[i];
  dx[i] = g[i] * vec4f(derivative(v.x), derivative(v.y), derivative(v.z), derivative(v.w));
}

@compute @workgroup_size(WG)
fn from_i32(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= P.n) { return; }
  yi[i] = f32(xi[i]);
}
