// Model configurations by name, and construction from a configuration (as a checkpoint's sidecar holds it).
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

export function createModel(config: ModelConfig, seed = 0): Layer & { config: ModelConfig } {
  switch (config.kind) {
    case 'vit': return new ViT(config, seed);
    case 'resnet': return new ResNet(config, seed);
    case 'cnn': return new CNN(config, seed);
    case 'mlp': return new MLP(config, seed);
    default: throw new Error(`unknown model kind "${(config as { kind: string }).kind}"`);
  }
}
