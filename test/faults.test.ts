// Faults: the CLI killed with SIGKILL at random moments of training and of a landscape run, then
// resumed with --resume until it finishes. After every kill each file the run left parses; at the
// end the checkpoints are byte-identical to an uninterrupted run's (the training state's tensors too,
// its progress equal but for timings), the metrics equal but for timings, the surface equal point for
// point, and no temporary is left. The moments are drawn from the test seed (printed on failure).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeSafetensors, hostRandom, parsePartial, parseSidecar, parseTrainMeta } from '../src/index.js';
import { SEED } from './helpers.js';

const note = `seed ${SEED} (replay with LOSSCAPE_TEST_SEED=${SEED})`;
const BIN = path.join(import.meta.dirname, '../bin/losscape.mjs');
const TRAIN = ['train', '--model', 'mlp', '--train-subset', '768', '--test-subset', '128', '--epochs', '2', '--batch-size', '64', '--save-every', '3'];
const landscapeArgs = (checkpoint: string) => ['landscape', '--checkpoint', checkpoint, '--steps', '7', '--samples', '100', '--chunk', '2'];
const SEEDS = 2;
const KILLS = 2;

/** Runs the CLI; with `killAfter` (ms) sends SIGKILL then. Resolves with the exit code (null when killed) and the wall time. */
function cli(args: string[], killAfter?: number): Promise<{ code: number | null; ms: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = killAfter === undefined ? null : setTimeout(() => child.kill('SIGKILL'), killAfter);
    child.on('error', reject);
    child.on('exit', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code, ms: performance.now() - t0, stderr });
    });
  });
}

const TIMING = new Set(['seconds', 'samplesPerSecond', 'pointsPerSecond', 'totalSeconds', 'shardSeconds', 'timings']);
/** A JSON value without its timings (and the running seconds of an unfinished epoch). */
function withoutTimings(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutTimings);
  if (!v || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).filter(([k]) => !TIMING.has(k)).map(([k, x]) => [k, k === 'running' && Array.isArray(x) ? x.slice(0, 3) : withoutTimings(x)]));
}

const temporary = (f: string) => /\.tmp-[^-]+-\d+$/.test(f);

/** Every file a run left (temporaries aside) parses as what its name says. */
function expectAllParse(dir: string, what: string): void {
  if (!existsSync(dir)) return; // killed before it wrote anything
  for (const f of readdirSync(dir)) {
    if (temporary(f)) continue;
    const file = path.join(dir, f);
    const text = () => readFileSync(file, 'utf8');
    try {
      if (f.endsWith('.safetensors')) {
        const { metadata } = decodeSafetensors(readFileSync(file), file);
        if (f === 'train-state.safetensors') parseTrainMeta(metadata.meta, file);
      } else if (f.endsWith('.safetensors.json')) parseSidecar(text(), file);
      else if (/\.(partial|shard-\d+-of-\d+)\.json$/.test(f)) parsePartial(text(), file);
      else if (f.endsWith('.json')) JSON.parse(text());
      else if (f.endsWith('.csv')) expect(text().endsWith('\n')).toBe(true);
      else if (f.endsWith('.vtk')) expect(text().startsWith('# vtk DataFile')).toBe(true);
      else throw new Error(`unexpected file ${f}`);
    } catch (e) {
      throw new Error(`${what}: ${f} does not parse after a kill: ${(e as Error).message}; ${note}`);
    }
  }
}

/** Kills a run KILLS times at random moments (a fraction of an uninterrupted run's time), then lets it finish with --resume. */
async function killAndResume(args: string[], dir: string, fullMs: number, seed: number, what: string): Promise<number[]> {
  const rand = hostRandom(seed);
  const moments: number[] = [];
  for (let k = 0; k < KILLS; k++) {
    const at = Math.round((0.15 + 0.8 * rand()) * fullMs);
    moments.push(at);
    const r = await cli([...args, '--resume'], at);
    if (r.code !== null) expect(r.code, `${what}: exit code; ${r.stderr}`).toBe(0);
    expectAllParse(dir, `${what}, kill at ${at} ms`);
  }
  const last = await cli([...args, '--resume']);
  expect(last.code, `${what}: the final resume failed: ${last.stderr}; kills at ${moments} ms; ${note}`).toBe(0);
  return moments;
}

describe('faults: kill -9 at random moments, then --resume', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'losscape-faults-'));
  const straight = path.join(root, 'straight');
  let trainMs = 0;
  let landscapeMs = 0;

  beforeAll(async () => {
    const t = await cli([...TRAIN, '--out', straight]);
    expect(t.code, t.stderr).toBe(0);
    trainMs = t.ms;
    const l = await cli([...landscapeArgs(path.join(straight, 'checkpoint.safetensors')), '--out', path.join(straight, 'plane')]);
    expect(l.code, l.stderr).toBe(0);
    landscapeMs = l.ms;
  }, 120_000);

  it('training ends with the same checkpoints, training state and metrics as an uninterrupted run', async () => {
    const files = readdirSync(straight).filter((f) => !f.startsWith('plane'));
    for (let s = 0; s < SEEDS; s++) {
      const dir = path.join(root, `train-${s}`);
      const moments = await killAndResume([...TRAIN, '--out', dir], dir, trainMs, (SEED + 7919 * s) >>> 0, `training ${s}`);
      const what = `training killed at ${moments.join(', ')} ms; ${note}`;
      expect(readdirSync(dir).sort(), what).toEqual(files.sort());
      for (const f of files) {
        const [a, b] = [readFileSync(path.join(straight, f)), readFileSync(path.join(dir, f))];
        if (f === 'train-state.safetensors') {
          const [x, y] = [decodeSafetensors(a, f), decodeSafetensors(b, f)];
          for (const [k, t] of x.tensors) expect(Buffer.from(y.tensors.get(k)!.data.buffer).equals(Buffer.from(t.data.buffer)), `${f}: ${k}; ${what}`).toBe(true);
          expect(y.metadata.config, what).toBe(x.metadata.config);
          expect(withoutTimings(JSON.parse(y.metadata.meta!)), what).toEqual(withoutTimings(JSON.parse(x.metadata.meta!)));
        } else if (f.endsWith('.json')) {
          expect(withoutTimings(JSON.parse(b.toString())), `${f}; ${what}`).toEqual(withoutTimings(JSON.parse(a.toString())));
        } else {
          expect(b.equals(a), `${f} byte-identical; ${what}`).toBe(true);
        }
      }
    }
  }, 300_000);

  it('a landscape ends with the same surface, point for point, as an uninterrupted run', async () => {
    const reference = JSON.parse(readFileSync(path.join(straight, 'plane.json'), 'utf8'));
    for (let s = 0; s < SEEDS; s++) {
      const dir = path.join(root, `landscape-${s}`);
      const args = [...landscapeArgs(path.join(straight, 'checkpoint.safetensors')), '--out', path.join(dir, 'plane')];
      const moments = await killAndResume(args, dir, landscapeMs, (SEED + 104729 * s) >>> 0, `landscape ${s}`);
      const what = `landscape killed at ${moments.join(', ')} ms; ${note}`;
      expect(readdirSync(dir).sort(), what).toEqual(['plane.csv', 'plane.d1.safetensors', 'plane.d2.safetensors', 'plane.json', 'plane.vtk']);
      const surface = JSON.parse(readFileSync(path.join(dir, 'plane.json'), 'utf8'));
      expect(surface.loss, what).toEqual(reference.loss);
      expect(surface.accuracy, what).toEqual(reference.accuracy);
      // the checkpoints' paths differ (and with them the fingerprint, which hashes them); their hashes do not
      expect(withoutTimings({ ...surface.provenance, checkpoints: null, fingerprint: null }), what).toEqual(withoutTimings({ ...reference.provenance, checkpoints: null, fingerprint: null }));
      expect(surface.provenance.checkpoints.map((c: { sha256: string }) => c.sha256), what).toEqual(reference.provenance.checkpoints.map((c: { sha256: string }) => c.sha256));
      for (const d of ['plane.d1.safetensors', 'plane.d2.safetensors']) expect(readFileSync(path.join(dir, d)).equals(readFileSync(path.join(straight, d))), `${d}; ${what}`).toBe(true);
    }
  }, 300_000);
});
