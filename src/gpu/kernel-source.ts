// Where WGSL text comes from: the inlined table of a bundle, else every kernels/*.wgsl file on disk.
// All sources are loaded once when the engine starts, so that recording ops stays synchronous.
import { inlinedKernels } from './kernels-inline.js';

// From src/gpu/ the kernels are two folders up; from a bundle such as .gpu/entry.mjs they sit beside it.
const CANDIDATE_DIRS = ['../../kernels/', './kernels/'];

export async function loadKernelSources(): Promise<Map<string, string>> {
  if (Object.keys(inlinedKernels).length > 0) return new Map(Object.entries(inlinedKernels));
  const fs = await import('node:fs/promises');
  const tried: string[] = [];
  for (const dir of CANDIDATE_DIRS) {
    const url = new URL(dir, import.meta.url);
    let names: string[];
    try {
      names = (await fs.readdir(url)).filter((f) => f.endsWith('.wgsl'));
    } catch {
      tried.push(url.pathname);
      continue;
    }
    const sources = new Map<string, string>();
    for (const file of names) sources.set(file.slice(0, -5), await fs.readFile(new URL(file, url), 'utf8'));
    return sources;
  }
  throw new Error(`losscape: no WGSL kernels inlined in this bundle and no kernels/ folder at ${tried.join(' or ')}`);
}

/** A kernel family's module: its WGSL and the adapter features (WGSL extensions) it needs. */
export interface KernelModule {
  code: string;
  requires: string[];
}

/**
 * The module text of kernel `name`. Two header lines let a family keep versions that need a WGSL
 * extension apart from those that run everywhere (a module that enables an extension does not
 * compile without it): `// requires: subgroups` puts `enable subgroups;` first, and
 * `// extends: matmul` puts matmul.wgsl's declarations and helpers before this file's.
 */
export function composeKernel(sources: ReadonlyMap<string, string>, name: string): KernelModule {
  const parts: string[] = [];
  const requires = new Set<string>();
  const add = (kernel: string) => {
    const code = sources.get(kernel);
    if (code === undefined) throw new Error(`unknown kernel "${kernel}" (no kernels/${kernel}.wgsl)`);
    const directive = (key: string) => [...code.matchAll(new RegExp(`^// ${key}: (.+)$`, 'gm'))].flatMap((m) => m[1]!.split(',').map((s) => s.trim()));
    directive('requires').forEach((r) => requires.add(r));
    directive('extends').forEach(add);
    parts.push(code);
  };
  add(name);
  return { code: [...[...requires].map((r) => `enable ${r};`), ...parts].join('\n'), requires: [...requires] };
}
