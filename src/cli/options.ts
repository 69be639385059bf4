// Option parsers and checks for the commands: every option is checked when it is parsed, before any
// work starts, and the error names the option ("--samples: expected an integer from 1 to 10000, got
// "0"", through main.ts's errorLine); `given` tells an option set on the command line from a default,
// so that options which do nothing in a combination are refused rather than ignored.
import { existsSync, statSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import { parseShard, type Shard } from '../landscape/run.js';

const parse = (v: string) => (/^\s*$/.test(v) ? NaN : Number(v));

export function integer(min: number, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v) => {
    const n = parse(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer ${max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`}`);
    return n;
  };
}

/** A finite number; `above`: strictly greater than it, `atLeast`: at least it, `below`: strictly less. */
export function real(bounds: { above?: number; atLeast?: number; below?: number } = {}): (v: string) => number {
  const words = [bounds.above !== undefined && `above ${bounds.above}`, bounds.atLeast !== undefined && `of at least ${bounds.atLeast}`, bounds.below !== undefined && `below ${bounds.below}`].filter(Boolean).join(' and ');
  return (v) => {
    const n = parse(v);
    const ok = Number.isFinite(n) && (bounds.above === undefined || n > bounds.above) && (bounds.atLeast === undefined || n >= bounds.atLeast) && (bounds.below === undefined || n < bounds.below);
    if (!ok) throw new InvalidArgumentError(`expected a number${words ? ` ${words}` : ''}`);
    return n;
  };
}

/** min:max, both finite, min < max. */
export function range(v: string): [number, number] {
  const m = /^(.+):(.+)$/.exec(v);
  const [a, b] = m ? [parse(m[1]!), parse(m[2]!)] : [NaN, NaN];
  if (!(Number.isFinite(a) && Number.isFinite(b))) throw new InvalidArgumentError('expected min:max, e.g. -1:1');
  if (!(a < b)) throw new InvalidArgumentError('expected min below max');
  return [a, b];
}

/** A comma-separated list of values each checked by `item`. */
export function list<T>(item: (v: string) => T): (v: string) => T[] {
  return (v) =>
    v.split(',').map((s) => {
      try {
        return item(s.trim());
      } catch (e) {
        throw new InvalidArgumentError(`expected a comma-separated list; item "${s.trim()}": ${(e as Error).message}`);
      }
    });
}

/** One of the given words. */
export function oneOf<T extends string>(values: readonly T[]): (v: string) => T {
  return (v) => {
    if (!values.includes(v as T)) throw new InvalidArgumentError(`expected one of ${values.join(', ')}`);
    return v as T;
  };
}

/** i/n with 0 <= i < n. */
export function shard(v: string): Shard {
  try {
    return parseShard(v);
  } catch {
    throw new InvalidArgumentError('expected i/n with integers 0 <= i < n, e.g. 0/8');
  }
}

/** An output path without extension (OUT.json, OUT.csv, ... are written): not a folder. */
export function outputPath(v: string): string {
  if (v === '' || /[/\\]$/.test(v) || (existsSync(v) && statSync(v).isDirectory())) throw new InvalidArgumentError('expected a path without extension such as runs/plane (OUT.json, OUT.csv, ... are written), not a folder');
  return v;
}

/** A folder to write into: absent (it is created) or a folder. */
export function folder(v: string): string {
  if (v === '' || (existsSync(v) && !statSync(v).isDirectory())) throw new InvalidArgumentError('expected a folder (created if missing), not a file');
  return v;
}

/** Whether an option was set on the command line (not a default). */
export function given(cmd: Command, name: string): boolean {
  return cmd.getOptionValueSource(name) === 'cli';
}

/** Refuses options that do nothing in this combination: each entry [option key, flag, why not]. */
export function refuseIdle(cmd: Command, idle: Array<[string, string, string | false]>): void {
  for (const [key, flag, why] of idle) if (why && given(cmd, key)) throw new Error(`${flag}: ${why}`);
}
