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
