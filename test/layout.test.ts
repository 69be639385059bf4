import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import { expectEqual, randomInt, randomPair } from './helpers.js';
import * as R from './reference.js';

describe('reshape', () => {
  it('is a view with an inferred axis, and keeps its storage alive after the source is disposed', async () => {
    const [x, rx] = randomPair([6, 35]);
    const y = L.reshape(x, [-1, 7, 5]);
    expect(y.shape).toEqual([6, 7, 5]);
    x.dispose();
    await expectEqual(y, R.ref([6, 7, 5], rx.data), 'reshape');
  });

  it('names both shapes when the sizes differ', () => {
    expect(() => L.reshape(L.zeros([6, 35]), [4, -1])).toThrow('reshape: cannot view shape [6, 35] as [4, -1]');
    expect(() => L.reshape(L.zeros([6]), [4, 2])).toThrow('reshape: cannot view shape [6] as [4, 2]');
  });
});

describe('permute and transpose', () => {
  it('match the reference for every permutation of a rank-4 tensor with odd sizes', async () => {
    const [x, rx] = randomPair([3, 1, 5, 7]);
    const perms = [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1], [0, 3, 1, 2]];
    for (const p of perms) await expectEqual(L.permute(x, p), R.permute(rx, p), `permute ${p}`);
  });

  it('transposes the last two axes by default, and large matrices', async () => {
    const [x, rx] = randomPair([2, 37, 1031]);
    await expectEqual(L.transpose(x), R.permute(rx, [0, 2, 1]), 'transpose');
    await expectEqual(L.transpose(x, 0, -1), R.permute(rx, [2, 1, 0]), 'transpose 0 -1');
  });

  it('rejects non-permutations', () => {
    expect(() => L.permute(L.zeros([2, 3]), [0, 0])).toThrow(/not a permutation of the 2 axes of \[2, 3\]/);
    expect(() => L.transpose(L.zeros([2, 3]), 0, 2)).toThrow('transpose: axis 2 is out of range for a tensor of rank 2');
  });
});

describe('slice', () => {
  it('follows Python slicing: negative indices, clamping, missing trailing axes', async () => {
    const [x, rx] = randomPair([11, 13, 3]);
    await expectEqual(L.slice(x, [2, 3], [9, 11]), R.slice(rx, [2, 3, 0], [7, 8, 3]), 'slice middle');
    await expectEqual(L.slice(x, [-4, -100], [100, -2]), R.slice(rx, [7, 0, 0], [4, 11, 3]), 'slice negative');
    await expectEqual(L.slice(x, [5, 0, 2], [5, 13, 3]), R.slice(rx, [5, 0, 2], [0, 13, 1]), 'slice empty');
  });

  it('cuts random windows of a large tensor', async () => {
    const [x, rx] = randomPair([1031, 7]);
    for (let t = 0; t < 5; t++) {
      const b0 = randomInt(0, 1030);
      const e0 = randomInt(b0, 1031);
      const b1 = randomInt(0, 6);
      await expectEqual(L.slice(x, [b0, b1], [e0]), R.slice(rx, [b0, b1], [e0 - b0, 7 - b1]), `slice ${b0}:${e0}, ${b1}:`);
    }
  });
});

describe('slice as a view', () => {
  it('shares storage when the window is one aligned run, and copies otherwise', async () => {
    // [3, 4, 64]: each [1, 4, 64] part starts at a multiple of 256 elements (1 KiB), aligned on any adapter
    const [x, rx] = randomPair([3, 4, 64]);
    for (let i = 0; i < 3; i++) {
      const part = L.slice(x, [i], [i + 1]);
      await expectEqual(part, R.slice(rx, [i, 0, 0], [1, 4, 64]), `part ${i}`);
      // used by a kernel at its offset
      await expectEqual(L.mul(part, 2), R.map(R.slice(rx, [i, 0, 0], [1, 4, 64]), (v) => 2 * v), `2 · part ${i}`);
    }
    // unit axes, then a partial axis, then whole axes: [1, 2, 64] from row 2 of part 1 (offset 384, aligned)
    await expectEqual(L.slice(x, [1, 2], [2, 4]), R.slice(rx, [1, 2, 0], [1, 2, 64]), 'rows of one part');
    // not contiguous or not aligned: copies
    await expectEqual(L.slice(x, [0, 1], [3, 2]), R.slice(rx, [0, 1, 0], [3, 1, 64]), 'a row of every part');
    await expectEqual(L.slice(x, [0, 0, 1], [1, 1, 9]), R.slice(rx, [0, 0, 1], [1, 1, 8]), 'unaligned run');
    // a view lives on after its source is disposed
    const last = L.slice(x, [2], [3]);
    x.dispose();
    await expectEqual(last, R.slice(rx, [2, 0, 0], [1, 4, 64]), 'after the source is disposed');
  });
});

describe('concat', () => {
  it('joins along any axis, including size-0 parts', async () => {
    const [a, ra] = randomPair([2, 3, 5]);
    const [b, rb] = randomPair([2, 1, 5]);
    const [c, rc] = randomPair([2, 0, 5]);
    await expectEqual(L.concat([a, b, c, a], 1), R.concat([ra, rb, rc, ra], 1), 'concat axis 1');
    const [d, rd] = randomPair([2, 3, 2]);
    await expectEqual(L.concat([a, d], -1), R.concat([ra, rd], 2), 'concat axis -1');
    await expectEqual(L.concat([a, a, a], 0), R.concat([ra, ra, ra], 0), 'concat axis 0');
  });

  it('names the shapes that do not fit', () => {
    expect(() => L.concat([L.zeros([2, 3]), L.zeros([3, 3])], 1)).toThrow('concat: shapes [2, 3] (f32) and [3, 3] (f32) differ off axis 1');
  });
});

describe('broadcastTo, clone and i32 data', () => {
  it('materializes a broadcast and copies i32 tensors bit for bit', async () => {
    const [x, rx] = randomPair([3, 1]);
    await expectEqual(L.broadcastTo(x, [2, 3, 4]), R.zip(rx, R.ref([2, 3, 4], new Array(24).fill(0)), (u) => u), 'broadcastTo');
    const labels = L.fromArray(new Int32Array([5, -7, 2 ** 30, 0, 9, 1]), [2, 3]);
    expect(labels.dtype).toBe('i32');
    expect([...(await L.transpose(labels).toArray())]).toEqual([5, 0, -7, 9, 2 ** 30, 1]);
    expect([...(await L.clone(labels).toArray())]).toEqual([5, -7, 2 ** 30, 0, 9, 1]);
    expect(() => L.broadcastTo(x, [2, 2])).toThrow('broadcastTo: shapes [3, 1] and [2, 2] cannot be broadcast together');
    expect(() => L.broadcastTo(x, [2, 3, 5]).dispose()).not.toThrow();
    expect(() => L.broadcastTo(L.zeros([2, 3]), [3])).toThrow('broadcastTo: shape [2, 3] cannot be broadcast to [3]');
  });
});
