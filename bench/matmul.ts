// Matmul benchmark: GFLOP/s of each kernel version at square sizes and one tall-skinny shape,
// next to the adapter's FMA ceiling measured in the same run, then the MNIST ViT's Linear layers
// (x·Wᵀ + b, + residual) with the epilogue against matmul followed by elementwise adds. Results are
// checked (sampled entries against a float64 dot product) before they are timed.
// Usage: npx tsx bench/matmul.ts [--sizes 256,512,1024,2048] [--versions v1,v2,v3,v4,v5,v6]
// (also `losscape showcase`, through runMatmulBench)
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { add, init, Generator, matmul, MATMUL_VERSIONS, tidy, type Engine, type Tensor } from '../src/index.js';
import type { MatmulVersion } from '../src/tensor/matmul.js';
import { arg, describe, fmaCeiling, time } from './harness.js';

export interface MatmulBenchOptions {
  /** square sizes M = K = N; the tall-skinny 4096 x 64 x 4096 is always added */
  sizes?: number[];
  versions?: MatmulVersion[];
}


async function check(a: Tensor, b: Tensor, c: Tensor, [m, k, n]: [number, number, number], gen: () => number) {
  const [av, bv, cv] = await Promise.all([a.data(), b.data(), c.data()]);
  for (let s = 0; s < 16; s++) {
    const i = Math.floor(gen() * m);
    const j = Math.floor(gen() * n);
    let ref = 0;
    let mag = 0;
    for (let p = 0; p < k; p++) {
      ref += av[i * k + p]! * bv[p * n + j]!;
      mag += Math.abs(av[i * k + p]! * bv[p * n + j]!);
    }
    if (Math.abs(cv[i * n + j]! - ref) > 1e-5 * mag + 1e-6) throw new Error(`wrong result at (${i}, ${j}): ${cv[i * n + j]} vs ${ref}`);
  }
}

/** Prints the benchmark table (checks each result first; throws on a wrong one). */
export async function runMatmulBench({ sizes = [256, 512, 1024, 2048], versions = MATMUL_VERSIONS }: MatmulBenchOptions = {}): Promise<void> {
  const shapes: Array<[number, number, number]> = [...sizes.map((s): [number, number, number] => [s, s, s]), [4096, 64, 4096]];
  const engine = await init();
  console.log(`adapter: ${describe(engine)}`);
  const ceiling = await fmaCeiling(engine);
  console.log(`FMA ceiling: ${ceiling.toFixed(1)} GFLOP/s\n`);
  console.log('M x K x N            version  ms/call   GFLOP/s  of ceiling');

  let seed = 1;
  const rand = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
  for (const [m, k, n] of shapes) {
    const g = new Generator(m * 7 + n);
    const a = g.normal([m, k]);
    const b = g.normal([k, n]);
    for (const version of versions) {
      if (version === 'v1' && m * n * k > 1024 ** 3) continue; // the naive kernel takes minutes there
      const c = matmul(a, b, { version });
      await check(a, b, c, [m, k, n], rand);
      c.dispose();
      const t = await time(engine, () => tidy(() => void matmul(a, b, { version })), 2, 10);
      const gflops = (2 * m * n * k) / t.seconds / 1e9;
      console.log(
        `${`${m} x ${k} x ${n}`.padEnd(20)} ${version.padEnd(8)} ${(t.seconds * 1e3).toFixed(1).padStart(8)} ${gflops.toFixed(2).padStart(9)} ${((100 * gflops) / ceiling).toFixed(0).padStart(9)}%`,
      );
    }
    a.dispose();
    b.dispose();
  }
  await linearLayers(engine, ceiling, versions.filter((v) => v !== 'v1'));
}

/**
 * The ViT's Linear layers on a batch of 250 images (17 tokens each): qkv 64→192 + bias, fc1
 * 64→128 + bias, fc2 128→64 + bias + residual. Each version with the epilogue, and the default
 * version's matmul followed by one elementwise add per term (as before the epilogue existed).
 */
async function linearLayers(engine: Engine, ceiling: number, versions: MatmulVersion[]): Promise<void> {
  console.log('\nLinear layers, 4250 rows (x·Wᵀ + b [+ residual])   ms/call   GFLOP/s  of ceiling');
  const rows = 250 * 17;
  for (const [fin, fout, residual] of [[64, 192, false], [64, 128, false], [128, 64, true]] as const) {
    const g = new Generator(fin * 1000 + fout);
    const [x, w, bias] = [g.normal([rows, fin]), g.normal([fout, fin]), g.normal([fout])];
    const res = residual ? g.normal([rows, fout]) : undefined;
    const flops = 2 * rows * fin * fout;
    const label = `${fin}→${fout} + bias${residual ? ' + residual' : ''}`;
    const report = (what: string, seconds: number) =>
      console.log(`${`${label}, ${what}`.padEnd(44)} ${(seconds * 1e3).toFixed(2).padStart(9)} ${(flops / seconds / 1e9).toFixed(2).padStart(9)} ${((100 * flops) / seconds / 1e9 / ceiling).toFixed(0).padStart(9)}%`);
    const unfused = () => {
      const y = add(matmul(x, w, { transB: true }), bias);
      return res ? add(y, res) : y;
    };
    const want = await unfused().data();
    for (const version of versions) {
      const fused = () => matmul(x, w, { transB: true, bias, residual: res, version });
      const got = await fused().data();
      want.forEach((v, i) => {
        if (Math.abs(got[i]! - v) > 1e-4 * (1 + Math.abs(v))) throw new Error(`${label} ${version}: wrong result at ${i}: ${got[i]} vs ${v}`);
      });
      report(`epilogue ${version}`, (await time(engine, () => tidy(() => void fused()), 2, 10)).seconds);
    }
    report('matmul, then adds', (await time(engine, () => tidy(() => void unfused()), 2, 10)).seconds);
    for (const t of [x, w, bias, ...(res ? [res] : [])]) t.dispose();
  }
}

// Run as a script (not when imported by the CLI).
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runMatmulBench({
    sizes: arg('sizes', '256,512,1024,2048').split(',').map(Number),
    versions: arg('versions', MATMUL_VERSIONS.join(',')).split(',') as MatmulVersion[],
  });
  process.exit(0);
}
