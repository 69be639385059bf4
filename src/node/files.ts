// File helpers of the Node entry: atomic writes (a temporary name, then a rename, so a run killed
// while saving leaves the previous file intact) and file hashes.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export function writeAtomic(file: string, data: Uint8Array | string): void {
  mkdirSync(path.dirname(file) || '.', { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Reads a file, naming it (and what it was expected to be) when it is missing or unreadable. */
export function readBytes(file: string, what: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `${file}: no such ${what}` : code === 'EISDIR' ? `${file}: is a folder, not a ${what}` : `${file}: cannot read ${what} (${(e as Error).message})`);
  }
}
