// Matmul benchmark: GFLOP/s of each kernel version at square sizes and one tall-skinny shape,
// next to the adapter's FMA ceiling measured in the same run. Results are checked (sampled entries
// against a float64 dot product) before they are timed.
// Usage: npx tsx bench/matmul.ts [--sizes 256,512,1024,2048] [--versions v1,v2,v3,v4,v5,v6]
// (also `losscape showcase`, through runMatmulBench)
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { init, Generator, matmul, MATMUL_VERSIONS, tidy, type Tensor } from '../src/index.js';
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
}

// Run as a script (not when imported by the CLI).
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runMatmulBench({
    sizes: arg('sizes', '256,512,1024,2048').split(',').map(Number),
    versions: arg('versions', MATMUL_VERSIONS.join(',')).split(',') as MatmulVersion[],
  });
  process.exit(0);
}
