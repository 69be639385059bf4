#!/usr/bin/env node
// The losscape command. From the installed package it runs the built CLI (dist/cli.js); in a
// source checkout (src/ beside bin/) it runs the TypeScript sources through tsx's loader, so that
// the command never runs a stale build while developing.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import('../dist/cli.js');
}
