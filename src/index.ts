// losscape's public API.
export { Engine, type DispatchSpec, type EngineStats } from './gpu/engine.js';
export { type AdapterReport } from './gpu/device.js';
export { init, getEngine } from './tensor/runtime.js';
export { Tensor, type DType } from './tensor/tensor.js';
export { tidy, keep } from './tensor/scope.js';
export * from './tensor/creation.js';
export * from './tensor/elementwise.js';
export * from './tensor/layout.js';
export * from './tensor/reduce.js';
export * from './tensor/matmul.js';
export { Generator } from './tensor/random.js';
export { backward, noGrad, isGradEnabled, type BackwardOptions } from './tensor/autograd.js';
export * from './tensor/softmax.js';
export * from './tensor/losses.js';
export * from './tensor/norm.js';
export * from './tensor/conv.js';
