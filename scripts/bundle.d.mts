// Types of scripts/bundle.mjs, for TypeScript callers (tests, the CLI).
import type { Plugin } from 'esbuild';

/** esbuild plugin: src/gpu/kernels-inline.ts becomes a module importing each kernel as text. */
export declare const inlineKernels: Plugin;
export declare function bundle(entry: string, outfile: string, platform?: 'node' | 'browser'): Promise<void>;
export declare function bundle(entry: string, outfile: null, platform?: 'node' | 'browser'): Promise<{ text: string; inputs: string[] }>;
