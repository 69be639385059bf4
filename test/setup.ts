// Every test file runs on the one engine, with output buffers poisoned (NaN) before each op writes.
import { beforeAll } from 'vitest';

// tuning is off in tests: every op runs its fixed default kernel version (src/node/tune.ts)
process.env.LOSSCAPE_TUNE = '0';
import { init } from '../src/index.js';

beforeAll(async () => {
  const engine = await init();
  engine.poison = true;
});
