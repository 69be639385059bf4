// Attention benchmark: the fused flash-style kernels against the unfused path (matmul, softmax,
// matmul), forward and forward+backward, over sequence lengths and head dims. Prints ms, GFLOP/s,
// the fraction of the adapter's FMA ceiling (measured in the same run), and the peak GPU memory of
// each pass. Results are checked (fused against unfused) before they are timed. ms/call is the
// median of 3 to 20 runs (about 2 s), fused and unfused alternating run by run, so that other work
// on the (2-core) machine slows both alike; the first run of each, which also measures the peak
// memory, warms up pipelines and the buffer pool.
// Usage: npx tsx bench/attention.ts [--seqs 64,128,256,512,1024] [--dims 32,64] [--heads 4]
import { attention, backward, getEngine, init, Generator, sum, tidy, type Tensor } from '../src/index.js';
import { relativeError } from '../src/tensor/shape.js';
import { describe, fmaCeiling, arg } from './harness.js';

const seqs = arg('seqs', '64,128,256,512,1024').split(',').map(Number);
const dims = arg('dims', '32,64').split(',').map(Number);
const heads = Number(arg('heads', '4'));

const engine = await init();
console.log(`adapter: ${describe(engine)}`);
const ceiling = await fmaCeiling(engine);
console.log(`FMA ceiling: ${ceiling.toFixed(1)} GFLOP/s; batch x heads = ${heads}\n`);
console.log('seq   dim  pass      path      ms/call   GFLOP/s  of ceiling   peak MiB');

const mib = (b: number) => (b / 2 ** 20).toFixed(1);
for (const d of dims) {
  for (const s of seqs) {
    const g = new Generator(s + d);
    const [q, k, v] = [0, 1, 2].map(() => g.normal([heads, s, d]).requireGrad()) as [Tensor, Tensor, Tensor];
    const fusedOut = await attention(q, k, v).data();
    const err = relativeError(fusedOut, await attention(q, k, v, { fused: false }).data());
    if (err > 1e-5) throw new Error(`fused and unfused attention differ: ${err}`);
    // forward: 2 matmuls of 2·s²·d flops; backward: 5 more (recomputed scores, dP, dS·K, Pᵀ·dO, dSᵀ·Q)
    for (const pass of ['forward', 'fwd+bwd'] as const) {
      const flops = (pass === 'forward' ? 4 : 14) * heads * s * s * d;
      const paths = [true, false].map((fused) => {
        const run = () =>
          tidy(() => {
            const o = attention(q, k, v, { fused });
            if (pass === 'fwd+bwd') backward(sum(o));
          });
        return { fused, run, peak: 0, samples: [] as number[] };
      });
      for (const p of paths) {
        await engine.sync();
        engine.pool.resetPeak();
        const base = engine.stats.bytesLive;
        p.run();
        await engine.sync();
        p.peak = engine.stats.peakBytesLive - base;
      }
      // fused and unfused alternate, so that other work on the machine slows both alike
      const start = performance.now();
      while (paths[0]!.samples.length < 20 && (paths[0]!.samples.length < 3 || performance.now() - start < 2000)) {
        for (const p of paths) {
          const t0 = performance.now();
          p.run();
          await engine.sync();
          p.samples.push((performance.now() - t0) / 1e3);
        }
      }
      for (const p of paths) {
        const sorted = p.samples.sort((a, b) => a - b);
        const seconds = sorted[Math.floor(sorted.length / 2)]!;
        const gflops = flops / seconds / 1e9;
        console.log(
          `${String(s).padEnd(5)} ${String(d).padEnd(4)} ${pass.padEnd(9)} ${(p.fused ? 'fused' : 'unfused').padEnd(8)} ${(seconds * 1e3).toFixed(1).padStart(9)} ${gflops.toFixed(2).padStart(9)} ${((100 * gflops) / ceiling).toFixed(0).padStart(10)}% ${mib(p.peak).padStart(10)}`,
        );
      }
    }
    for (const t of [q, k, v]) t.dispose();
  }
}
getEngine().destroy();
process.exit(0);
