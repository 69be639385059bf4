// A slice of an image dataset as one small binary asset, for pages that train without fetching a
// whole dataset (the live page ships a few thousand MNIST images). Layout, little-endian: "LCIS",
// u32 training count, u32 test count, u32 rows, u32 cols (20 bytes); then every image's pixels
// (unsigned bytes, row-major, training images first); then every label (a byte each).
import { idxDataset, type Dataset } from './data.js';
import type { IdxArray } from './idx.js';

const MAGIC = 'LCIS';
const HEADER = 20;

export interface ImageSplit {
  /** [N, rows, cols], unsigned bytes */
  images: IdxArray;
  /** [N] */
  labels: IdxArray;
}

/** The first `counts` samples of two splits as one slice file's bytes. */
export function encodeImageSlice(train: ImageSplit, test: ImageSplit, counts: { train: number; test: number }): Uint8Array {
  const [, rows, cols] = train.images.shape as [number, number, number];
  const splits = [[train, counts.train], [test, counts.test]] as const;
  for (const [s, n] of splits) {
    if (!(s.images.data instanceof Uint8Array) || s.images.shape[1] !== rows || s.images.shape[2] !== cols) throw new Error(`image slice: both splits need unsigned-byte images of ${rows}x${cols}`);
    if (!Number.isInteger(n) || n < 1 || n > s.images.shape[0]!) throw new Error(`image slice: ${n} samples asked of a split of ${s.images.shape[0]}`);
  }
  const pixels = rows * cols;
  const total = counts.train + counts.test;
  const out = new Uint8Array(HEADER + total * (pixels + 1));
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(MAGIC));
  [counts.train, counts.test, rows, cols].forEach((v, i) => view.setUint32(4 + 4 * i, v, true));
  let at = HEADER;
  for (const [s, n] of splits) {
    out.set(s.images.data.subarray(0, n * pixels) as Uint8Array, at);
    at += n * pixels;
  }
  for (const [s, n] of splits) {
    for (let i = 0; i < n; i++) out[at++] = s.labels.data[i]!;
  }
  return out;
}

/** Parses a slice file's bytes into normalized training and test sets; `where` (a file or URL) names it in errors. */
export function decodeImageSlice(bytes: Uint8Array, where: string, dataset: string, mean: number, std: number): { train: Dataset; test: Dataset } {
  const fail = (why: string) => new Error(`${where}: not a losscape image slice: ${why}`);
  if (bytes.length < HEADER || new TextDecoder().decode(bytes.subarray(0, 4)) !== MAGIC) throw fail(`it does not start with "${MAGIC}"`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [train, test, rows, cols] = [0, 1, 2, 3].map((i) => view.getUint32(4 + 4 * i, true)) as [number, number, number, number];
  const pixels = rows * cols;
  const expected = HEADER + (train + test) * (pixels + 1);
  if (bytes.length !== expected) throw fail(`${bytes.length} bytes, but ${train} + ${test} images of ${rows}x${cols} need ${expected}`);
  const labelsAt = HEADER + (train + test) * pixels;
  const split = (name: string, first: number, n: number) =>
    idxDataset(`${dataset}-${name}`,
      { shape: [n, rows, cols], data: bytes.subarray(HEADER + first * pixels, HEADER + (first + n) * pixels) },
      { shape: [n], data: bytes.subarray(labelsAt + first, labelsAt + first + n) },
      mean, std, { images: where, labels: where });
  return { train: split('train', 0, train), test: split('test', train, test) };
}
