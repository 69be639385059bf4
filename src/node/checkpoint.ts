// Checkpoint files: weights as safetensors beside a JSON sidecar (FILE.json) with the model config
// and training metadata, written atomically.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Tensor } from '../tensor/tensor.js';
import { loadWeightsFromBytes, makeSidecar, parseSidecar, tensorsFromBytes, tensorsToBytes, weightsToBytes, type Sidecar } from '../nn/checkpoint.js';
import type { Module } from '../nn/module.js';
import type { ModelConfig } from '../nn/models.js';
import { readBytes, writeAtomic } from './files.js';

/** Writes tensors to a safetensors file (atomically). */
export async function saveTensors(file: string, entries: Array<[string, Tensor]>, metadata: Record<string, string> = {}): Promise<void> {
  writeAtomic(file, await tensorsToBytes(entries, metadata));
}

/** Reads a safetensors file into GPU tensors (the caller owns them). */
export function loadTensors(file: string): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  return tensorsFromBytes(readBytes(file, 'safetensors file'), file);
}

export async function saveCheckpoint(file: string, model: Module & { config: ModelConfig }, meta: Record<string, unknown> = {}): Promise<void> {
  writeAtomic(file, await weightsToBytes(model));
  writeAtomic(`${file}.json`, `${JSON.stringify(makeSidecar(model.config, meta), null, 2)}\n`);
}

export function readSidecar(file: string): Sidecar {
  if (!existsSync(file)) throw new Error(`${file}: no such checkpoint`);
  if (statSync(file).isDirectory()) {
    const inside = path.join(file, 'checkpoint.safetensors');
    throw new Error(`${file}: is a folder, not a checkpoint${existsSync(inside) ? ` (did you mean ${inside}?)` : ''}`);
  }
  const side = `${file}.json`;
  if (!existsSync(side)) throw new Error(`${file}: no sidecar ${side} with the model config (losscape writes one beside each checkpoint)`);
  return parseSidecar(new TextDecoder().decode(readBytes(side, 'sidecar')), side);
}

/** Loads a checkpoint's weights into a model (strict: names and shapes must match). */
export function loadWeights(model: Module, file: string): void {
  loadWeightsFromBytes(model, readBytes(file, 'checkpoint'), file);
}
