// Checkpoints in memory: weights as safetensors bytes with torch's state_dict names (loadable in
// PyTorch with model.load_state_dict(safetensors.torch.load_file(path))), and the sidecar that holds
// the model config and training metadata. Files live behind the Node entry (src/node/checkpoint.ts);
// a page gets the same bytes with fetch().
import { fromArray } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Module } from './module.js';
import { checkModelConfig, type ModelConfig } from './models.js';
import { decodeSafetensors, encodeSafetensors, type HostTensor } from './safetensors.js';

export interface Sidecar {
  format: 'losscape-checkpoint/1';
  config: ModelConfig;
  /** training metadata: epoch, step, optimizer, metrics, seeds... */
  meta: Record<string, unknown>;
}

/** Host copies of GPU tensors (one readback each). */
export async function tensorsToHost(entries: Array<[string, Tensor]>): Promise<Array<[string, HostTensor]>> {
  return Promise.all(
    entries.map(async ([name, t]): Promise<[string, HostTensor]> => [name, { dtype: t.dtype, shape: [...t.shape], data: await t.toArray() }]),
  );
}

/** safetensors bytes of GPU tensors. */
export async function tensorsToBytes(entries: Array<[string, Tensor]>, metadata: Record<string, string> = {}): Promise<Uint8Array> {
  return encodeSafetensors(await tensorsToHost(entries), metadata);
}

/** GPU tensors from safetensors bytes; `name` (a file or URL) names them in errors. The caller owns them. */
export function tensorsFromBytes(bytes: Uint8Array, name: string): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const { tensors, metadata } = decodeSafetensors(bytes, name);
  const out = new Map<string, Tensor>();
  for (const [key, t] of tensors) out.set(key, fromArray(t.data, t.shape, t.dtype));
  return { tensors: out, metadata };
}

/** A model's weights as safetensors bytes (torch names), the format of a checkpoint file. */
export function weightsToBytes(model: Module): Promise<Uint8Array> {
  return tensorsToBytes(model.stateDict(), { format: 'pt' });
}

/** Loads safetensors weights into a model (strict: names and shapes must match). */
export function loadWeightsFromBytes(model: Module, bytes: Uint8Array, name: string): void {
  const { tensors } = tensorsFromBytes(bytes, name);
  try {
    model.loadStateDict(tensors, name);
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}

export function makeSidecar(config: ModelConfig, meta: Record<string, unknown> = {}): Sidecar {
  return { format: 'losscape-checkpoint/1', config, meta };
}

/** Parses and checks a sidecar's JSON text; `name` names it in errors. */
export function parseSidecar(text: string, name: string): Sidecar {
  let s: Sidecar;
  try {
    s = JSON.parse(text);
  } catch (e) {
    throw new Error(`${name}: not valid JSON (${(e as Error).message})`);
  }
  if (!s || typeof s !== 'object' || s.format !== 'losscape-checkpoint/1' || typeof s.config?.kind !== 'string') {
    throw new Error(`${name}: not a losscape checkpoint sidecar (expected {"format": "losscape-checkpoint/1", "config": {"kind": ...}})`);
  }
  checkModelConfig(s.config, name);
  if (s.meta !== undefined && (typeof s.meta !== 'object' || s.meta === null || Array.isArray(s.meta))) throw new Error(`${name}: "meta" is not an object`);
  s.meta ??= {};
  return s;
}

/** SHA-256 of bytes as hex (WebCrypto: the same in Node and in a page). */
export async function sha256Hex(bytes: Uint8Array | string): Promise<string> {
  const data = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  const digest = await globalThis.crypto.subtle.digest('SHA-256', data as BufferSource);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}
