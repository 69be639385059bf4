// `losscape hessian` and `losscape sharpness` refuse bad options before any work, naming the option.
import { describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { hessianCommand, sharpnessCommand } from '../src/cli/hessian.js';

async function run(make: () => Command, args: string[]): Promise<string> {
  let written = '';
  const cmd = make().exitOverride().configureOutput({ writeErr: (s) => (written += s), writeOut: () => {} });
  try {
    await cmd.parseAsync(args, { from: 'user' });
  } catch (e) {
    return written || (e as Error).message;
  }
  throw new Error(`accepted ${args.join(' ')}`);
}

describe('hessian and sharpness commands check their options first', () => {
  it('names the option and what is wrong', async () => {
    const cases: Array<[() => Command, string[], string]> = [
      [hessianCommand, ['--checkpoint', 'c', '--top-k', '1.5'], "option '--top-k <n>' argument '1.5' is invalid. expected an integer of at least 0"],
      [hessianCommand, ['--checkpoint', 'c', '--samples', '0'], "option '--samples <n>' argument '0' is invalid"],
      [hessianCommand, ['--checkpoint', 'c', '--trace-samples', '1'], "option '--trace-samples <n>' argument '1' is invalid. expected an integer of at least 2"],
      [hessianCommand, ['--checkpoint', 'c', '--only', '('], "option '--only <regex>' argument '(' is invalid"],
      [hessianCommand, ['--checkpoint', 'c', '--top-k', '0'], 'nothing to compute'],
      [hessianCommand, ['--checkpoint', 'c', '--top-k', '1', '--save-directions', 'd'], '--save-directions needs --top-k 2 or more'],
      [hessianCommand, ['--checkpoint', '/nonexistent/c.safetensors'], '/nonexistent/c.safetensors: no such checkpoint'],
      [sharpnessCommand, ['--checkpoint', 'c', '--rho', '0.05,-0.1'], "option '--rho <list>' argument '0.05,-0.1' is invalid. expected a comma-separated list; item \"-0.1\": expected a number of at least 0"],
      [sharpnessCommand, ['--checkpoint', 'c', '--epsilon', '0'], "option '--epsilon <x>' argument '0' is invalid. expected a number above 0"],
      [sharpnessCommand, ['--delta', '0.1'], 'give --checkpoint (SAM and ε-sharpness) and/or --surface (basin widths)'],
      [sharpnessCommand, ['--surface', '/nonexistent.json'], '/nonexistent.json: cannot read: ENOENT'],
    ];
    for (const [make, args, message] of cases) expect(await run(make, args), args.join(' ')).toContain(message);
  });
});
