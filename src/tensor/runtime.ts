// The process-wide engine that tensor ops record into. `await init()` once before any op, and again
// after the device was lost (a page's GPU process restarted, the device destroyed): a new engine.
import { Engine } from '../gpu/engine.js';

let engine: Engine | null = null;
let starting: Promise<Engine> | null = null;

export async function init(): Promise<Engine> {
  if (engine?.lost) engine = starting = null;
  if (engine) return engine;
  starting ??= Engine.create().then(
    (e) => (engine = e),
    (e: unknown) => {
      starting = null; // a failed start is not kept: the next init() tries again
      throw e;
    },
  );
  return starting;
}

export function getEngine(): Engine {
  if (!engine) throw new Error('losscape: no GPU engine yet; call `await init()` before creating tensors');
  return engine;
}
