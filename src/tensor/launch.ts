// The dispatch shape shared by one-invocation-per-element kernels.
import type { Engine } from '../gpu/engine.js';
import type { Params } from '../gpu/params.js';

/** Dispatches `entry` of `kernel` with one invocation per item (n items) in workgroups of up to 256. */
export function launchPerItem(
  engine: Engine,
  kernel: string,
  entry: string,
  n: number,
  params: Params,
  buffers: GPUBuffer[],
  constants: Record<string, number> = {},
): void {
  const wg = engine.workgroupSize(256);
  engine.dispatch({ kernel, entry, constants: { WG: wg, ...constants }, params, buffers, workgroups: Math.ceil(n / wg) });
}
