// Builds the package into dist/ (npm run build; npm pack runs it first):
//   index.js, node.js, cli.js   the core, losscape/node and the command for Node, in one split
//                               build (shared code in chunk files, so the two entries share one
//                               engine); kernels inlined, packages left to node_modules
//   page/losscape.js            the core for pages and bundlers (the `browser` condition): one
//                               self-contained, minified ES module
//   page/viewer.js, page/live.js the pages `losscape view` serves (scripts/bundle.mjs PAGE_SCRIPTS)
//   page/mnist-slice.bin        the MNIST slice the live page trains on
//   types/                      declarations (tsc -p tsconfig.build.json)
import * as esbuild from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inlineKernels, PAGE_SCRIPTS, pageScript } from './bundle.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const t0 = performance.now();

rmSync(dist, { recursive: true, force: true });
await esbuild.build({
  entryPoints: { index: 'src/index.ts', node: 'src/node/index.ts', cli: 'src/cli/main.ts' },
  absWorkingDir: root,
  outdir: dist,
  chunkNames: '[name]-[hash]', // beside the entries: the Node entry finds page/ next to itself
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  loader: { '.wgsl': 'text' },
  plugins: [inlineKernels],
  logLevel: 'warning',
});
await Promise.all(Object.keys(PAGE_SCRIPTS).map((name) => pageScript(name, path.join(dist, 'page', name), { minify: true })));
const { mnistSlice } = await import(path.join(dist, 'node.js'));
writeFileSync(path.join(dist, 'page', 'mnist-slice.bin'), mnistSlice());
execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
// the engine's types name WebGPU's (GPUDevice, ...), the Node entry's the gl package's (which has
// none of its own: ours, beside it): a project importing either entry gets them too
copyFileSync(path.join(root, 'src/node/gl.d.ts'), path.join(dist, 'types/node/gl.d.ts'));
for (const [entry, refs] of [['index.d.ts', ['types="@webgpu/types"']], ['node/index.d.ts', ['types="@webgpu/types"', 'path="./gl.d.ts"']]]) {
  const file = path.join(dist, 'types', entry);
  writeFileSync(file, `${refs.map((r) => `/// <reference ${r} />\n`).join('')}${readFileSync(file, 'utf8')}`);
}
console.error(`losscape: built dist/ in ${((performance.now() - t0) / 1e3).toFixed(1)} s`);
