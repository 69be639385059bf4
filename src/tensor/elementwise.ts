// Elementwise ops: unary functions and binary ops with NumPy broadcasting (kernels/unary.wgsl,
// kernels/binary.wgsl). The op is a pipeline specialization constant, so each op is its own pipeline.
import { Params } from '../gpu/params.js';
import { full } from './creation.js';
import { record } from './autograd.js';
import { launchPerItem } from './launch.js';
import { sumTo } from './reduce.js';
import { getEngine } from './runtime.js';
import { broadcastShapes, broadcastStrides, sameShape } from './shape.js';
import { Tensor } from './tensor.js';

// Op codes, in step with the tables in the kernels' header comments.
export const UNARY_OPS = {
  neg: 0, abs: 1, exp: 2, log: 3, sqrt: 4, rsqrt: 5, tanh: 6, sigmoid: 7, relu: 8, sin: 9,
  cos: 10, square: 11, reciprocal: 12, sign: 13, floor: 14, ceil: 15, affine: 16, powScalar: 17,
  clamp: 18, round: 19, gelu: 20, geluTanh: 21,
} as const;
export type UnaryOp = keyof typeof UNARY_OPS;

export const BINARY_OPS = {
  add: 0, sub: 1, mul: 2, div: 3, pow: 4, maximum: 5, minimum: 6, eq: 7, ne: 8, lt: 9, le: 10,
  gt: 11, ge: 12,
} as const;
export type BinaryOp = keyof typeof BINARY_OPS;

export function requireF32(op: string, ...ts: Tensor[]): void {
  for (const t of ts) if (t.dtype !== 'f32') throw new Error(`${op}: expects f32 tensors, got ${t.dtype} ${t}`);
}

/** y = f(x), without recording; the differentiable ops below wrap it. */
function unaryKernel(op: UnaryOp, x: Tensor, p0: number, p1: number): Tensor {
  requireF32(op, x);
  const xb = x.buffer4(op);
  const y = Tensor.empty(x.shape, 'f32', op);
  launchPerItem(getEngine(), 'unary', 'main', Math.ceil(y.size / 4), new Params().u32(y.size).f32(p0, p1), [xb, y.buffer4(op)], {
    OP: UNARY_OPS[op],
  });
  return y;
}

/** dx = g · f'(x): the backward of every unary op, one kernel (kernels/unary.wgsl, entry grad). */
function unaryGradKernel(op: UnaryOp, x: Tensor, g: Tensor, p0: number, p1: number): Tensor {
  const dx = Tensor.empty(x.shape, 'f32', `${op} backward`);
  launchPerItem(getEngine(), 'unary', 'grad', Math.ceil(dx.size / 4), new Params().u32(dx.size).f32(p0, p1), [x.buffer4(op), g.buffer4(op), dx.buffer4(op)], {
    OP: UNARY_OPS[op],
  });
  return dx;
}

export function unary(op: UnaryOp, x: Tensor, p0 = 0, p1 = 0): Tensor {
  const y = unaryKernel(op, x, p0, p1);
  return record(op, [x], y, (g, [xs]) => [unaryGrad(op, xs!, g, p0, p1)], [x]);
}

/**
 * dx = g · f'(x) as a differentiable op (for createGraph): it is linear in g, so d/dg is the same
 * product with the incoming gradient, and d/dx is g · f''(x), from SECOND_DERIVATIVES.
 */
function unaryGrad(op: UnaryOp, x: Tensor, g: Tensor, p0: number, p1: number): Tensor {
  const dx = unaryGradKernel(op, x, g, p0, p1);
  return record(`${op} backward`, [x, g], dx, (gg, [xs, gs], needs) => {
    const f2 = SECOND_DERIVATIVES[op];
    return [needs[0] && f2 ? mul(mul(gg, gs!), f2(xs!, p0, p1)) : null, needs[1] ? unaryGrad(op, xs!, gg, p0, p1) : null];
  }, [x, g]);
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_TANH_A = 0.044715;

/**
 * f''(x) of each unary op, composed of differentiable ops (so higher orders follow), or null where
 * f'' is zero wherever f' is defined (piecewise-linear and piecewise-constant functions). The
 * derivatives are those of the functions as kernels/unary.wgsl computes them.
 */
const SECOND_DERIVATIVES: Record<UnaryOp, ((x: Tensor, p0: number, p1: number) => Tensor) | null> = {
  neg: null, abs: null, relu: null, sign: null, floor: null, ceil: null, round: null, affine: null, clamp: null,
  exp: (x) => exp(x),
  log: (x) => neg(reciprocal(square(x))),
  sqrt: (x) => mul(pow(x, -1.5), -0.25),
  rsqrt: (x) => mul(pow(x, -2.5), 0.75),
  // tanh'' = −2t(1 − t²)
  tanh: (x) => {
    const t = tanh(x);
    return mul(mul(t, sub(1, square(t))), -2);
  },
  // σ'' = σ(1 − σ)(1 − 2σ)
  sigmoid: (x) => {
    const s = sigmoid(x);
    return mul(mul(s, sub(1, s)), sub(1, mul(s, 2)));
  },
  sin: (x) => neg(sin(x)),
  cos: (x) => neg(cos(x)),
  square: (x) => full(x.shape, 2),
  reciprocal: (x) => {
    const r = reciprocal(x);
    return mul(mul(square(r), r), 2); // not pow(x, −3): WGSL's pow is undefined below 0
  },
  powScalar: (x, p) => (p * (p - 1) === 0 ? full(x.shape, 0) : mul(pow(x, p - 2), p * (p - 1))),
  // gelu = xΦ(x): gelu'' = φ(x)(2 − x²)
  gelu: (x) => mul(mul(exp(mul(square(x), -0.5)), 1 / Math.sqrt(2 * Math.PI)), sub(2, square(x))),
  // gelu_tanh = ½x(1 + t), t = tanh(u), u = c(x + a·x³): with s = 1 − t²,
  // gelu_tanh'' = s·u' − x·t·s·u'² + ½·x·s·u'', u' = c(1 + 3a·x²), u'' = 6ac·x
  geluTanh: (x) => {
    const t = tanh(mul(add(x, mul(mul(square(x), x), GELU_TANH_A)), SQRT_2_OVER_PI));
    const s = sub(1, square(t));
    const du = add(mul(square(x), 3 * GELU_TANH_A * SQRT_2_OVER_PI), SQRT_2_OVER_PI);
    const first = mul(s, du);
    const second = mul(mul(mul(x, t), first), du);
    const third = mul(mul(square(x), s), 3 * GELU_TANH_A * SQRT_2_OVER_PI);
    return add(sub(first, second), third);
  },
};

function binaryKernel(op: BinaryOp, ta: Tensor, tb: Tensor): Tensor {
  requireF32(op, ta, tb);
  const shape = broadcastShapes(op, ta.shape, tb.shape);
  const y = Tensor.empty(shape, 'f32', op);
  const same = sameShape(ta.shape, tb.shape);
  // equal shapes: 4 elements per invocation through vec4 bindings (kernels/binary.wgsl)
  const bind = (t: Tensor) => (same ? t.buffer4(op) : t.buffer(op));
  const params = new Params()
    .u32(y.size, shape.length, 0, 0)
    .dims(shape)
    .dims(broadcastStrides(ta.shape, shape))
    .dims(broadcastStrides(tb.shape, shape));
  launchPerItem(getEngine(), 'binary', same ? 'same' : 'bcast', same ? Math.ceil(y.size / 4) : y.size, params, [bind(ta), bind(tb), bind(y)], {
    OP: BINARY_OPS[op],
    ...(same ? {} : { RANK: shape.length }),
  });
  return y;
}

// Backward rules of the binary ops: gradients at the broadcast shape, before sumTo() folds them back.
const BINARY_GRADS: Partial<Record<BinaryOp, (g: Tensor, a: Tensor, b: Tensor) => [Tensor, Tensor]>> = {
  add: (g) => [g, g],
  sub: (g) => [g, neg(g)],
  mul: (g, a, b) => [mul(g, b), mul(g, a)],
  div: (g, a, b) => [div(g, b), neg(div(mul(g, a), square(b)))],
  pow: (g, a, b) => [mul(g, mul(b, pow(a, sub(b, 1)))), mul(g, mul(pow(a, b), log(a)))],
  // ties split the gradient evenly, as PyTorch does
  maximum: (g, a, b) => tieSplit(g, gt(a, b), eq(a, b)),
  minimum: (g, a, b) => tieSplit(g, lt(a, b), eq(a, b)),
};

function tieSplit(g: Tensor, wins: Tensor, ties: Tensor): [Tensor, Tensor] {
  const share = add(wins, mul(ties, 0.5));
  return [mul(g, share), mul(g, sub(1, share))];
}

export function binary(op: BinaryOp, a: Tensor | number, b: Tensor | number): Tensor {
  if (typeof a === 'number' && typeof b === 'number') throw new Error(`${op}: needs at least one tensor`);
  const ta = typeof a === 'number' ? full([], a) : a;
  const tb = typeof b === 'number' ? full([], b) : b;
  try {
    const y = binaryKernel(op, ta, tb);
    const rule = BINARY_GRADS[op];
    if (!rule) return y; // comparisons: no gradient
    const [aShape, bShape] = [ta.shape, tb.shape];
    const save = op === 'add' || op === 'sub' ? [] : [ta, tb]; // their rules need no values
    return record(op, [ta, tb], y, (g, [sa, sb], needs) => {
      const [ga, gb] = rule(g, sa!, sb!);
      return [needs[0] ? sumTo(ga, aShape) : null, needs[1] ? sumTo(gb, bShape) : null];
    }, save);
  } finally {
    if (ta !== a) ta.dispose();
    if (tb !== b) tb.dispose();
  }
}

type Operand = Tensor | number;
export const add = (a: Operand, b: Operand): Tensor =>
  typeof b === 'number' && a instanceof Tensor ? unary('affine', a, 1, b) : binary('add', a, b);
export const sub = (a: Operand, b: Operand): Tensor =>
  typeof b === 'number' && a instanceof Tensor ? unary('affine', a, 1, -b) : binary('sub', a, b);
export const mul = (a: Operand, b: Operand): Tensor =>
  typeof b === 'number' && a instanceof Tensor ? unary('affine', a, b, 0) : binary('mul', a, b);
export const div = (a: Operand, b: Operand): Tensor => binary('div', a, b);
export const pow = (a: Operand, b: Operand): Tensor =>
  typeof b === 'number' && a instanceof Tensor ? unary('powScalar', a, b) : binary('pow', a, b);
export const maximum = (a: Operand, b: Operand): Tensor => binary('maximum', a, b);
export const minimum = (a: Operand, b: Operand): Tensor => binary('minimum', a, b);
export const eq = (a: Operand, b: Operand): Tensor => binary('eq', a, b);
export const ne = (a: Operand, b: Operand): Tensor => binary('ne', a, b);
export const lt = (a: Operand, b: Operand): Tensor => binary('lt', a, b);
export const le = (a: Operand, b: Operand): Tensor => binary('le', a, b);
export const gt = (a: Operand, b: Operand): Tensor => binary('gt', a, b);
export const ge = (a: Operand, b: Operand): Tensor => binary('ge', a, b);

export const neg = (x: Tensor): Tensor => unary('neg', x);
export const abs = (x: Tensor): Tensor => unary('abs', x);
export const exp = (x: Tensor): Tensor => unary('exp', x);
export const log = (x: Tensor): Tensor => unary('log', x);
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x);
export const rsqrt = (x: Tensor): Tensor => unary('rsqrt', x);
export const tanh = (x: Tensor): Tensor => unary('tanh', x);
export const sigmoid = (x: Tensor): Tensor => unary('sigmoid', x);
export const relu = (x: Tensor): Tensor => unary('relu', x);
export const sin = (x: Tensor): Tensor => unary('sin', x);
export const cos = (x: Tensor): Tensor => unary('cos', x);
export const square = (x: Tensor): Tensor => unary('square', x);
export const reciprocal = (x: Tensor): Tensor => unary('reciprocal', x);
export const sign = (x: Tensor): Tensor => unary('sign', x);
export const floor = (x: Tensor): Tensor => unary('floor', x);
export const ceil = (x: Tensor): Tensor => unary('ceil', x);
export const round = (x: Tensor): Tensor => unary('round', x);
/** i32 values as f32 (exact below 2^24). */
export function toFloat(x: Tensor): Tensor {
  if (x.dtype === 'f32') throw new Error(`toFloat: ${x} is f32 already`);
  const y = Tensor.empty(x.shape, 'f32', 'toFloat');
  launchPerItem(getEngine(), 'unary', 'from_i32', y.size, new Params().u32(y.size), [x.buffer('toFloat'), y.buffer('toFloat')]);
  return y;
}

export const gelu = (x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor =>
  unary(approximate === 'tanh' ? 'geluTanh' : 'gelu', x);
export const clamp = (x: Tensor, min: number, max: number): Tensor => {
  if (!(min <= max)) throw new Error(`clamp: min ${min} is above max ${max}`);
  return unary('clamp', x, min, max);
};
