// Bundles an entry point with esbuild, inlining every kernels/*.wgsl file as text, so that the
// bundle runs where no kernels/ folder exists (a browser page, a single file shipped to a GPU host).
// Usage: node scripts/bundle.mjs ENTRY OUTFILE [--platform node|browser]
import * as esbuild from 'esbuild';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const kernelsDir = path.join(root, 'kernels');

/** esbuild plugin: src/gpu/kernels-inline.ts becomes a module importing each kernel as text. */
export const inlineKernels = {
  name: 'losscape-inline-kernels',
  setup(build) {
    build.onResolve({ filter: /kernels-inline\.(js|ts)$/ }, () => ({ path: 'kernels-inline', namespace: 'losscape-kernels' }));
    build.onLoad({ filter: /.*/, namespace: 'losscape-kernels' }, () => {
      const files = readdirSync(kernelsDir).filter((f) => f.endsWith('.wgsl')).sort();
      const lines = files.map((f, i) => `import k${i} from ${JSON.stringify(path.join(kernelsDir, f))};`);
      const table = files.map((f, i) => `  ${JSON.stringify(f.slice(0, -5))}: k${i},`);
      return { contents: `${lines.join('\n')}\nexport const inlinedKernels = {\n${table.join('\n')}\n};\n`, loader: 'js', resolveDir: root };
    });
  },
};

/**
 * Bundles `entry` into `outfile`; with no outfile, returns the bundle's text and its input files
 * (paths relative to the working directory) instead of writing it.
 */
export async function bundle(entry, outfile, platform = 'node') {
  const result = await esbuild.build({
    entryPoints: [entry],
    outfile: outfile ?? 'bundle.js',
    write: Boolean(outfile),
    metafile: !outfile,
    bundle: true,
    format: 'esm',
    platform,
    target: platform === 'node' ? 'node20' : 'es2022',
    external: ['webgpu', 'node:*'],
    loader: { '.wgsl': 'text' },
    plugins: [inlineKernels],
    logLevel: 'warning',
  });
  if (!outfile) return { text: result.outputFiles[0].text, inputs: Object.keys(result.metafile.inputs) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [entry, outfile] = process.argv.slice(2);
  if (!entry || !outfile) {
    console.error('usage: node scripts/bundle.mjs ENTRY OUTFILE [--platform node|browser]');
    process.exit(2);
  }
  const i = process.argv.indexOf('--platform');
  await bundle(entry, outfile, i >= 0 ? process.argv[i + 1] : 'node');
}
