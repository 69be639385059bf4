// The file readers on thousands of mutated and random inputs (fast-check, seeded from the test seed:
// a failure prints fast-check's seed and path, and LOSSCAPE_TEST_SEED replays the whole run). Each
// input must parse, or be refused with a named error: an Error (not a TypeError or RangeError from
// inside) whose message starts with the file name given; quickly, and without allocating what a
// garbage header asks for. (There is no surface-file reader on main yet; it is not fuzzed here.)
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, parseIdx, parsePartial, parseSidecar } from '../src/index.js';
import { idxFromBytes } from '../src/node/index.js';
import { SEED } from './helpers.js';

const note = `seed ${SEED} (replay with LOSSCAPE_TEST_SEED=${SEED})`;
const NAME = 'fuzzed/input.bin';
const RUNS = 2500; // per arbitrary; each reader gets two or three
const runs: Record<string, number> = {};

/**
 * Runs a reader on one input: it returns what its callers rely on (`valid` says why not, or null),
 * or throws a plain Error naming the file; fast, and without a large allocation.
 */
function check<T>(reader: string, read: () => T, valid: (v: T) => string | null = () => null): void {
  runs[reader] = (runs[reader] ?? 0) + 1;
  const before = process.memoryUsage().arrayBuffers;
  const t0 = performance.now();
  try {
    const why = valid(read());
    if (why) throw new TypeError(`accepted an input its callers cannot use: ${why}`);
  } catch (e) {
    if (!(e instanceof Error) || e.constructor !== Error) throw new Error(`${reader}: crashed with ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    if (!e.message.startsWith(`${NAME}: `)) throw new Error(`${reader}: an error that does not name the file: ${e.message}`);
  }
  const ms = performance.now() - t0;
  if (ms > 1000) throw new Error(`${reader}: took ${ms.toFixed(0)} ms on one small input`);
  const grew = process.memoryUsage().arrayBuffers - before;
  if (grew > 2 ** 26) throw new Error(`${reader}: allocated ${grew} bytes for an input of a few kilobytes`);
}

function assertProperty<T>(arb: fc.Arbitrary<T>, body: (v: T) => void, numRuns = RUNS): void {
  const seed = SEED | 0;
  try {
    fc.assert(fc.property(arb, body), { seed, numRuns });
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${note}`);
  }
}

/** Byte-level mutations of a valid file: bit flips, overwritten words (lengths, sizes), cuts, insertions. */
function mutated(valid: Uint8Array): fc.Arbitrary<Uint8Array> {
  const edit = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('word' as const), at: fc.nat(), value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), width: fc.constantFrom(1, 2, 4, 8) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 16 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }),
  );
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
    let b = Uint8Array.from(valid);
    for (const e of edits) {
      const at = b.length ? e.at % b.length : 0;
      if (e.kind === 'flip' && b.length) b[at]! ^= 1 << e.bit;
      else if (e.kind === 'word') {
        const bytes = new Uint8Array(8);
        new DataView(bytes.buffer).setBigUint64(0, e.value, true);
        b.set(bytes.subarray(0, Math.min(e.width, b.length - at)), at);
      } else if (e.kind === 'cut') b = b.subarray(0, at);
      else if (e.kind === 'insert') b = Uint8Array.from([...b.subarray(0, at), ...e.bytes, ...b.subarray(at)]);
      else if (e.kind === 'delete') b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + e.count)]);
    }
    return b;
  });
}

/** Text-level mutations of valid JSON: cuts, inserted characters, replaced values. */
function mutatedText(valid: string): fc.Arbitrary<string> {
  return fc.tuple(fc.nat(), fc.nat(), fc.string({ maxLength: 12 }), fc.constantFrom('cut', 'insert', 'replace')).map(([a, b, text, kind]) => {
    const i = a % (valid.length + 1);
    const j = Math.min(valid.length, i + (b % 20));
    return kind === 'cut' ? valid.slice(0, i) : kind === 'insert' ? valid.slice(0, i) + text + valid.slice(i) : valid.slice(0, i) + text + valid.slice(j);
  });
}

const numberish = fc.oneof(fc.integer({ min: -3, max: 300 }), fc.constantFrom(2 ** 31, 2 ** 32, 2 ** 53, 2 ** 60, 1e300, -0, 0.5, Number.MAX_SAFE_INTEGER), fc.double(), fc.constant(null), fc.string({ maxLength: 3 }));

describe('fuzzing the file readers', () => {
  it('safetensors (decodeSafetensors): random bytes, mutations of a valid file, random headers', () => {
    const valid = encodeSafetensors([
      ['w', { dtype: 'f32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }],
      ['i', { dtype: 'i32', shape: [4], data: Int32Array.from([1, -2, 3, 4]) }],
    ], { format: 'pt' });
    expect(decodeSafetensors(valid, NAME).tensors.size).toBe(2);
    const read = (b: Uint8Array) => check('safetensors', () => decodeSafetensors(b, NAME), ({ tensors, metadata }) => {
      if (!metadata || typeof metadata !== 'object' || !Object.values(metadata).every((v) => typeof v === 'string')) return `metadata ${JSON.stringify(metadata)}`;
      for (const [k, t] of tensors) if (t.data.length !== t.shape.reduce((a, d) => a * d, 1)) return `tensor ${k}: ${t.data.length} values for shape [${t.shape}]`;
      return null;
    });
    assertProperty(fc.uint8Array({ maxLength: 512 }), read);
    assertProperty(mutated(valid), read);
    // well-formed JSON headers with garbage in every field: huge shapes and offsets, odd dtypes, metadata of any kind
    const entry = fc.record({ dtype: fc.oneof(fc.constantFrom('F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL', 'toString', '__proto__', 'X'), numberish), shape: fc.array(numberish, { maxLength: 4 }), data_offsets: fc.array(numberish, { maxLength: 3 }) }, { requiredKeys: [] });
    const header = fc.dictionary(fc.oneof(fc.string({ maxLength: 6 }), fc.constant('__metadata__')), fc.oneof(entry, fc.jsonValue({ maxDepth: 2 })), { maxKeys: 4 });
    assertProperty(fc.tuple(header, fc.uint8Array({ maxLength: 64 }), fc.option(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }))), ([h, data, length]) => {
      const json = new TextEncoder().encode(JSON.stringify(h));
      const b = new Uint8Array(8 + json.length + data.length);
      new DataView(b.buffer).setBigUint64(0, length ?? BigInt(json.length), true);
      b.set(json, 8);
      b.set(data, 8 + json.length);
      read(b);
    });
  });

  it('IDX (parseIdx, and idxFromBytes with gzip): random bytes, mutations, random headers, gzipped mutations', () => {
    const idx = (type: number, shape: number[], data: number[]) => {
      const b = new Uint8Array(4 + 4 * shape.length + data.length);
      const v = new DataView(b.buffer);
      b[2] = type;
      b[3] = shape.length;
      shape.forEach((d, i) => v.setUint32(4 + 4 * i, d));
      b.set(data, 4 + 4 * shape.length);
      return b;
    };
    const valid = idx(0x08, [3, 4, 5], Array.from({ length: 60 }, (_, i) => i));
    expect(parseIdx(valid, NAME).shape).toEqual([3, 4, 5]);
    expect(idxFromBytes(gzipSync(valid), NAME).shape).toEqual([3, 4, 5]);
    const read = (b: Uint8Array) => check('IDX', () => parseIdx(b, NAME));
    const readGz = (b: Uint8Array) => check('IDX (gzip)', () => idxFromBytes(b, NAME));
    assertProperty(fc.uint8Array({ maxLength: 256 }), read);
    assertProperty(mutated(valid), (b) => {
      read(b);
      readGz(gzipSync(b));
    });
    assertProperty(mutated(gzipSync(valid)), readGz);
    // headers of every element type with dimension sizes up to 2^32 - 1
    const header = fc.tuple(fc.constantFrom(0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e, 0x07), fc.array(fc.oneof(fc.integer({ min: 0, max: 6 }), fc.constant(2 ** 32 - 1), fc.constant(2 ** 16)), { maxLength: 4 }), fc.uint8Array({ maxLength: 128 }));
    assertProperty(header, ([type, shape, data]) => {
      const b = idx(type, shape, [...data]);
      read(b);
      readGz(gzipSync(b));
    }, RUNS / 2);
  });

  it('checkpoint sidecars (parseSidecar): random text, mutations of a valid sidecar, random configs', () => {
    const valid = JSON.stringify({ format: 'losscape-checkpoint/1', config: { kind: 'mlp', sizes: [784, 128, 10] }, meta: { epoch: 3 } });
    expect(parseSidecar(valid, NAME).config.kind).toBe('mlp');
    // what createModel reads of each kind: every such field present and a positive integer (lists of them)
    const fields: Record<string, string[]> = { mlp: ['sizes[]'], cnn: ['imageSize', 'channels', 'hidden', 'classes', 'widths[]'], vit: ['imageSize', 'patchSize', 'channels', 'width', 'depth', 'heads', 'mlpRatio', 'classes'], resnet: ['channels', 'classes', 'blocks[]', 'widths[]'] };
    const positive = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
    const read = (t: string) => check('sidecar', () => parseSidecar(t, NAME), ({ config }) => {
      const c = config as unknown as Record<string, unknown>;
      const need = fields[c.kind as string];
      if (!need) return `model kind ${JSON.stringify(c.kind)}`;
      const bad = need.find((f) => (f.endsWith('[]') ? !(Array.isArray(c[f.slice(0, -2)]) && (c[f.slice(0, -2)] as unknown[]).length > 0 && (c[f.slice(0, -2)] as unknown[]).every(positive)) : !positive(c[f])));
      return bad ? `config field ${bad}: ${JSON.stringify(c[bad.replace('[]', '')])}` : null;
    });
    assertProperty(fc.oneof(fc.string({ maxLength: 64 }), fc.json()), read);
    assertProperty(mutatedText(valid), read);
    const config = fc.record({
      kind: fc.oneof(fc.constantFrom('mlp', 'cnn', 'vit', 'resnet'), numberish), sizes: fc.array(numberish, { maxLength: 4 }), widths: fc.array(numberish, { maxLength: 4 }), blocks: fc.array(numberish, { maxLength: 4 }),
      imageSize: numberish, patchSize: numberish, channels: numberish, width: numberish, depth: numberish, heads: numberish, mlpRatio: numberish, classes: numberish, hidden: numberish, eps: numberish, dropout: numberish, stem: fc.oneof(fc.constantFrom('cifar', 'imagenet'), numberish),
    }, { requiredKeys: ['kind'] });
    assertProperty(fc.record({ format: fc.oneof(fc.constant('losscape-checkpoint/1'), fc.string()), config: fc.oneof(config, fc.jsonValue({ maxDepth: 2 })), meta: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: [] }), (s) => read(JSON.stringify(s)));
  });

  it('partial landscape files (parsePartial): random text, mutations of a valid file, random fields', () => {
    const valid = JSON.stringify({ format: 'losscape-partial/1', fingerprint: 'f', x: [-1, 0, 1], y: [0, 1], provenance: { plan: 'plane' }, shard: { index: 1, count: 2 }, results: { 1: [0.5, 0.9], 3: [null, null], 5: [1e3, 0] }, timings: { seconds: 1.5, points: 3 } });
    expect(Object.keys(parsePartial(valid, NAME).results)).toEqual(['1', '3', '5']);
    const read = (t: string) => check('partial', () => parsePartial(t, NAME), (p) => {
      const bad = Object.keys(p.results).find((k) => Number(k) % p.shard.count !== p.shard.index);
      if (bad) return `result ${bad} of another shard than ${p.shard.index}/${p.shard.count}`;
      if (p.timings !== undefined && !(Number.isFinite(p.timings?.seconds) && Number.isFinite(p.timings?.points))) return `timings ${JSON.stringify(p.timings)}`;
      return !p.provenance || typeof p.provenance !== 'object' || Array.isArray(p.provenance) ? `provenance ${JSON.stringify(p.provenance)}` : null;
    });
    assertProperty(fc.oneof(fc.string({ maxLength: 64 }), fc.json()), read);
    assertProperty(mutatedText(valid), read);
    const list = fc.oneof(fc.array(numberish, { maxLength: 4 }), fc.constant(null), numberish);
    assertProperty(fc.record({
      format: fc.oneof(fc.constant('losscape-partial/1'), fc.string()), fingerprint: fc.oneof(fc.string(), numberish), x: list, y: list, provenance: fc.jsonValue({ maxDepth: 1 }),
      shard: fc.oneof(fc.record({ index: numberish, count: numberish }, { requiredKeys: [] }), numberish), results: fc.oneof(fc.dictionary(fc.oneof(fc.nat({ max: 20 }).map(String), fc.string({ maxLength: 3 })), fc.oneof(fc.array(numberish, { maxLength: 3 }), numberish)), fc.jsonValue({ maxDepth: 1 })),
      timings: fc.oneof(fc.record({ seconds: numberish, points: numberish }, { requiredKeys: [] }), numberish),
    }, { requiredKeys: [] }), (p) => read(JSON.stringify(p)));
  });

  it('refuses garbage headers before allocating what they ask for', () => {
    const safetensors = (header: object, length?: bigint) => {
      const json = new TextEncoder().encode(JSON.stringify(header));
      const b = new Uint8Array(8 + json.length);
      new DataView(b.buffer).setBigUint64(0, length ?? BigInt(json.length), true);
      b.set(json, 8);
      return b;
    };
    const before = process.memoryUsage().arrayBuffers;
    expect(() => decodeSafetensors(safetensors({ w: { dtype: 'F32', shape: [2 ** 30, 2 ** 30], data_offsets: [0, 2 ** 60] } }), NAME)).toThrow(`${NAME}: tensor "w": data_offsets [0, ${2 ** 60}] run past the data (0 bytes)`);
    expect(() => decodeSafetensors(safetensors({ w: { dtype: 'F32', shape: [2 ** 30, 2 ** 30], data_offsets: [0, 0] } }), NAME)).toThrow(`${NAME}: tensor "w": 0 bytes for shape [1073741824,1073741824] of F32 (4611686018427388000 expected)`);
    expect(() => decodeSafetensors(safetensors({}, 2n ** 63n), NAME)).toThrow(`${NAME}: not a valid safetensors file: header length ${2n ** 63n} runs past the end of the file (10 bytes)`);
    const idx = new Uint8Array([0, 0, 8, 2, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1]);
    expect(() => parseIdx(idx, NAME)).toThrow(`${NAME}: not a valid IDX file: 12 bytes, but shape [4294967295,1] of ubyte needs 4294967307`);
    expect(() => idxFromBytes(gzipSync(idx), NAME)).toThrow(`${NAME}: not a valid IDX file: shape [4294967295,1] needs 4294967307 bytes, more than losscape unpacks (2147483648)`);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(2 ** 25);
    // a gzip bomb: a header for 100 bytes, then 32 MB of zeros
    const raw = new Uint8Array(12 + 2 ** 25);
    raw.set([0, 0, 8, 2, 0, 0, 0, 10, 0, 0, 0, 10]);
    const bomb = gzipSync(raw);
    expect(bomb.length).toBeLessThan(2 ** 16);
    const beforeBomb = process.memoryUsage().arrayBuffers;
    expect(() => idxFromBytes(bomb, NAME)).toThrow(`${NAME}: not a valid IDX file: gzip data unpacks to more than the 112 bytes its header's shape [10,10] needs`);
    expect(process.memoryUsage().arrayBuffers - beforeBomb).toBeLessThan(2 ** 24);
  });

  it('ran thousands of inputs through each reader', () => {
    // the volumes docs/RELIABILITY.md reports
    console.log(`fuzzing runs per reader: ${JSON.stringify(runs)}`);
    for (const reader of ['safetensors', 'IDX', 'IDX (gzip)', 'sidecar', 'partial']) expect(runs[reader], reader).toBeGreaterThanOrEqual(RUNS * 1.5);
  });
});
