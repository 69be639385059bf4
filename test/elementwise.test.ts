import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import { binary, type BinaryOp, type UnaryOp } from '../src/index.js';
import { expectClose, randomPair } from './helpers.js';
import * as R from './reference.js';

const TOL = 1e-6;
// sizes that do not divide the 256-wide workgroups: 1, primes, and larger than one workgroup
const SIZES = [[1], [7], [257], [1031], [3, 5, 7], [2, 1, 1, 13]];

const unaryCases: Array<[UnaryOp, (v: number) => number, number, number]> = [
  ['neg', (v) => -v, -3, 3],
  ['abs', Math.abs, -3, 3],
  ['exp', Math.exp, -10, 10],
  ['log', Math.log, 1e-3, 100],
  ['sqrt', Math.sqrt, 0, 100],
  ['rsqrt', (v) => 1 / Math.sqrt(v), 1e-2, 100],
  ['tanh', Math.tanh, -12, 12],
  ['sigmoid', (v) => 1 / (1 + Math.exp(-v)), -30, 30],
  ['relu', (v) => Math.max(v, 0), -3, 3],
  ['sin', Math.sin, -Math.PI, Math.PI],
  ['cos', Math.cos, -Math.PI, Math.PI],
  ['square', (v) => v * v, -3, 3],
  ['reciprocal', (v) => 1 / v, 0.1, 10],
  ['sign', Math.sign, -3, 3],
  ['floor', Math.floor, -30, 30],
  ['ceil', Math.ceil, -30, 30],
];

describe('unary ops against float64', () => {
  for (const [op, f, lo, hi] of unaryCases) {
    it(op, async () => {
      for (const shape of SIZES) {
        const [x, rx] = randomPair(shape, lo, hi);
        await expectClose(L.unary(op, x), R.map(rx, f), TOL, `${op} ${shape}`);
      }
    });
  }

  it('scalar-parameter ops: affine, pow, clamp, and scalar operands of add/sub/mul', async () => {
    const [x, rx] = randomPair([1031], 0.1, 4);
    await expectClose(L.add(x, 2.5), R.map(rx, (v) => v + 2.5), TOL, 'add scalar');
    await expectClose(L.sub(x, 0.75), R.map(rx, (v) => v - 0.75), TOL, 'sub scalar');
    await expectClose(L.mul(x, -3), R.map(rx, (v) => v * -3), TOL, 'mul scalar');
    await expectClose(L.pow(x, 1.7), R.map(rx, (v) => v ** 1.7), TOL, 'pow scalar');
    await expectClose(L.clamp(x, 1, 2), R.map(rx, (v) => Math.min(Math.max(v, 1), 2)), TOL, 'clamp');
    await expectClose(L.sub(1, x), R.map(rx, (v) => 1 - v), TOL, 'scalar minus tensor');
    await expectClose(L.div(2, x), R.map(rx, (v) => 2 / v), TOL, 'scalar over tensor');
  });
});

const binaryCases: Array<[BinaryOp, (u: number, v: number) => number]> = [
  ['add', (u, v) => u + v],
  ['sub', (u, v) => u - v],
  ['mul', (u, v) => u * v],
  ['div', (u, v) => u / v],
  ['pow', (u, v) => u ** v],
  ['maximum', Math.max],
  ['minimum', Math.min],
  ['eq', (u, v) => +(u === v)],
  ['ne', (u, v) => +(u !== v)],
  ['lt', (u, v) => +(u < v)],
  ['le', (u, v) => +(u <= v)],
  ['gt', (u, v) => +(u > v)],
  ['ge', (u, v) => +(u >= v)],
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
  for (const [op, f] of binaryCases) {
    it(op, async () => {
      for (const [sa, sb] of PAIRS) {
        // positive bases for pow; small integers make the comparisons hit equality often
        const [a, ra] = op === 'pow' ? randomPair(sa, 0.5, 2) : randomPair(sa, -2, 2);
        const [b, rb] = randomPair(sb, op === 'div' ? 0.5 : -2, 2);
        const round = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'].includes(op);
        const [a2, ra2] = round ? [L.round(a), R.map(ra, Math.round)] : [a, ra];
        const [b2, rb2] = round ? [L.round(b), R.map(rb, Math.round)] : [b, rb];
        await expectClose(binary(op, a2, b2), R.zip(ra2, rb2, f), TOL, `${op} [${sa}] [${sb}]`);
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
