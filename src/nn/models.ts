// Model configurations by name, construction from a configuration (as a checkpoint's sidecar holds
// it), and the check that a model takes a dataset's samples.
import { noGrad } from '../tensor/autograd.js';
import { fromArray } from '../tensor/creation.js';
import { tidy } from '../tensor/scope.js';
import type { Dataset } from './data.js';
import { Layer } from './layers.js';
import { RESNET18, RESNET20, RESNET8, ResNet, type ResNetConfig } from './resnet.js';
import { CNN, CNN_DEFAULTS, MLP, MLP_DEFAULTS, type CNNConfig, type MLPConfig } from './simple.js';
import { ViT, VIT_DEFAULTS, type ViTConfig } from './vit.js';

export type ModelConfig = ViTConfig | ResNetConfig | CNNConfig | MLPConfig;

/** Presets for 28x28 one-channel images (MNIST, Fashion-MNIST) unless the name says otherwise. */
export const PRESETS: Record<string, ModelConfig> = {
  mlp: MLP_DEFAULTS,
  cnn: CNN_DEFAULTS,
  'vit-tiny': VIT_DEFAULTS,
  resnet8: { ...RESNET8, channels: 1 },
  resnet20: { ...RESNET20, channels: 1 },
  resnet18: RESNET18,
};

export function presetConfig(name: string): ModelConfig {
  const c = PRESETS[name];
  if (!c) throw new Error(`unknown model "${name}"; choose one of ${Object.keys(PRESETS).join(', ')}`);
  return structuredClone(c);
}

const positiveInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 2 ** 24;
const positiveInts = (v: unknown, n?: number) => Array.isArray(v) && v.length >= 1 && (n === undefined || v.length === n) && v.every(positiveInt);

/**
 * Checks a model configuration (from a sidecar, a page, a user) field by field, without building the
 * model: every message starts with `where` and names the field. Sizes are at most 2^24.
 */
export function checkModelConfig(config: unknown, where: string): asserts config is ModelConfig {
  const c = config as Record<string, unknown> | null;
  const fail = (why: string): never => {
    throw new Error(`${where}: model config ${why}`);
  };
  if (!c || typeof c !== 'object' || Array.isArray(c)) fail('is not an object');
  const need = (keys: string[], ok: (v: unknown) => boolean, what: string) => {
    for (const k of keys) if (!ok(c![k])) fail(`"${k}" must be ${what}, got ${JSON.stringify(c![k])}`);
  };
  switch (c!.kind) {
    case 'mlp':
      need(['sizes'], (v) => positiveInts(v) && (v as number[]).length >= 2, 'a list of at least two positive integers (input first)');
      return;
    case 'cnn':
      need(['imageSize', 'channels', 'hidden', 'classes'], positiveInt, 'a positive integer');
      need(['widths'], (v) => positiveInts(v, 2), 'two positive integers');
      if ((c!.imageSize as number) % 4) fail(`"imageSize" ${c!.imageSize} must be divisible by 4 (two 2x2 pools)`);
      return;
    case 'vit':
      need(['imageSize', 'patchSize', 'channels', 'width', 'depth', 'heads', 'mlpRatio', 'classes'], positiveInt, 'a positive integer');
      need(['eps'], (v) => typeof v === 'number' && v > 0 && v < 1, 'a number in (0, 1)');
      need(['dropout'], (v) => typeof v === 'number' && v >= 0 && v < 1, 'a number in [0, 1)');
      if ((c!.imageSize as number) % (c!.patchSize as number)) fail(`"imageSize" ${c!.imageSize} is not a multiple of "patchSize" ${c!.patchSize}`);
      if ((c!.width as number) % (c!.heads as number)) fail(`"width" ${c!.width} is not a multiple of "heads" ${c!.heads}`);
      return;
    case 'resnet':
      need(['channels', 'classes'], positiveInt, 'a positive integer');
      need(['blocks', 'widths'], (v) => positiveInts(v), 'a list of positive integers');
      if ((c!.blocks as number[]).length !== (c!.widths as number[]).length) fail(`"blocks" and "widths" must have one entry per stage, got ${(c!.blocks as number[]).length} and ${(c!.widths as number[]).length}`);
      need(['stem'], (v) => v === 'imagenet' || v === 'cifar', '"imagenet" or "cifar"');
      return;
    default:
      fail(`"kind" must be mlp, cnn, vit or resnet, got ${JSON.stringify(c!.kind)}`);
  }
}

export function createModel(config: ModelConfig, seed = 0): Layer & { config: ModelConfig } {
  switch (config.kind) {
    case 'vit': return new ViT(config, seed);
    case 'resnet': return new ResNet(config, seed);
    case 'cnn': return new CNN(config, seed);
    case 'mlp': return new MLP(config, seed);
    default: throw new Error(`unknown model kind "${(config as { kind: string }).kind}"`);
  }
}

/**
 * Runs one sample of `data` through the model (eval mode, no gradients, nothing kept), so that a
 * model that cannot take the data, or has fewer outputs than the data has classes, is refused
 * before any work starts rather than deep inside it. `what` names the data in the error.
 */
export function checkModelTakes(model: Layer & { config: ModelConfig }, data: Dataset, what: string): void {
  const per = data.sampleShape.reduce((a, b) => a * b, 1);
  const wasTraining = model.training;
  model.eval();
  let out: number[];
  try {
    out = noGrad(() => tidy(() => [...model.forward(fromArray(data.inputs.subarray(0, per), [1, ...data.sampleShape])).shape]));
  } catch (e) {
    throw new Error(`${what}: the model (${JSON.stringify(model.config)}) does not take samples of shape [${data.sampleShape}] (${(e as Error).message})`);
  } finally {
    model.train(wasTraining);
  }
  if (out.length !== 2 || out[1]! < data.classes) throw new Error(`${what}: ${data.classes} classes, but the model (${model.config.kind}) gives ${out.length === 2 ? `${out[1]} outputs` : `outputs of shape [${out}]`} per sample`);
}
