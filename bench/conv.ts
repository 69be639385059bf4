// Conv2d benchmark: the implicit-GEMM kernel against the direct loop on ResNet-like shapes, forward,
// and the implicit-GEMM backward passes. Prints ms, GFLOP/s and the fraction of the adapter's FMA
// ceiling measured in the same run. Results are checked (implicit GEMM against direct) first.
// Usage: npx tsx bench/conv.ts [--batch 8]
import { backward, conv2d, getEngine, init, Generator, sum, tidy } from '../src/index.js';
import { relativeError } from '../src/tensor/shape.js';
import { arg, describe, fmaCeiling, time } from './harness.js';

const batch = Number(arg('batch', '8'));
// [name, C, H, W, OC, K, stride, padding]: ResNet-18/CIFAR ResNet layers and the MNIST CNN's two
const SHAPES: Array<[string, number, number, number, number, number, number, number]> = [
  ['stem 7x7/2 (ImageNet-style)', 3, 64, 64, 64, 7, 2, 3],
  ['stem 3x3 (CIFAR-style)', 3, 32, 32, 16, 3, 1, 1],
  ['stage1 3x3, 16ch', 16, 32, 32, 16, 3, 1, 1],
  ['stage2 3x3/2, 32ch', 16, 32, 32, 32, 3, 2, 1],
  ['stage2 3x3, 64ch', 64, 16, 16, 64, 3, 1, 1],
  ['downsample 1x1/2', 64, 16, 16, 128, 1, 2, 0],
  ['MNIST CNN conv1, 8ch', 1, 28, 28, 8, 3, 1, 1],
  ['MNIST CNN conv2, 16ch', 8, 14, 14, 16, 3, 1, 1],
];

const engine = await init();
console.log(`adapter: ${describe(engine)}`);
const ceiling = await fmaCeiling(engine);
console.log(`FMA ceiling: ${ceiling.toFixed(1)} GFLOP/s; batch ${batch}\n`);
console.log('layer                          kernel          ms/call   GFLOP/s  of ceiling');

for (const [name, c, h, w, oc, k, stride, padding] of SHAPES) {
  const g = new Generator(c * h + oc);
  const x = g.normal([batch, c, h, w]).requireGrad();
  const wt = g.normal([oc, c, k, k], 0, 0.1).requireGrad();
  const oh = Math.floor((h + 2 * padding - k) / stride) + 1;
  const ow = Math.floor((w + 2 * padding - k) / stride) + 1;
  const flops = 2 * batch * oc * oh * ow * c * k * k;
  const gemm = await conv2d(x, wt, null, { stride, padding }).data();
  const err = relativeError(gemm, await conv2d(x, wt, null, { stride, padding, kernel: 'direct' }).data());
  if (err > 1e-5) throw new Error(`${name}: implicit GEMM and direct conv differ: ${err}`);
  const rows: Array<[string, () => void, number]> = [
    ['direct', () => tidy(() => void conv2d(x, wt, null, { stride, padding, kernel: 'direct' })), flops],
    ['implicit GEMM', () => tidy(() => void conv2d(x, wt, null, { stride, padding })), flops],
    ['GEMM fwd+bwd', () => tidy(() => backward(sum(conv2d(x, wt, null, { stride, padding })))), 3 * flops],
  ];
  for (const [kernel, run, f] of rows) {
    const t = await time(engine, run, 1, 5);
    const gflops = f / t.seconds / 1e9;
    console.log(
      `${name.padEnd(30)} ${kernel.padEnd(14)} ${(t.seconds * 1e3).toFixed(1).padStart(8)} ${gflops.toFixed(2).padStart(9)} ${((100 * gflops) / ceiling).toFixed(0).padStart(10)}%`,
    );
  }
  x.dispose();
  wt.dispose();
}
getEngine().destroy();
process.exit(0);
