// Training snapshots as files in a folder (a TrainStore):
//   checkpoint.safetensors (+ .json sidecar)   the newest weights, for PyTorch and for landscapes
//   checkpoint-step0000120.safetensors (+ .json) numbered ones with --save-every (a training path)
//   train-state.safetensors                     weights, optimizer state and progress in ONE file,
//                                                written atomically: the only file resume reads, so a
//                                                run killed at any moment resumes from a consistent state
//   metrics.json                                 the per-epoch history so far
import { existsSync } from 'node:fs';
import path from 'node:path';
import { makeSidecar } from '../nn/checkpoint.js';
import { decodeSafetensors, encodeSafetensors, type HostTensor } from '../nn/safetensors.js';
import type { TrainMeta, TrainSnapshot, TrainStore } from '../nn/train.js';
import { readBytes, writeAtomic } from './files.js';

export const CHECKPOINT = 'checkpoint.safetensors';
const STATE = 'train-state.safetensors';

/** The numbered checkpoint of a step (zero-padded, so a shell glob lists them in order). */
export function numberedCheckpoint(dir: string, step: number): string {
  return path.join(dir, `checkpoint-step${String(step).padStart(7, '0')}.safetensors`);
}

export function checkpointDir(dir: string): TrainStore {
  const stateFile = path.join(dir, STATE);
  const writeWeights = (file: string, s: TrainSnapshot) => {
    writeAtomic(file, encodeSafetensors(s.weights, { format: 'pt' }));
    writeAtomic(`${file}.json`, `${JSON.stringify(makeSidecar(s.config, { ...s.meta, running: undefined }), null, 2)}\n`);
  };
  return {
    location: path.join(dir, CHECKPOINT),
    async load() {
      if (!existsSync(stateFile)) return null;
      const { tensors, metadata } = decodeSafetensors(readBytes(stateFile, 'training state'), stateFile);
      let config: TrainSnapshot['config'];
      let meta: TrainMeta;
      try {
        config = JSON.parse(metadata.config ?? '');
        meta = JSON.parse(metadata.meta ?? '');
      } catch {
        throw new Error(`${stateFile}: not a losscape training state (no config and meta in its metadata)`);
      }
      const part = (prefix: string): Array<[string, HostTensor]> =>
        [...tensors].filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]);
      return { config, meta, weights: part('model.'), optimizerState: part('optimizer.') };
    },
    async save(s, numbered) {
      const entries: Array<[string, HostTensor]> = [...s.weights.map(([k, t]): [string, HostTensor] => [`model.${k}`, t]), ...s.optimizerState.map(([k, t]): [string, HostTensor] => [`optimizer.${k}`, t])];
      writeAtomic(stateFile, encodeSafetensors(entries, { config: JSON.stringify(s.config), meta: JSON.stringify(s.meta) }));
      if (s.meta.batch === 0) {
        // an epoch ended (or training starts): the checkpoint users read, and the history
        writeWeights(path.join(dir, CHECKPOINT), s);
        writeAtomic(path.join(dir, 'metrics.json'), `${JSON.stringify({ final: s.meta.history.at(-1) ?? null, history: s.meta.history }, null, 2)}\n`);
      }
      if (numbered) writeWeights(numberedCheckpoint(dir, s.meta.step), s);
    },
  };
}
