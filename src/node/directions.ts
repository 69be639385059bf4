// Direction files: safetensors keyed by parameter name.
import type { FlatParameters } from '../nn/flat.js';
import { directionFromBytes, directionToBytes } from '../landscape/directions.js';
import type { Tensor } from '../tensor/tensor.js';
import { readBytes, writeAtomic } from './files.js';

export async function saveDirection(file: string, flat: FlatParameters, d: Tensor): Promise<void> {
  writeAtomic(file, await directionToBytes(flat, d));
}

export function loadDirection(file: string, flat: FlatParameters): Tensor {
  return directionFromBytes(readBytes(file, 'direction file'), file, flat);
}
