// Modules: named parameters, buffers and submodules, in PyTorch's naming and order, so that
// stateDict() keys match a torch state_dict and loadStateDict() takes one directly.
import { assign } from '../tensor/layout.js';
import { shapeString } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * Sees every Layer call and every parameter or buffer read while active: a stacked pass (K points
 * at once, nn/stack.ts) or a profiler. Calls and reads are synchronous, so one module variable
 * (like autograd's grad mode) says which is active.
 */
export interface Interceptor {
  /** a Layer's call: `forward` is the layer's own, to run or to replace */
  call(layer: Module, forward: (x: Tensor, ...rest: unknown[]) => Tensor, x: Tensor, rest: unknown[]): Tensor;
  /** a read of `name` (the tensor t) by `owner`: a parameter or buffer through own(), or through perPoint() */
  read(owner: Module, name: string, t: Tensor, how: 'parameter' | 'buffer' | 'perPoint'): Tensor;
}

let active: Interceptor | null = null;

/** The active interceptor, if any. */
export function interceptor(): Interceptor | null {
  return active;
}

/** Runs fn with `i` seeing its layer calls and parameter reads. fn must be synchronous. */
export function intercept<T>(i: Interceptor, fn: () => T): T {
  const before = active;
  active = i;
  try {
    return fn();
  } finally {
    active = before;
  }
}

export abstract class Module {
  training = true;
  readonly #params = new Map<string, Tensor>();
  readonly #buffers = new Map<string, Tensor>();
  readonly #children = new Map<string, Module>();

  protected param(name: string, t: Tensor): Tensor {
    this.#params.set(name, t.requireGrad());
    return t;
  }

  protected buffer(name: string, t: Tensor): Tensor {
    this.#buffers.set(name, t);
    return t;
  }

  protected module<M extends Module>(name: string, m: M): M {
    this.#children.set(name, m);
    return m;
  }

  /** The tensor registered under `name` here (a parameter or a buffer). */
  protected own(name: string): Tensor {
    const t = this.#find(name);
    return active ? active.read(this, name, t, this.#params.has(name) ? 'parameter' : 'buffer') : t;
  }

  /**
   * A parameter as the points being evaluated see it: `own(name)` in a forward, [K, ...shape] in a
   * stacked pass. A forward that reads its parameters this way (with the leading axes left free:
   * [B] in a forward, [K, B] stacked) serves both, with no stacked rule (see nn/stack.ts).
   */
  protected perPoint(name: string): Tensor {
    const t = this.#find(name);
    return active ? active.read(this, name, t, 'perPoint') : t;
  }

  #find(name: string): Tensor {
    const t = this.#params.get(name) ?? this.#buffers.get(name);
    if (!t) throw new Error(`${this.constructor.name}: no parameter or buffer "${name}"`);
    return t;
  }

  /** Replaces the tensor behind a parameter or buffer (flattening into one buffer does this). */
  replaceTensor(path: string, t: Tensor): void {
    const dot = path.indexOf('.');
    if (dot >= 0) {
      const child = this.#children.get(path.slice(0, dot));
      if (!child) throw new Error(`${this.constructor.name}: no submodule "${path.slice(0, dot)}"`);
      child.replaceTensor(path.slice(dot + 1), t);
    } else if (this.#params.has(path)) {
      this.#params.set(path, t.requireGrad());
    } else if (this.#buffers.has(path)) {
      this.#buffers.set(path, t);
    } else {
      throw new Error(`${this.constructor.name}: no parameter or buffer "${path}"`);
    }
  }

  namedParameters(prefix = ''): Array<[string, Tensor]> {
    const out: Array<[string, Tensor]> = [...this.#params].map(([n, t]) => [prefix + n, t]);
    for (const [n, m] of this.#children) out.push(...m.namedParameters(`${prefix}${n}.`));
    return out;
  }

  namedBuffers(prefix = ''): Array<[string, Tensor]> {
    const out: Array<[string, Tensor]> = [...this.#buffers].map(([n, t]) => [prefix + n, t]);
    for (const [n, m] of this.#children) out.push(...m.namedBuffers(`${prefix}${n}.`));
    return out;
  }

  namedModules(prefix = ''): Array<[string, Module]> {
    const out: Array<[string, Module]> = [[prefix.replace(/\.$/, ''), this]];
    for (const [n, m] of this.#children) out.push(...m.namedModules(`${prefix}${n}.`));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Parameters and buffers, keyed and ordered as torch's state_dict (own entries, then children). */
  stateDict(prefix = ''): Array<[string, Tensor]> {
    const out: Array<[string, Tensor]> = [
      ...[...this.#params].map(([n, t]): [string, Tensor] => [prefix + n, t]),
      ...[...this.#buffers].map(([n, t]): [string, Tensor] => [prefix + n, t]),
    ];
    for (const [n, m] of this.#children) out.push(...m.stateDict(`${prefix}${n}.`));
    return out;
  }

  /**
   * Copies values from a state dict into this module's tensors. Strict: every key must be present,
   * none unknown, every shape equal; the error lists all that differ. `source` names the file.
   */
  loadStateDict(state: Map<string, Tensor>, source = 'state dict'): void {
    const own = new Map(this.stateDict());
    const missing = [...own.keys()].filter((k) => !state.has(k));
    const unexpected = [...state.keys()].filter((k) => !own.has(k));
    const mismatched = [...own].filter(([k, t]) => state.has(k) && shapeString(state.get(k)!.shape) !== shapeString(t.shape));
    if (missing.length || unexpected.length || mismatched.length) {
      const lines = [
        ...(missing.length ? [`missing keys: ${missing.join(', ')}`] : []),
        ...(unexpected.length ? [`unexpected keys: ${unexpected.join(', ')}`] : []),
        ...mismatched.map(([k, t]) => `${k}: shape ${shapeString(state.get(k)!.shape)} in ${source}, ${shapeString(t.shape)} in the model`),
      ];
      throw new Error(`${source}: does not fit the model (${this.constructor.name}): ${lines.join('; ')}`);
    }
    for (const [k, t] of own) {
      const src = state.get(k)!;
      if (src.dtype !== t.dtype) throw new Error(`${source}: ${k} is ${src.dtype}, ${t.dtype} in the model`);
      assign(t, src);
    }
  }

  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Frees every parameter and buffer. */
  dispose(): void {
    for (const [, t] of this.stateDict()) t.dispose();
  }
}
