// Option parsers for the commands: every numeric option is checked when it is parsed, before any
// work starts, and commander names the option in its error ("option '--samples <n>' argument '0'
// is invalid. expected an integer of at least 1").
import { InvalidArgumentError } from 'commander';

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
