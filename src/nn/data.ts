// Datasets in memory and batching: image sets from parsed IDX arrays (the files of MNIST and
// Fashion-MNIST are read by the Node entry, src/node/data.ts; a page fetches them), and synthetic sets
// for fast tests (Gaussian blobs, spirals). Inputs are normalized on the host; batches are seeded
// shuffles, optionally augmented, uploaded one batch at a time.
import { fromArray } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import type { IdxArray } from './idx.js';

export interface Dataset {
  name: string;
  /** shape of one sample, e.g. [1, 28, 28] or [2] */
  sampleShape: number[];
  inputs: Float32Array;
  labels: Int32Array;
  classes: number;
}

export const size = (d: Dataset) => d.labels.length;

/** A seeded PRNG (mulberry32) for shuffling and augmentation: the same seed, the same order. */
export function hostRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An image dataset from parsed IDX images [N, rows, cols] (unsigned bytes) and labels [N], normalized as (v/255 − mean)/std. */
export function idxDataset(name: string, images: IdxArray, labels: IdxArray, mean: number, std: number, where: { images: string; labels: string }): Dataset {
  if (images.shape.length !== 3 || !(images.data instanceof Uint8Array)) throw new Error(`${where.images}: expected unsigned bytes [N, rows, cols], got [${images.shape}]`);
  if (labels.shape.length !== 1 || labels.shape[0] !== images.shape[0]) throw new Error(`${where.labels}: ${labels.shape[0]} labels for ${images.shape[0]} images in ${where.images}`);
  // a byte has 256 values: normalize through a table (a per-element callback takes seconds on MNIST)
  const table = Float32Array.from({ length: 256 }, (_, v) => (v / 255 - mean) / std);
  const inputs = new Float32Array(images.data.length);
  for (let i = 0; i < inputs.length; i++) inputs[i] = table[images.data[i]!]!;
  let classes = 0;
  for (const l of labels.data) classes = Math.max(classes, l + 1);
  return { name, sampleShape: [1, images.shape[1]!, images.shape[2]!], inputs, labels: Int32Array.from(labels.data), classes };
}

export type Split = 'train' | 'test';

/** Normalization constants (mean, std of the training pixels in [0, 1]), as torchvision's examples use them. */
export const NORMALIZATION = { mnist: [0.1307, 0.3081], 'fashion-mnist': [0.286, 0.353] } as const;

/** `classes` Gaussian blobs in `dims` dimensions, centres on a sphere of radius `spread`. */
export function blobs(n: number, classes: number, dims: number, seed: number, spread = 3): Dataset {
  const rand = hostRandom(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const centres = Array.from({ length: classes }, () => {
    const c = Array.from({ length: dims }, gauss);
    const r = Math.hypot(...c) || 1;
    return c.map((v) => (v / r) * spread);
  });
  const labels = Int32Array.from({ length: n }, (_, i) => i % classes);
  const inputs = Float32Array.from({ length: n * dims }, (_, e) => centres[labels[Math.floor(e / dims)]!]![e % dims]! + gauss());
  return { name: 'blobs', sampleShape: [dims], inputs, labels, classes };
}

/** Interleaved 2-D spirals, one arm per class, with Gaussian noise. */
export function spirals(n: number, classes: number, seed: number, noise = 0.1): Dataset {
  const rand = hostRandom(seed);
  const labels = Int32Array.from({ length: n }, (_, i) => i % classes);
  const inputs = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const r = rand();
    const theta = 3 * Math.PI * r + (2 * Math.PI * labels[i]!) / classes;
    inputs[2 * i] = r * Math.cos(theta) * 2 + noise * (rand() - 0.5) * 2;
    inputs[2 * i + 1] = r * Math.sin(theta) * 2 + noise * (rand() - 0.5) * 2;
  }
  return { name: 'spirals', sampleShape: [2], inputs, labels, classes };
}

/** The first n samples (a subset for quick runs). */
export function take(d: Dataset, n: number): Dataset {
  const per = d.sampleShape.reduce((a, b) => a * b, 1);
  const m = Math.min(n, size(d));
  return { ...d, inputs: d.inputs.slice(0, m * per), labels: d.labels.slice(0, m) };
}

export interface BatchOptions {
  batchSize: number;
  /** shuffle with this seed (and the epoch), or keep the order when undefined */
  seed?: number;
  epoch?: number;
  /** random crop after zero padding by this many pixels (images only) */
  cropPadding?: number;
  /** random horizontal flips (images only) */
  flip?: boolean;
  dropLast?: boolean;
  /** start after this many batches (a resumed epoch): the same order and augmentation as a full pass */
  skip?: number;
}

export interface Batch {
  x: Tensor;
  y: Tensor;
  size: number;
}

/** The sample order of one epoch: a seeded Fisher–Yates shuffle of (seed, epoch), or 0..n-1. */
export function epochOrder(n: number, seed: number | undefined, epoch = 0): Int32Array {
  const order = Int32Array.from({ length: n }, (_, i) => i);
  if (seed === undefined) return order;
  const rand = hostRandom((seed * 1000003 + epoch) >>> 0);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** Batches of an epoch; each batch's tensors are the caller's to dispose. */
export function* batches(d: Dataset, opts: BatchOptions): Generator<Batch> {
  const per = d.sampleShape.reduce((a, b) => a * b, 1);
  const order = epochOrder(size(d), opts.seed, opts.epoch);
  const augment = (opts.cropPadding ?? 0) > 0 || opts.flip;
  const rand = hostRandom(((opts.seed ?? 0) * 7919 + (opts.epoch ?? 0) * 104729) >>> 0);
  for (let start = 0, index = 0; start < order.length; start += opts.batchSize, index++) {
    const idx = order.subarray(start, Math.min(start + opts.batchSize, order.length));
    if (opts.dropLast && idx.length < opts.batchSize) return;
    const skipped = index < (opts.skip ?? 0);
    if (skipped && !augment) continue;
    const x = new Float32Array(idx.length * per);
    idx.forEach((s, b) => {
      const sample = d.inputs.subarray(s * per, (s + 1) * per);
      if (augment) augmentInto(sample, x.subarray(b * per, (b + 1) * per), d.sampleShape, opts, rand);
      else x.set(sample, b * per);
    });
    if (skipped) continue; // augmented only to draw the same random numbers
    yield {
      x: fromArray(x, [idx.length, ...d.sampleShape]),
      y: fromArray(Int32Array.from(idx, (s) => d.labels[s]!)),
      size: idx.length,
    };
  }
}

/** Random crop (after padding with zeros) and horizontal flip of one [C, H, W] image. */
function augmentInto(src: Float32Array, dst: Float32Array, shape: number[], opts: BatchOptions, rand: () => number): void {
  const [c, h, w] = shape as [number, number, number];
  const pad = opts.cropPadding ?? 0;
  const dy = Math.floor(rand() * (2 * pad + 1)) - pad;
  const dx = Math.floor(rand() * (2 * pad + 1)) - pad;
  const flip = opts.flip && rand() < 0.5;
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const sy = y + dy;
        const sx = (flip ? w - 1 - x : x) + dx;
        dst[(ch * h + y) * w + x] = sy < 0 || sy >= h || sx < 0 || sx >= w ? 0 : src[(ch * h + sy) * w + sx]!;
      }
    }
  }
}
