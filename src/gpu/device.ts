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

// Dawn prints two notes while it enumerates adapters, on drivers that report more than its internal
// maximum of 16 dynamic buffers per pipeline layout (lavapipe reports a million):
//   Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.
//   Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 ...
// They come from dawn::WarningLog in NormalizeLimits (src/dawn/native/Limits.cpp), which Log.cpp
// writes with fprintf to file descriptor 2. Nothing at run time turns them off: Dawn's toggles
// (enable-dawn-features=...) switch features, not logging; the Node binding's flags (backend,
// adapter, dlldir, validate, verbose) have no log level; only a build with DAWN_DISABLE_LOGGING is
// silent. losscape uses no dynamic offsets, so the notes say nothing about it. While the one
// synchronous call that prints them runs, fd 2 points at a temporary file; afterwards every other
// line written there is passed on. This is done only where fd 2 can be reopened with the same
// meaning (a terminal, a pipe with a reader, a file opened for appending), not under LOSSCAPE_DEBUG.
const DAWN_LIMIT_NOTE = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;

async function withoutDawnLimitNotes<T>(call: () => T): Promise<T> {
  if (typeof process === 'undefined' || process.platform !== 'linux' || process.env.LOSSCAPE_DEBUG) return call();
  const fs = await import('node:fs');
  const { O_WRONLY, O_APPEND, O_NONBLOCK, O_NOCTTY } = fs.constants;
  let saved: number;
  try {
    const st = fs.fstatSync(2);
    const flags = parseInt(/flags:\s*([0-7]+)/.exec(fs.readFileSync('/proc/self/fdinfo/2', 'utf8'))?.[1] ?? '0', 8);
    const append = st.isFile() && (flags & O_APPEND) !== 0;
    if (!(st.isCharacterDevice() || st.isFIFO() || append)) return call();
    // a pipe opens without blocking only if it has a reader; then a blocking descriptor is opened from that one
    const probe = fs.openSync('/proc/self/fd/2', O_WRONLY | O_NOCTTY | O_NONBLOCK | (append ? O_APPEND : 0));
    try {
      saved = fs.openSync(`/proc/self/fd/${probe}`, O_WRONLY | O_NOCTTY | (append ? O_APPEND : 0));
    } finally {
      fs.closeSync(probe);
    }
  } catch {
    return call();
  }
  const capture = `${process.env.TMPDIR ?? '/tmp'}/losscape-dawn-${process.pid}.txt`;
  fs.closeSync(2);
  const fd = fs.openSync(capture, 'w'); // the lowest free descriptor: 2
  let result: T;
  try {
    result = call();
  } finally {
    fs.closeSync(fd);
    fs.openSync(`/proc/self/fd/${saved}`, O_WRONLY | O_NOCTTY); // 2 again
    fs.closeSync(saved);
    const text = fs.readFileSync(capture, 'utf8');
    fs.rmSync(capture, { force: true });
    const rest = text.split('\n').filter((line) => line && !DAWN_LIMIT_NOTE.test(line));
    if (rest.length) process.stderr.write(`${rest.join('\n')}\n`);
  }
  return result;
}

export async function requestDevice(): Promise<AcquiredDevice> {
  const gpu = await gpuEntryPoint();
  const adapter = await (dawnGpu ? withoutDawnLimitNotes(() => gpu.requestAdapter({ powerPreference: 'high-performance' })) : gpu.requestAdapter({ powerPreference: 'high-performance' }));
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
