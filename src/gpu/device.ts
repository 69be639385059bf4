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
  };
}

export interface AcquiredDevice {
  device: GPUDevice;
  adapter: AdapterReport;
}

export async function requestDevice(): Promise<AcquiredDevice> {
  const gpu = await gpuEntryPoint();
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error(INSTALL_HINT);
  const requiredLimits: Record<string, number> = {};
  for (const key of WANTED_LIMITS) requiredLimits[key] = adapter.limits[key];
  const requiredFeatures: GPUFeatureName[] = [];
  if (adapter.features.has('timestamp-query')) requiredFeatures.push('timestamp-query');
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  device.lost.then((info) => {
    if (info.reason !== 'destroyed') console.error(`losscape: GPU device lost: ${info.message}`);
  });
  return { device, adapter: describeAdapter(adapter) };
}
