import { defineConfig } from 'vitest/config';

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
