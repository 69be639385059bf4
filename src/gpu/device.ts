// One way to get a WebGPU device: the browser's navigator.gpu in a page, Dawn's `webgpu` package in Node.

export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** true for CPU rasterizers (lavapipe/llvmpipe, SwiftShader): slow, size work for them. */
  software: boolean;
  limits: Record<string, number>;
  features: string[];
  /** the adapter's subgroup sizes (0 where it does not say): kernels that exchange values within a
   *  subgroup (the `subgroups` feature) need at least 8 lanes */
  subgroupMinSize: number;
  subgroupMaxSize: number;
}

// Dawn frees its instance when the object `create()` returned is collected, and the next mapAsync
// then crashes or hangs; this module-level reference keeps it alive for the life of the process.
let dawnGpu: GPU | undefined;

const INSTALL_HINT =
  'losscape found no WebGPU adapter. On Debian 12 install Mesa lavapipe (software Vulkan) from ' +
  'bookworm-backports: add a sources entry with "Suites: bookworm-backports", run apt-get update, then ' +
  '"apt-get install -t bookworm-backports mesa-vulkan-drivers" (Debian 12\'s own Mesa is too old for ' +
  'Dawn). Elsewhere install your GPU\'s Vulkan, Metal or D3D12 driver; in a browser enable WebGPU.';

async function gpuEntryPoint(): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  if (dawnGpu) return dawnGpu;
  if (typeof process === 'undefined' || !process.versions?.node) throw new Error(INSTALL_HINT);
  process.env.XDG_RUNTIME_DIR ??= '/tmp'; // Mesa warns on every start without one
  const webgpu = await import('webgpu');
  Object.assign(globalThis, webgpu.globals); // GPUBufferUsage, GPUMapMode, ... as in a browser
  dawnGpu = webgpu.create([]);
  return dawnGpu;
}

/** Limits losscape asks for: the adapter's own maxima for the ones its kernels lean on. */
const WANTED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
] as const;

export function describeAdapter(adapter: GPUAdapter): AdapterReport {
  const info = adapter.info;
  const limits: Record<string, number> = {};
  for (const key in adapter.limits) {
    const v = (adapter.limits as unknown as Record<string, unknown>)[key];
    if (typeof v === 'number') limits[key] = v;
  }
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    software: /llvmpipe|lavapipe|swiftshader|software/.test(text),
    limits,
    features: [...adapter.features].sort(),
    subgroupMinSize: info.subgroupMinSize ?? 0,
    subgroupMaxSize: info.subgroupMaxSize ?? 0,
  };
}

export interface AcquiredDevice {
  device: GPUDevice;
  adapter: AdapterReport;
}

// Dawn prints two notes while it enumerates adapters, on drivers that report more than its internal
// maximum of 16 dynamic buffers per pipeline layout (lavapipe reports a million):
//   Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.
//   Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 ...
// They come from dawn::WarningLog in NormalizeLimits (src/dawn/native/Limits.cpp), which Log.cpp
// writes with fprintf to file descriptor 2, and nothing at run time turns them off (Dawn's toggles
// select features, not logging; the Node binding has no log level). Pointing descriptor 2 elsewhere
// while they are printed races with libuv's thread pool, whose file reads can take the descriptor
// in between (a module then fails to load), so they are labelled instead: losscape uses no dynamic
// offsets, and says so once, after them.
export const DAWN_NOTES_LABEL = "losscape: (the two 'artificially reduced' notes above are Dawn's; losscape uses no dynamic offsets, so they do not apply)";

export async function requestDevice(): Promise<AcquiredDevice> {
  const gpu = await gpuEntryPoint();
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error(INSTALL_HINT);
  const report = describeAdapter(adapter);
  // lavapipe is where the notes are known to come (it reports a million dynamic buffers)
  if (dawnGpu && /llvmpipe/i.test(report.description)) console.error(DAWN_NOTES_LABEL);
  const requiredLimits: Record<string, number> = {};
  for (const key of WANTED_LIMITS) requiredLimits[key] = adapter.limits[key];
  // timestamps for the profiler (src/gpu/profiler.ts), subgroups for the kernels that exchange
  // values between lanes (kernels/*_subgroups.wgsl), where the adapter has them
  const requiredFeatures = (['timestamp-query', 'subgroups'] as const).filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  device.lost.then((info) => {
    if (info.reason !== 'destroyed') console.error(`losscape: GPU device lost: ${info.message}`);
  });
  return { device, adapter: report };
}
