#!/usr/bin/env node
// The losscape command: runs the TypeScript CLI through tsx's loader (no build step). The process
// exits when the command ends (Dawn's instance would keep it alive).
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli/main.ts');
process.exit(await runCli(process.argv));
