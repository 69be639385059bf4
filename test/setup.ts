// Every test file runs on the one engine, with output buffers poisoned (NaN) before each op writes.
import { beforeAll } from 'vitest';
import { init } from '../src/index.js';

beforeAll(async () => {
  const engine = await init();
  engine.poison = true;
});
