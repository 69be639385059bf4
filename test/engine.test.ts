import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import { sizeClass } from '../src/gpu/buffer-pool.js';
import { Params } from '../src/gpu/params.js';
import { Tensor } from '../src/tensor/tensor.js';

describe('device', () => {
  it('reports the adapter: names, software flag, limits and features', () => {
    const { adapter } = L.getEngine();
    expect(typeof adapter.description).toBe('string');
    expect(typeof adapter.software).toBe('boolean');
    for (const key of ['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup']) {
      expect(adapter.limits[key]).toBeGreaterThan(0);
    }
    expect(Array.isArray(adapter.features)).toBe(true);
  });

  it('asks the device for the adapter maxima the kernels lean on', () => {
    const e = L.getEngine();
    expect(e.limits.maxStorageBufferBindingSize).toBe(e.adapter.limits.maxStorageBufferBindingSize);
    expect(e.workgroupSize(100000)).toBe(Math.min(e.limits.maxComputeInvocationsPerWorkgroup, e.limits.maxComputeWorkgroupSizeX));
  });
});

describe('pipeline cache and batching', () => {
  it('keys pipelines by kernel and specialization, not by shape', async () => {
    const e = L.getEngine();
    const warm = L.tidy(() => L.sub(L.ones([5]), L.ones([5])));
    await warm.toArray();
    const before = e.stats.pipelines;
    for (const n of [1, 17, 300, 4099]) await L.tidy(() => L.sub(L.ones([n]), L.ones([n]))).toArray();
    expect(e.stats.pipelines).toBe(before);
  });

  it('records many ops into one submission: no wait per op', async () => {
    const e = L.getEngine();
    await e.sync();
    const { dispatches, submits } = e.stats;
    let x = L.ones([1000]);
    for (let i = 0; i < 100; i++) {
      const y = L.add(x, 1);
      x.dispose();
      x = y;
    }
    const [first] = await x.toArray();
    expect(first).toBe(101);
    expect(e.stats.dispatches - dispatches).toBeGreaterThanOrEqual(101);
    expect(e.stats.submits - submits).toBeLessThanOrEqual(2);
  });

  it('surfaces WebGPU validation errors as exceptions, and unknown kernels by name', async () => {
    const e = L.getEngine();
    expect(() => e.dispatch({ kernel: 'no_such_kernel', buffers: [], workgroups: 1 })).toThrow('unknown kernel "no_such_kernel"');
    await e.sync();
    e.dispatch({ kernel: 'fill', params: new Params().u32(1).f32(0, 0), buffers: [], workgroups: 1 }); // binding 1 missing
    await expect(e.sync()).rejects.toThrow(/WebGPU error: .*BindGroup/s);
    expect(await L.add(L.ones([2]), 1).toArray()).toEqual(new Float32Array([2, 2])); // the device lives on
  });
});

describe('buffer pool', () => {
  it('sizes buffers in classes', () => {
    expect(sizeClass(1)).toBe(16);
    expect(sizeClass(100)).toBe(128);
    expect(sizeClass(1 << 20)).toBe(1 << 20);
    expect(sizeClass((1 << 20) + 1)).toBe((1 << 20) + (1 << 17));
    for (let b = 1; b < 1e8; b = Math.ceil(b * 1.37)) {
      expect(sizeClass(b)).toBeGreaterThanOrEqual(b);
      expect(sizeClass(b)).toBeLessThanOrEqual(Math.max(16, 2 * b));
    }
  });

  it('keeps honest statistics of live, pooled and peak bytes', async () => {
    const e = L.getEngine();
    await e.sync();
    const s0 = e.stats;
    const t = L.zeros([1000]); // 4000 bytes -> class 4096
    const s1 = e.stats;
    expect(s1.bytesLive - s0.bytesLive).toBe(4096);
    expect(s1.peakBytesLive).toBeGreaterThanOrEqual(s1.bytesLive);
    t.dispose();
    const s2 = e.stats;
    expect(s2.bytesLive).toBe(s0.bytesLive);
    expect(s2.bytesPooled - s1.bytesPooled).toBe(4096);
    const u = L.zeros([1000]);
    expect(e.stats.reused).toBe(s2.reused + 1);
    expect(e.stats.bytesPooled).toBe(s2.bytesPooled - 4096);
    u.dispose();
  });

  it('poisons buffers in debug mode, so unwritten outputs read as NaN', async () => {
    const t = Tensor.empty([5]);
    expect([...(await t.toArray())].every(Number.isNaN)).toBe(true);
  });
});

describe('views into a flat buffer', () => {
  it('binds each subview at its offset, so kernels read and write only its range', async () => {
    const align = L.getEngine().limits.minStorageBufferOffsetAlignment / 4;
    const flat = L.zeros([3 * align]);
    const a = flat.subview(0, [2, 3]);
    const b = flat.subview(2 * align, [5]);
    L.assign(b, L.arange(5)); // a copy into the range
    L.assign(a, L.exp(L.add(L.reshape(L.slice(b, [1], [4]), [3]), L.zeros([2, 3])))); // kernels reading the range
    const all = await flat.toArray();
    [1, 2, 3, 1, 2, 3].forEach((v, i) => expect(all[i]! / Math.exp(v)).toBeCloseTo(1, 6));
    expect([...all.slice(2 * align, 2 * align + 5)]).toEqual([0, 1, 2, 3, 4]);
    expect([...(await L.mul(b, 2).toArray())]).toEqual([0, 2, 4, 6, 8]); // a kernel writing from the range
    expect(all.slice(6, 2 * align).every((v) => v === 0)).toBe(true);
    expect(() => flat.subview(1, [2])).toThrow(/no view of 2 elements at offset 1/);
    expect(() => flat.subview(2 * align, [align + 1])).toThrow(/no view/);
  });
});

describe('ownership', () => {
  it('tidy disposes what it does not return, and keep() exempts a tensor', () => {
    let inner!: L.Tensor;
    let kept!: L.Tensor;
    const out = L.tidy(() => {
      inner = L.ones([3]);
      kept = L.keep(L.ones([3]));
      return { result: L.add(inner, kept), list: [L.zeros([2])] };
    });
    expect(inner.disposed).toBe(true);
    expect(kept.disposed).toBe(false);
    expect(out.result.disposed).toBe(false);
    expect(out.list[0]!.disposed).toBe(false);
    kept.dispose();
  });

  it('moves returned tensors to the enclosing scope', () => {
    let mid!: L.Tensor;
    const outer = L.tidy(() => {
      mid = L.tidy(() => L.ones([2]));
      return L.zeros([1]);
    });
    expect(mid.disposed).toBe(true);
    expect(outer.disposed).toBe(false);
  });

  it('keeps memory flat across a long loop', async () => {
    const e = L.getEngine();
    const w = L.keep(L.ones([64, 64]));
    let x = L.keep(L.ones([64, 64]));
    await e.sync();
    const start = e.stats.bytesLive;
    for (let i = 0; i < 300; i++) {
      const next = L.tidy(() => L.mul(L.tanh(L.matmul(x, w)), 0.5));
      x.dispose();
      x = next;
    }
    await x.toArray();
    expect(e.stats.bytesLive).toBe(start);
    x.dispose();
    w.dispose();
  });

  it('refuses async functions in tidy and reads of disposed tensors', async () => {
    expect(() => L.tidy(async () => L.ones([1]))).toThrow('tidy: fn must be synchronous');
    const t = L.ones([4]);
    t.dispose();
    t.dispose(); // idempotent
    await expect(t.toArray()).rejects.toThrow('toArray: tensor of shape [4] was disposed');
  });

  it('names the adapter limit a too-large tensor exceeds', () => {
    const limit = L.getEngine().limits.maxStorageBufferBindingSize;
    const n = Math.floor(limit / 4) + 1;
    expect(() => L.zeros([n])).toThrow(new RegExp(`zeros: a tensor of shape \\[${n}\\] needs ${n * 4} bytes, above this adapter's maxStorageBufferBindingSize of ${limit} bytes`));
  });
});

// last in this file: it destroys the file's engine (the next init() makes the one after it)
describe('a lost device', () => {
  it('fails every later op saying so, and init() starts a new engine that works', async () => {
    const old = L.getEngine();
    const t = L.fromArray([1, 2, 3]);
    old.device.destroy();
    await old.device.lost;
    expect(old.lost?.reason).toBe('destroyed');
    await expect(t.toArray()).rejects.toThrow(/^losscape: the GPU device was lost \(destroyed\)/);
    const engine = await L.init();
    engine.poison = true;
    expect(engine).not.toBe(old);
    expect(engine.lost).toBeNull();
    expect([...(await L.add(L.fromArray([1, 2, 3]), 1).toArray())]).toEqual([2, 3, 4]);
    expect(await L.init()).toBe(engine);
  });
});
