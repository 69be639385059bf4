// safetensors (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length, a
// JSON header {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {..}}, then the
// raw little-endian data. losscape writes F32 (and I32); it reads F32, F16, BF16, F64 (to f32) and
// the integer types (to i32), validating everything a malformed file could get wrong.

export interface HostTensor {
  dtype: 'f32' | 'i32';
  shape: number[];
  data: Float32Array | Int32Array;
}

const ITEM_SIZE: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export function encodeSafetensors(tensors: Array<[string, HostTensor]>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    const bytes = t.data.byteLength;
    header[name] = { dtype: t.dtype === 'f32' ? 'F32' : 'I32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // the format pads the header to 8 bytes
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const [, t] of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function convert(dtype: string, bytes: Uint8Array, n: number, where: string): HostTensor['data'] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32': return Float32Array.from({ length: n }, (_, i) => view.getFloat32(4 * i, true));
    case 'F64': return Float32Array.from({ length: n }, (_, i) => view.getFloat64(8 * i, true));
    case 'F16': return Float32Array.from({ length: n }, (_, i) => halfToFloat(view.getUint16(2 * i, true)));
    case 'BF16': {
      const f = new Float32Array(n);
      const words = new Uint32Array(f.buffer);
      for (let i = 0; i < n; i++) words[i] = view.getUint16(2 * i, true) << 16;
      return f;
    }
    case 'I64': return Int32Array.from({ length: n }, (_, i) => {
      const v = view.getBigInt64(8 * i, true);
      if (v > 2147483647n || v < -2147483648n) throw new Error(`${where}: I64 value ${v} does not fit losscape's i32`);
      return Number(v);
    });
    case 'I32': return Int32Array.from({ length: n }, (_, i) => view.getInt32(4 * i, true));
    case 'I16': return Int32Array.from({ length: n }, (_, i) => view.getInt16(2 * i, true));
    case 'I8': return Int32Array.from({ length: n }, (_, i) => view.getInt8(i));
    case 'U8': case 'BOOL': return Int32Array.from({ length: n }, (_, i) => view.getUint8(i));
    default: throw new Error(`${where}: unknown dtype "${dtype}"`);
  }
}

/** Parses a safetensors file's bytes; `file` names it in every error. */
export function decodeSafetensors(bytes: Uint8Array, file: string): { tensors: Map<string, HostTensor>; metadata: Record<string, string> } {
  const fail = (why: string) => new Error(`${file}: not a valid safetensors file: ${why}`);
  if (bytes.length < 8) throw fail(`${bytes.length} bytes, shorter than the 8-byte header length`);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(bytes.length - 8)) throw fail(`header length ${headerLength} runs past the end of the file (${bytes.length} bytes)`);
  const start = 8 + Number(headerLength);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, start)));
  } catch (e) {
    throw fail(`header is not JSON (${(e as Error).message})`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw fail('header is not a JSON object');
  const data = bytes.subarray(start);
  const tensors = new Map<string, HostTensor>();
  const spans: Array<[number, number, string]> = [];
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      // the format's metadata is a map of strings to strings
      if (!entry || typeof entry !== 'object' || Array.isArray(entry) || !Object.values(entry).every((v) => typeof v === 'string')) throw fail('"__metadata__" is not an object of strings');
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const where = `${file}: tensor "${name}"`;
    if (!e || typeof e !== 'object' || Array.isArray(e)) throw new Error(`${where}: not an object {dtype, shape, data_offsets}`);
    if (typeof e.dtype !== 'string' || !Object.hasOwn(ITEM_SIZE, e.dtype)) throw new Error(`${where}: unknown dtype ${JSON.stringify(e.dtype)}`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) throw new Error(`${where}: bad shape ${JSON.stringify(e.shape)}`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0) || offs[0] > offs[1]) {
      throw new Error(`${where}: bad data_offsets ${JSON.stringify(offs)}`);
    }
    const [b, end] = offs as [number, number];
    if (end > data.length) throw new Error(`${where}: data_offsets [${b}, ${end}] run past the data (${data.length} bytes)`);
    const n = (e.shape as number[]).reduce((a, d) => a * d, 1);
    if (end - b !== n * ITEM_SIZE[e.dtype]!) {
      throw new Error(`${where}: ${end - b} bytes for shape [${e.shape}] of ${e.dtype} (${n * ITEM_SIZE[e.dtype]!} expected)`);
    }
    spans.push([b, end, name]);
    const values = convert(e.dtype, data.subarray(b, end), n, where);
    tensors.set(name, { dtype: values instanceof Int32Array ? 'i32' : 'f32', shape: e.shape as number[], data: values });
  }
  spans.sort((x, y) => x[0] - y[0]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i]![0] < spans[i - 1]![1]) throw fail(`tensors "${spans[i - 1]![2]}" and "${spans[i]![2]}" overlap`);
  }
  return { tensors, metadata };
}
