// Bundles an entry point with esbuild, inlining every kernels/*.wgsl file as text, so that the
// bundle runs where no kernels/ folder exists (a browser page, a single file shipped to a GPU host).
// Also the table of scripts pages load (PAGE_SCRIPTS): prebuilt into dist/page/ by scripts/build.mjs,
// built on demand from the source tree by src/node/viewer.ts.
// Usage: node scripts/bundle.mjs ENTRY OUTFILE [--platform node|browser]
import * as esbuild from 'esbuild';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const kernelsDir = path.join(root, 'kernels');
const coreEntry = path.join(root, 'src/index.ts');

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
 * esbuild plugin for pages: the core's Node fallbacks (Dawn's `webgpu`, node:* modules), reached
 * only in Node, become modules that throw when loaded, so a page bundle imports nothing from
 * outside itself (and a bundler downstream is never sent looking for Dawn).
 */
export const browserStubs = {
  name: 'losscape-browser-stubs',
  setup(build) {
    build.onResolve({ filter: /^(webgpu|node:.*)$/ }, (args) => ({ path: args.path, namespace: 'losscape-unavailable' }));
    build.onLoad({ filter: /.*/, namespace: 'losscape-unavailable' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`losscape: ${args.path} is not available in a browser`)});`,
      loader: 'js',
    }));
  },
};

/** esbuild plugin: imports of the core entry (src/index.ts) stay imports of `address` (a page's losscape.js). */
const coreAt = (address) => ({
  name: 'losscape-core-external',
  setup(build) {
    build.onResolve({ filter: /index\.(js|ts)$/ }, (args) => {
      const file = path.resolve(args.resolveDir, args.path).replace(/\.js$/, '.ts');
      return file === coreEntry ? { path: address, external: true } : undefined;
    });
  },
});

/**
 * Bundles `entry` into `outfile`; with no outfile, returns the bundle's text and its input files
 * (paths relative to the working directory) instead of writing it. Options: `core`, an address the
 * core entry is imported from instead of being bundled; `minify`.
 */
export async function bundle(entry, outfile, platform = 'node', options = {}) {
  const browser = platform === 'browser';
  const result = await esbuild.build({
    entryPoints: [entry],
    outfile: outfile ?? 'bundle.js',
    write: Boolean(outfile),
    metafile: !outfile,
    bundle: true,
    format: 'esm',
    platform,
    target: browser ? 'es2022' : 'node20',
    external: browser ? [] : ['webgpu', 'node:*'],
    loader: { '.wgsl': 'text' },
    plugins: [inlineKernels, ...(browser ? [browserStubs] : []), ...(options.core ? [coreAt(options.core)] : [])],
    minify: Boolean(options.minify),
    logLevel: 'warning',
  });
  if (!outfile) return { text: result.outputFiles[0].text, inputs: Object.keys(result.metafile.inputs) };
}

/**
 * What pages load, by the name they are served under (and kept under in dist/page/): the core as
 * one self-contained module, the viewer (renderer only, no GPU engine), and the live page, which
 * imports the core from losscape.js beside it (one engine per page, shared with anything else the
 * page imports from there).
 */
export const PAGE_SCRIPTS = {
  'losscape.js': { entry: 'src/index.ts' },
  'viewer.js': { entry: 'src/viewer/main.ts' },
  'live.js': { entry: 'src/viewer/live-main.ts', core: './losscape.js' },
};

/** Builds one of PAGE_SCRIPTS from the source tree: into `outfile`, or returned as text and inputs. */
export function pageScript(name, outfile = null, options = {}) {
  const page = PAGE_SCRIPTS[name];
  if (!page) throw new Error(`no page script "${name}"; there are ${Object.keys(PAGE_SCRIPTS).join(', ')}`);
  return bundle(path.join(root, page.entry), outfile, 'browser', { ...options, core: page.core });
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
