#!/usr/bin/env node
// The losscape command. From the installed package it runs the built CLI (dist/cli.js); in a
// source checkout (src/ beside bin/) it runs the TypeScript sources through tsx's loader, so that
// the command never runs a stale build while developing. The process exits when the command ends
// (Dawn's instance would keep it alive).
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
let cli;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(source.href);
} else {
  cli = await import('../dist/cli.js');
}
process.exit(await cli.runCli(process.argv));
