// The process-wide engine that tensor ops record into. `await init()` once before any op.
import { Engine } from '../gpu/engine.js';

let engine: Engine | null = null;
let starting: Promise<Engine> | null = null;

export async function init(): Promise<Engine> {
  if (engine) return engine;
  starting ??= Engine.create().then((e) => (engine = e));
  return starting;
}

export function getEngine(): Engine {
  if (!engine) throw new Error('losscape: no GPU engine yet; call `await init()` before creating tensors');
  return engine;
}
