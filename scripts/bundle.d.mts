// Types of scripts/bundle.mjs, for TypeScript callers.
export declare function bundle(entry: string, outfile: string, platform?: 'node' | 'browser'): Promise<void>;
export declare function bundle(entry: string, outfile: null, platform?: 'node' | 'browser'): Promise<{ text: string; inputs: string[] }>;
