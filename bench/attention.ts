// Attention benchmark: the fused flash-style kernels against the unfused path (matmul, softmax,
// matmul), forward and forward+backward, over sequence lengths and head dims. Prints ms, GFLOP/s,
// the fraction of the adapter's FMA ceiling (measured in the same run), and the peak GPU memory of
// each pass. Results are checked (fused against unfused) before they are timed.
// Usage: npx tsx bench/attention.ts [--seqs 64,128,256,512,1024] [--dims 32,64] [--heads 4]
import { attention, backward, getEngine, init, Generator, sum, tidy, type Tensor } from '../src/index.js';
import { relativeError } from '../src/tensor/shape.js';
import { describe, fmaCeiling, time, arg } from './harness.js';

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
      for (const fused of [true, false]) {
        const run = () =>
          tidy(() => {
            const o = attention(q, k, v, { fused });
            if (pass === 'fwd+bwd') backward(sum(o));
          });
        await engine.sync();
        engine.pool.resetPeak();
        const base = engine.stats.bytesLive;
        run();
        await engine.sync();
        const peak = engine.stats.peakBytesLive - base;
        const t = await time(engine, run, 1, 5);
        const gflops = flops / t.seconds / 1e9;
        console.log(
          `${String(s).padEnd(5)} ${String(d).padEnd(4)} ${pass.padEnd(9)} ${(fused ? 'fused' : 'unfused').padEnd(8)} ${(t.seconds * 1e3).toFixed(1).padStart(9)} ${gflops.toFixed(2).padStart(9)} ${((100 * gflops) / ceiling).toFixed(0).padStart(10)}% ${mib(peak).padStart(10)}`,
        );
      }
    }
    for (const t of [q, k, v]) t.dispose();
  }
}
getEngine().destroy();
process.exit(0);
