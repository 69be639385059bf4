import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import { binary, type BinaryOp, type UnaryOp } from '../src/index.js';
import { assertClose, EXACT, F32, type Tolerance } from './compare.js';
import { expectClose, randomPair } from './helpers.js';
import * as A from './ref-autograd.js';
import * as R from './reference.js';

// sizes that do not divide the 256-wide workgroups: 1, primes, and larger than one workgroup
const SIZES = [[1], [7], [257], [1031], [3, 5, 7], [2, 1, 1, 13]];

/** Each element's scale: |f(x)| plus the input's condition |x·f′(x)| (an f32 exp, pow or sin is accurate relative to both). */
const unaryScale = (rx: R.Ref, f: (v: number) => number, df: (v: number) => number) => A.unary(A.leaf(rx), f, df).magnitude;

// (op, f, f′ or null for ops that must be exact, range)
const unaryCases: Array<[UnaryOp, (v: number) => number, ((v: number) => number) | null, number, number]> = [
  ['neg', (v) => -v, null, -3, 3],
  ['abs', Math.abs, null, -3, 3],
  ['exp', Math.exp, Math.exp, -10, 10],
  ['log', Math.log, (v) => 1 / v, 1e-3, 100],
  ['sqrt', Math.sqrt, (v) => 0.5 / Math.sqrt(v), 0, 100],
  ['rsqrt', (v) => 1 / Math.sqrt(v), (v) => -0.5 * v ** -1.5, 1e-2, 100],
  ['tanh', Math.tanh, (v) => 1 - Math.tanh(v) ** 2, -12, 12],
  ['tanh', Math.tanh, (v) => 1 - Math.tanh(v) ** 2, -0.05, 0.05], // near 0, where WGSL allows an absolute error only
  ['sigmoid', (v) => 1 / (1 + Math.exp(-v)), (v) => Math.exp(-v) / (1 + Math.exp(-v)) ** 2, -30, 30],
  ['relu', (v) => Math.max(v, 0), null, -3, 3],
  ['sin', Math.sin, Math.cos, -Math.PI, Math.PI],
  ['cos', Math.cos, (v) => -Math.sin(v), -Math.PI, Math.PI],
  ['square', (v) => v * v, (v) => 2 * v, -3, 3],
  ['reciprocal', (v) => 1 / v, (v) => -1 / (v * v), 0.1, 10],
  ['sign', Math.sign, null, -3, 3],
  ['floor', Math.floor, null, -30, 30],
  ['ceil', Math.ceil, null, -30, 30],
];

/** torch.round and WGSL's round: to the nearest integer, halves to the even neighbour. */
function roundHalfEven(v: number): number {
  const r = Math.round(v); // halves up
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

describe('unary ops against float64', () => {
  for (const [op, f, df, lo, hi] of unaryCases) {
    it(`${op} on [${lo}, ${hi}]`, async () => {
      for (const shape of SIZES) {
        const [x, rx] = randomPair(shape, lo, hi);
        const [tol, scale] = df ? [F32.pointwise, unaryScale(rx, f, df)] : [EXACT, undefined];
        await expectClose(L.unary(op, x), R.map(rx, f), tol, `${op} ${shape}`, scale);
      }
    });
  }

  // near 1 the input's condition |x·f′(x)| = 1 would allow an absolute error of a few u, all that
  // WGSL promises on [0.5, 2]; losscape's log (and torch's) is accurate relative to the result there
  it('log near 1, relative to the result', async () => {
    for (const shape of SIZES) {
      const [x, rx] = randomPair(shape, 0.999, 1.001);
      await expectClose(L.log(x), R.map(rx, Math.log), F32.pointwise, `log ${shape}`);
    }
  });

  it('round: to the nearest integer, halves to even (as torch.round and WGSL round)', async () => {
    // every half from -10.5 to 10.5, the halves around 2^22 (where f32 still has them), ±0 and random values
    const halves = Array.from({ length: 22 }, (_, i) => i - 10.5);
    const big = [2 ** 22 + 0.5, 2 ** 22 + 1.5, -(2 ** 22) - 0.5, 2 ** 23 + 1];
    const [, rr] = randomPair([257], -30, 30);
    const values = Float32Array.from([...halves, ...big, 0, -0, 0.49999997, -0.49999997, ...rr.data]);
    const out = await L.round(L.fromArray(values)).toArray();
    assertClose(out, Array.from(values, roundHalfEven), EXACT, 'round');
    expect([roundHalfEven(0.5), roundHalfEven(1.5), roundHalfEven(2.5), roundHalfEven(-0.5), roundHalfEven(-1.5), roundHalfEven(-2.5)]).toEqual([0, 2, 2, -0, -2, -2]);
  });

  it('scalar-parameter ops: affine, pow, clamp, and scalar operands of add/sub/mul', async () => {
    const [x, rx] = randomPair([1031], 0.1, 4);
    // the kernels take scalars as f32 uniforms: the reference uses the same values
    const p = Math.fround(1.7);
    const close = (t: L.Tensor, f: (v: number) => number, df: (v: number) => number, what: string) => expectClose(t, R.map(rx, f), F32.pointwise, what, unaryScale(rx, f, df));
    await close(L.add(x, 2.5), (v) => v + 2.5, () => 1, 'add scalar');
    await close(L.sub(x, 0.75), (v) => v - 0.75, () => 1, 'sub scalar');
    await close(L.mul(x, -3), (v) => v * -3, () => -3, 'mul scalar');
    await close(L.pow(x, p), (v) => v ** p, (v) => p * v ** (p - 1), 'pow scalar');
    await close(L.sub(1, x), (v) => 1 - v, () => -1, 'scalar minus tensor');
    await close(L.div(2, x), (v) => 2 / v, (v) => -2 / (v * v), 'scalar over tensor');
    await expectClose(L.clamp(x, 1, 2), R.map(rx, (v) => Math.min(Math.max(v, 1), 2)), EXACT, 'clamp');
  });
});

type Fn2 = (u: number, v: number) => number;
// (op, f, and for the rounded ops its partial derivatives, whose sizes make each element's scale)
const binaryCases: Array<[BinaryOp, Fn2, [Fn2, Fn2] | null]> = [
  ['add', (u, v) => u + v, [() => 0, () => 0]], // one rounding of the exact sum: scale |ref|
  ['sub', (u, v) => u - v, [() => 0, () => 0]],
  ['mul', (u, v) => u * v, [() => 0, () => 0]],
  ['div', (u, v) => u / v, [() => 0, () => 0]],
  ['pow', (u, v) => u ** v, [(u, v) => v * u ** (v - 1), (u, v) => u ** v * Math.log(u)]], // exp2(v·log2 u)
  ['maximum', Math.max, null],
  ['minimum', Math.min, null],
  ['eq', (u, v) => +(u === v), null],
  ['ne', (u, v) => +(u !== v), null],
  ['lt', (u, v) => +(u < v), null],
  ['le', (u, v) => +(u <= v), null],
  ['gt', (u, v) => +(u > v), null],
  ['ge', (u, v) => +(u >= v), null],
];

// broadcasting corner cases: equal shapes, scalars, size-1 axes on either side, rank mismatch
const PAIRS: Array<[number[], number[]]> = [
  [[1031], [1031]],
  [[3, 5, 7], [3, 5, 7]],
  [[], []],
  [[257], []],
  [[], [2, 3]],
  [[4, 1], [1, 13]],
  [[1], [5, 3]],
  [[2, 1, 7], [3, 1]],
  [[7], [11, 1, 7]],
  [[2, 3, 1, 5], [3, 17, 1]],
];

describe('binary ops with broadcasting against float64', () => {
  for (const [op, f, d] of binaryCases) {
    it(op, async () => {
      for (const [sa, sb] of PAIRS) {
        // positive bases for pow; small integers make the comparisons hit equality often
        const [a, ra] = op === 'pow' ? randomPair(sa, 0.5, 2) : randomPair(sa, -2, 2);
        const [b, rb] = randomPair(sb, op === 'div' ? 0.5 : -2, 2);
        const round = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'].includes(op);
        const [a2, ra2] = round ? [L.round(a), R.map(ra, Math.round)] : [a, ra];
        const [b2, rb2] = round ? [L.round(b), R.map(rb, Math.round)] : [b, rb];
        const [tol, scale]: [Tolerance, R.Ref | undefined] = d ? [F32.pointwise, A.binary(A.leaf(ra2), A.leaf(rb2), f, ...d).magnitude] : [EXACT, undefined];
        await expectClose(binary(op, a2, b2), R.zip(ra2, rb2, f), tol, `${op} [${sa}] [${sb}]`, scale);
      }
    });
  }
});

describe('elementwise errors', () => {
  it('names the op and both shapes when shapes do not broadcast', () => {
    const a = L.zeros([2, 3]);
    const b = L.zeros([4, 3]);
    expect(() => L.add(a, b)).toThrow('add: shapes [2, 3] and [4, 3] cannot be broadcast together');
    expect(() => L.maximum(L.zeros([5]), L.zeros([4]))).toThrow(/maximum: shapes \[5\] and \[4\]/);
  });

  it('refuses a disposed tensor, naming the op', () => {
    const a = L.ones([3]);
    a.dispose();
    expect(() => L.exp(a)).toThrow('exp: tensor of shape [3] was disposed');
    expect(() => L.mul(a, L.ones([3]))).toThrow('mul: tensor of shape [3] was disposed');
  });

  it('refuses i32 tensors in float ops', () => {
    const i = L.fromArray(new Int32Array([1, 2]));
    expect(() => L.exp(i)).toThrow(/exp: expects f32 tensors, got i32/);
  });

  it('rejects clamp bounds in the wrong order', () => {
    expect(() => L.clamp(L.ones([2]), 2, 1)).toThrow('clamp: min 2 is above max 1');
  });
});
