// Checkpoints: weights as safetensors with torch's state_dict names (loadable in PyTorch with
// model.load_state_dict(safetensors.torch.load_file(path))), plus a JSON sidecar (path + '.json')
// holding the model config and training metadata. Files are written to a temporary name and
// renamed, so a run killed while saving leaves the previous checkpoint intact.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { fromArray } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Module } from './module.js';
import type { ModelConfig } from './models.js';
import { decodeSafetensors, encodeSafetensors, type HostTensor } from './safetensors.js';

export interface Sidecar {
  format: 'losscape-checkpoint/1';
  config: ModelConfig;
  /** training metadata: epoch, step, optimizer, metrics, seeds... */
  meta: Record<string, unknown>;
}

function writeAtomic(file: string, bytes: Uint8Array | string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, file);
}

async function toHost(entries: Array<[string, Tensor]>): Promise<Array<[string, HostTensor]>> {
  return Promise.all(
    entries.map(async ([name, t]): Promise<[string, HostTensor]> => [name, { dtype: t.dtype, shape: [...t.shape], data: await t.toArray() }]),
  );
}

/** Writes tensors to a safetensors file (atomically). */
export async function saveTensors(file: string, entries: Array<[string, Tensor]>, metadata: Record<string, string> = {}): Promise<void> {
  writeAtomic(file, encodeSafetensors(await toHost(entries), metadata));
}

/** Reads a safetensors file into GPU tensors; `file` names it in errors. */
export function loadTensors(file: string): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const { tensors, metadata } = decodeSafetensors(readFileSync(file), file);
  const out = new Map<string, Tensor>();
  for (const [name, t] of tensors) out.set(name, fromArray(t.data, t.shape, t.dtype));
  return { tensors: out, metadata };
}

export async function saveCheckpoint(file: string, model: Module & { config: ModelConfig }, meta: Record<string, unknown> = {}): Promise<void> {
  await saveTensors(file, model.stateDict(), { format: 'pt' });
  const sidecar: Sidecar = { format: 'losscape-checkpoint/1', config: model.config, meta };
  writeAtomic(`${file}.json`, `${JSON.stringify(sidecar, null, 2)}\n`);
}

export function readSidecar(file: string): Sidecar {
  const path = `${file}.json`;
  if (!existsSync(path)) throw new Error(`${file}: no sidecar ${path} with the model config`);
  let s: Sidecar;
  try {
    s = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (s.format !== 'losscape-checkpoint/1' || typeof s.config?.kind !== 'string') throw new Error(`${path}: not a losscape checkpoint sidecar`);
  return s;
}

/** Loads a checkpoint's weights into a model (strict: names and shapes must match). */
export function loadWeights(model: Module, file: string): void {
  const { tensors } = loadTensors(file);
  try {
    model.loadStateDict(tensors, file);
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}
