// Kernel sources inlined by a bundle. Empty when running from the source tree, where the kernels are
// read from kernels/*.wgsl on disk; scripts/bundle.ts swaps this module for one that imports every
// kernels/*.wgsl file as text (esbuild's text loader).
export const inlinedKernels: Record<string, string> = {};
