// File helpers of the Node entry: atomic writes (a temporary name, written and flushed to disk, then
// a rename, so a run killed while saving leaves the previous file intact), the clean-up of the
// temporaries a killed run left, and file hashes.
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';

// a temporary is named by its host and process, so that only this host's dead processes' are removed
// (several hosts may write into one shared folder: the shards of a job)
const TEMPORARY = /\.tmp-([^-]+)-(\d+)$/;
const HOST = hostname().replace(/[^A-Za-z0-9.]/g, '_');

export function writeAtomic(file: string, data: Uint8Array | string): void {
  mkdirSync(path.dirname(file) || '.', { recursive: true });
  const tmp = `${file}.tmp-${HOST}-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Removes the temporaries of writeAtomic that a killed process of this host left in `dir` (its pid is gone), for files whose name `belongs`. */
export function removeStaleTemporaries(dir: string, belongs: (name: string) => boolean): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const e of entries) {
    const m = TEMPORARY.exec(e);
    if (m && m[1] === HOST && belongs(e.slice(0, m.index)) && Number(m[2]) !== process.pid && !alive(Number(m[2]))) rmSync(path.join(dir, e), { force: true });
  }
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
