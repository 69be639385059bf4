// `losscape bench` as a script, the entry ../shared/gpu/pack.sh bundles for a GPU host (only the
// bench command, so that the bundle leaves out the figure code's native packages):
//   bash ../shared/gpu/pack.sh bench/run.ts   then on the host:   bash .gpu/run.sh [filter...] --no-peers [--json $OUT/bench.json]
// Arguments are the bench command's (src/cli/bench.ts).
import { createRequire } from 'node:module';

// in an ES module bundle, the CommonJS packages (commander) call require: give them Node's
(globalThis as { require?: NodeRequire }).require ??= createRequire(import.meta.url);
const { benchCommand } = await import('../src/cli/bench.js');
try {
  await benchCommand().exitOverride().parseAsync(process.argv);
  process.exit(0);
} catch (e) {
  console.error(`losscape bench: ${(e as Error).message}`);
  process.exit(1);
}
