// The core entry runs wherever WebGPU does: bundled for a browser, it must reach no Node API except
// the guarded fallbacks that load Dawn (and quiet its start-up notes) and the kernel files when running in Node.
import * as esbuild from 'esbuild';
import { describe, expect, it } from 'vitest';
import { inlineKernels } from '../scripts/bundle.mjs';

const NODE_FALLBACKS = new Map([
  ['src/gpu/device.ts', ['webgpu', 'node:fs']],
  ['src/gpu/kernel-source.ts', ['node:fs/promises']],
]);

describe('entry points', () => {
  it('the core (src/index.ts) bundles for a browser with no Node import but the guarded dynamic fallbacks', async () => {
    const result = await esbuild.build({
      entryPoints: ['src/index.ts'], bundle: true, write: false, format: 'esm', platform: 'browser', metafile: true,
      external: ['webgpu', 'node:*'], loader: { '.wgsl': 'text' }, plugins: [inlineKernels], logLevel: 'silent',
    });
    const offending: string[] = [];
    for (const [file, info] of Object.entries(result.metafile.inputs)) {
      for (const imp of info.imports) {
        const nodeish = imp.path.startsWith('node:') || imp.path === 'webgpu';
        if (!nodeish) continue;
        const allowed = NODE_FALLBACKS.get(file)?.includes(imp.path) && imp.kind === 'dynamic-import';
        if (!allowed) offending.push(`${file} imports ${imp.path} (${imp.kind})`);
      }
    }
    expect(offending).toEqual([]);
    // and the Node entry is where the file system lives
    const node = await esbuild.build({ entryPoints: ['src/node/index.ts'], bundle: true, write: false, format: 'esm', platform: 'node', metafile: true, packages: 'external', loader: { '.wgsl': 'text' }, logLevel: 'silent' });
    const nodeImports = Object.values(node.metafile.inputs).flatMap((i) => i.imports.map((x) => x.path));
    expect(nodeImports).toContain('node:fs');
  });
});
