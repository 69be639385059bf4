// The dispatch shape shared by one-invocation-per-element kernels.
import type { Engine } from '../gpu/engine.js';
import type { Params } from '../gpu/params.js';

/** Dispatches `entry` of `kernel` with one invocation per item (n items) in workgroups of up to 256 (or `preferredWorkgroup`). */
export function launchPerItem(
  engine: Engine,
  kernel: string,
  entry: string,
  n: number,
  params: Params,
  buffers: Array<GPUBufferBinding | null>,
  constants: Record<string, number> = {},
  preferredWorkgroup = 256,
): void {
  const wg = engine.workgroupSize(preferredWorkgroup);
  engine.dispatch({ kernel, entry, constants: { WG: wg, ...constants }, params, buffers, workgroups: Math.ceil(n / wg) });
}
