// The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/): a magic number
// 0x0000TTNN (T: element type, N: number of dimensions), N big-endian u32 sizes, then the data,
// big-endian. Every field is validated. (Gzipped files are unpacked first by the Node entry, src/node/data.ts.)

export interface IdxArray {
  shape: number[];
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

const TYPES: Record<number, [string, number]> = {
  0x08: ['ubyte', 1], 0x09: ['byte', 1], 0x0b: ['short', 2], 0x0c: ['int', 4], 0x0d: ['float', 4], 0x0e: ['double', 8],
};

export interface IdxHeader {
  shape: number[];
  type: string;
  /** bytes per element */
  size: number;
  /** where the data starts */
  start: number;
  /** the file's length its header implies: start + elements · size */
  length: number;
}

/** Parses and checks an IDX header from the file's first bytes (at least 4 + 4·dimensions of them). */
export function idxHeader(bytes: Uint8Array, file: string): IdxHeader {
  const fail = (why: string) => new Error(`${file}: not a valid IDX file: ${why}`);
  if (bytes.length < 4) throw fail(`${bytes.length} bytes, too short for the magic number`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[0] !== 0 || bytes[1] !== 0) throw fail(`magic number 0x${view.getUint32(0).toString(16).padStart(8, '0')} does not start with two zero bytes`);
  const type = TYPES[bytes[2]!];
  if (!type) throw fail(`unknown element type 0x${bytes[2]!.toString(16)}`);
  const ndim = bytes[3]!;
  if (ndim === 0) throw fail('zero dimensions');
  const start = 4 + 4 * ndim;
  if (bytes.length < start) throw fail(`${bytes.length} bytes, too short for ${ndim} dimension sizes`);
  const shape = Array.from({ length: ndim }, (_, i) => view.getUint32(4 + 4 * i));
  const [name, size] = type;
  return { shape, type: name, size, start, length: start + shape.reduce((a, d) => a * d, 1) * size };
}

export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  const { shape, type: name, size, start, length } = idxHeader(bytes, file);
  // the length is checked before anything is allocated: a garbage header cannot ask for gigabytes
  if (bytes.length !== length) throw new Error(`${file}: not a valid IDX file: ${bytes.length} bytes, but shape [${shape}] of ${name} needs ${length}`);
  const n = (length - start) / size;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = (i: number) => start + i * size;
  const data =
    name === 'ubyte' ? new Uint8Array(bytes.subarray(start)) // a plain copy (a Node Buffer may be pooled)
    : name === 'byte' ? Int8Array.from({ length: n }, (_, i) => view.getInt8(at(i)))
    : name === 'short' ? Int16Array.from({ length: n }, (_, i) => view.getInt16(at(i)))
    : name === 'int' ? Int32Array.from({ length: n }, (_, i) => view.getInt32(at(i)))
    : name === 'float' ? Float32Array.from({ length: n }, (_, i) => view.getFloat32(at(i)))
    : Float64Array.from({ length: n }, (_, i) => view.getFloat64(at(i)));
  return { shape, data };
}
