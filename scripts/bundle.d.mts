// Types of scripts/bundle.mjs, for TypeScript callers (tests, the CLI).
import type { Plugin } from 'esbuild';

/** esbuild plugin: src/gpu/kernels-inline.ts becomes a module importing each kernel as text. */
export declare const inlineKernels: Plugin;
/** esbuild plugin for pages: Dawn's `webgpu` and node:* modules become modules that throw when loaded. */
export declare const browserStubs: Plugin;
export interface BundleOptions {
  /** import the core entry (src/index.ts) from this address instead of bundling it */
  core?: string;
  minify?: boolean;
}
export type Bundled = { text: string; inputs: string[] };
export declare function bundle(entry: string, outfile: string, platform?: 'node' | 'browser', options?: BundleOptions): Promise<void>;
export declare function bundle(entry: string, outfile: null, platform?: 'node' | 'browser', options?: BundleOptions): Promise<Bundled>;
export type PageScriptName = 'losscape.js' | 'viewer.js' | 'live.js';
export declare const PAGE_SCRIPTS: Record<PageScriptName, { entry: string; core?: string }>;
export declare function pageScript(name: PageScriptName, outfile: string, options?: BundleOptions): Promise<void>;
export declare function pageScript(name: PageScriptName, outfile?: null, options?: BundleOptions): Promise<Bundled>;
