// Exits 0 when Dawn finds a usable WebGPU adapter: a hardware one, or Mesa's software one at
// version 25 or newer (older lavapipe, as in Debian 12 itself, is too old for current Dawn).
// Prints the adapter it found. Used by scripts/setup.sh to decide whether to install Mesa.
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
process.env.XDG_RUNTIME_DIR ??= '/tmp';
const gpu = create([]);
try {
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error('no adapter');
  const d = adapter.info.description || adapter.info.device || adapter.info.vendor;
  const mesa = /Mesa (\d+)/.exec(d);
  if (mesa && Number(mesa[1]) < 25) throw new Error(`${d} is too old`);
  await adapter.requestDevice();
  console.log(`adapter: ${d}`);
  process.exit(0);
} catch (e) {
  console.log(`no usable WebGPU adapter (${e.message})`);
  process.exit(1);
}
