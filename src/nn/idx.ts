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

export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
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
  const n = shape.reduce((a, d) => a * d, 1);
  const [name, size] = type;
  const expected = start + n * size;
  if (bytes.length !== expected) throw fail(`${bytes.length} bytes, but shape [${shape}] of ${name} needs ${expected}`);
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
