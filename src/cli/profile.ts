// `--profile FILE` on bench, train and landscape, and `losscape profile COMMAND ...`: the command
// runs with the kernel profiler attached (src/gpu/profiler.ts), then GPU time by kernel and by
// scope (a layer's module path) is printed and the trace written for Perfetto / chrome://tracing.
import { writeFileSync } from 'node:fs';
import type { ProfileRow, Profiler } from '../gpu/profiler.js';
import { initTuned } from '../node/tune.js';

/** The profile's tables as lines: the `top` kernels by GPU time, then every scope in nesting order. */
export function profileTables(p: Profiler, top = 20): string[] {
  const kernels = p.byKernel();
  const [total, first] = kernels.reduce(([t, f], r) => [t + r.ms, f + r.firstMs], [0, 0]);
  const line = (r: ProfileRow, name: string) => `${r.ms.toFixed(1).padStart(10)} ms ${(100 * r.share).toFixed(1).padStart(5)}% ${String(r.calls).padStart(7)} ${r.firstMs.toFixed(1).padStart(9)}  ${name}`;
  return [
    `GPU time ${total.toFixed(1)} ms in ${p.events.length} dispatches (${p.mode === 'timestamps' ? 'timestamp queries' : 'wall clock per submit'}), and ${first.toFixed(1)} ms in each pipeline's first call (on lavapipe: its compile), apart`,
    '        ms share   calls  first ms  kernel:entry{constants}',
    ...kernels.slice(0, top).map((r) => line(r, r.name)),
    ...(kernels.length > top ? [`   (${kernels.length - top} more kernels in the trace)`] : []),
    '        ms share   calls  first ms  scope',
    ...p.byScope().map((r) => line(r, `${'  '.repeat(r.name.split('/').length - 1)}${r.name.split('/').at(-1)}`)),
  ];
}

/** Runs fn with the profiler attached (file undefined: just fn); prints the tables, writes the trace. */
export async function profiled<T>(file: string | undefined, fn: () => Promise<T>): Promise<T> {
  if (!file) return fn();
  const engine = await initTuned();
  const profiler = engine.profile()!;
  try {
    return await fn();
  } finally {
    await engine.sync();
    await profiler.done();
    engine.profile(null);
    for (const line of profileTables(profiler)) console.error(line);
    writeFileSync(file, JSON.stringify(profiler.chromeTrace()));
    console.error(`losscape: trace of ${profiler.events.length} dispatches in ${file} (open it in https://ui.perfetto.dev or chrome://tracing)`);
    profiler.destroy();
  }
}
