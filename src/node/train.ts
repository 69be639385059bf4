// Training snapshots as files in a folder (a TrainStore):
//   checkpoint.safetensors (+ .json sidecar)   the newest weights, for PyTorch and for landscapes
//   checkpoint-step0000120.safetensors (+ .json) numbered ones with --save-every (a training path)
//   train-state.safetensors                     weights, optimizer state and progress in ONE file,
//                                                written atomically: the only file resume reads, so a
//                                                run killed at any moment resumes from a consistent state
//   metrics.json                                 the per-epoch history so far
// A snapshot writes its checkpoints first and the training state last: killed in between, the run
// resumes from the state before and writes the same checkpoints again.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { makeSidecar } from '../nn/checkpoint.js';
import { decodeSafetensors, encodeSafetensors, type HostTensor } from '../nn/safetensors.js';
import { parseTrainMeta, type TrainSnapshot, type TrainStore } from '../nn/train.js';
import { checkModelConfig } from '../nn/models.js';
import { readBytes, removeStaleTemporaries, writeAtomic } from './files.js';

export const CHECKPOINT = 'checkpoint.safetensors';
const STATE = 'train-state.safetensors';

/** The numbered checkpoint of a step (zero-padded, so a shell glob lists them in order). */
export function numberedCheckpoint(dir: string, step: number): string {
  return path.join(dir, `checkpoint-step${String(step).padStart(7, '0')}.safetensors`);
}

/** Whether a folder holds a run that --resume would continue. */
export function holdsTrainState(dir: string): boolean {
  return existsSync(path.join(dir, STATE));
}

export function checkpointDir(dir: string): TrainStore {
  const stateFile = path.join(dir, STATE);
  const ours = (name: string) => name === STATE || name === 'metrics.json' || /^checkpoint(-step\d+)?\.safetensors(\.json)?$/.test(name);
  const writeWeights = (file: string, s: TrainSnapshot) => {
    writeAtomic(file, encodeSafetensors(s.weights, { format: 'pt' }));
    writeAtomic(`${file}.json`, `${JSON.stringify(makeSidecar(s.config, { ...s.meta, running: undefined }), null, 2)}\n`);
  };
  return {
    location: path.join(dir, CHECKPOINT),
    stateName: stateFile,
    async load() {
      removeStaleTemporaries(dir, ours);
      if (!existsSync(stateFile)) return null;
      const { tensors, metadata } = decodeSafetensors(readBytes(stateFile, 'training state'), stateFile);
      let config: TrainSnapshot['config'];
      try {
        config = JSON.parse(metadata.config ?? '');
      } catch {
        throw new Error(`${stateFile}: not a losscape training state (no model config in its metadata)`);
      }
      checkModelConfig(config, stateFile);
      const meta = parseTrainMeta(metadata.meta, stateFile);
      const part = (prefix: string): Array<[string, HostTensor]> =>
        [...tensors].filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]);
      return { config, meta, weights: part('model.'), optimizerState: part('optimizer.') };
    },
    async save(s, numbered) {
      const entries: Array<[string, HostTensor]> = [...s.weights.map(([k, t]): [string, HostTensor] => [`model.${k}`, t]), ...s.optimizerState.map(([k, t]): [string, HostTensor] => [`optimizer.${k}`, t])];
      if (numbered) writeWeights(numberedCheckpoint(dir, s.meta.step), s);
      if (s.meta.batch === 0) {
        // an epoch ended (or training starts): the checkpoint users read, and the history
        writeWeights(path.join(dir, CHECKPOINT), s);
        writeAtomic(path.join(dir, 'metrics.json'), `${JSON.stringify({ final: s.meta.history.at(-1) ?? null, history: s.meta.history }, null, 2)}\n`);
      }
      writeAtomic(stateFile, encodeSafetensors(entries, { config: JSON.stringify(s.config), meta: JSON.stringify(s.meta) }));
    },
  };
}
