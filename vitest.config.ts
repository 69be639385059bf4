import { defineConfig } from 'vitest/config';

// Dawn's two start-up notes about limits it caps, and losscape's label for them (src/gpu/device.ts
// says where they come from and why they cannot be held back), are dropped here, in the main
// process, from the workers' stderr: once per test file, they would bury the log. Nothing else is touched.
const DAWN_LIMIT_NOTE = /(?:Warning: maxDynamic(?:Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.|losscape: \(the two 'artificially reduced' notes above are Dawn's; losscape uses no dynamic offsets, so they do not apply\))\r?\n/g;
const write = process.stderr.write.bind(process.stderr);
process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
  const kept = text.replace(DAWN_LIMIT_NOTE, '');
  if (kept !== '' || text === '') return (write as (c: string, ...r: unknown[]) => boolean)(kept, ...rest);
  (rest.find((r) => typeof r === 'function') as (() => void) | undefined)?.();
  return true;
}) as typeof process.stderr.write;

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    // Each file gets its own process and Dawn instance; software Vulkan on two cores is slow.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
