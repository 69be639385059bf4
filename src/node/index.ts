// losscape/node: what touches the file system or Node's APIs — checkpoint, safetensors and IDX
// files, MNIST and Fashion-MNIST, partial and surface files, training snapshots in a folder,
// landscape jobs on files. Everything else is in the core entry (losscape), which runs wherever
// WebGPU does.
export * from './files.js';
export * from './checkpoint.js';
export * from './data.js';
export * from './directions.js';
export * from './train.js';
export * from './landscape.js';
export * from './display.js';
export * from './render.js';
export * from './viewer.js';
export * from './tune.js';
