// Stacked passes: a model at K points θ_k = θ + α_k·d₁ + β_k·d₂ at once (the batched landscape
// evaluator). Each layer says how it runs for K points beside its forward, as micrograd keeps each
// backward rule beside its forward: `stacked(x, s, ...)`, given this Stack. While a pass runs,
// every Layer call goes through Stack.call:
//   - a layer whose class has a stacked rule runs it: the leaves with parameters (Linear, Conv2d,
//     LayerNorm, BatchNorm2d, PatchEmbed), Flatten (it changes layout), a fused group;
//   - any other layer runs its own forward: parameter-free layers (activations, pooling, dropout in
//     eval) on the stacked tensor, containers (Sequential, blocks, models) with their children's
//     calls stacked in turn. Such a forward serves both when it leaves the leading axes free
//     (negative axes: [B] in a forward, [K, B] stacked) and reads its own parameters through
//     perPoint(), as the ViT does its class token and position embedding.
// A forward that reads a parameter through own() in a pass (a buffer, the same at every point, it
// may), or a class that overrides forward below the rule it inherits, has no stacked form:
// NoStackedFormError names the layer's path in the model.
//
// Activations come in three layouts:
//   shared [B, ...]        from the input alone, the same at every point (before the first layer
//                          with parameters);
//   dense  [K, B, ...]     points outermost: a stacked Linear is one batched matmul, a LayerNorm one
//                          call with per-slice weights, attention runs over K·B·heads;
//   image  [B, K·C, H, W]  points as channel groups: a stacked Conv2d is one grouped convolution
//                          (K times the groups), a BatchNorm one call over K·C channels, and pooling
//                          and activations need nothing new.
// Rules tag what they return (dense(), image()); a parameter-free leaf's output keeps its input's
// layout, and a tensor made by plain ops (a residual add in a block's forward) has the layout of the
// last tagged one.
import { ones, zeros } from '../tensor/creation.js';
import { broadcastTo, permute, reshape } from '../tensor/layout.js';
import { keep, tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import type { BatchNorm2d, Conv2d, Layer, Linear, MaxPool2d } from './layers.js';
import { intercept, type Interceptor, type Module } from './module.js';

export type Layout = 'shared' | 'dense' | 'image';

/** The layers after a first Linear or Conv2d that the evaluator's shared combination absorbs. */
export interface Tail {
  bn: BatchNorm2d | null;
  relu: boolean;
  pool: MaxPool2d | null;
}

export interface StackOptions {
  /** points per pass */
  k: number;
  /** parameter p at every point, [K, ...p.shape] */
  param: (p: Tensor) => Tensor;
  /** each point's own BatchNorm statistics (recalibration); absent: the running statistics */
  stats?: PointStats | null;
  /**
   * The batched evaluator's first layer: for a Linear or Conv2d on a shared input (with the layers
   * after it that it may absorb), its output at the K points from shared products, tagged; or null,
   * and the layer's rule runs.
   */
  first?: (layer: Linear | Conv2d, x: Tensor, tail: Tail) => Tensor | null;
  /** module paths for errors: a model's namedModules */
  paths?: ReadonlyMap<Module, string>;
}

/** A layer that cannot run stacked; `path` is where it sits in the model ('' for the model itself). */
export class NoStackedFormError extends Error {
  constructor(readonly path: string, layer: Module, why: string) {
    super(`layer ${path || '(the model)'} (${layer.constructor.name}) has no stacked form: ${why}; give it a stacked rule (docs/LANDSCAPE.md, "Custom layers") or use the sequential evaluator`);
  }
}

const NO_TAIL: Tail = { bn: null, relu: false, pool: null };
type Rule = (this: Module, x: Tensor, s: Stack, ...rest: unknown[]) => Tensor;
const rules = new WeakMap<object, Rule | 'stale' | null>();
const leaves = new WeakMap<Module, boolean>();

/** The stacked rule a layer's class defines or inherits; 'stale' where a class below that rule overrides forward. */
function ruleOf(layer: Module): Rule | 'stale' | null {
  const proto = Object.getPrototypeOf(layer) as object;
  let rule = rules.get(proto);
  if (rule === undefined) {
    rule = null;
    let forwardAt: object | null = null;
    for (let p: object | null = proto; p && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
      if (Object.hasOwn(p, 'stacked')) {
        rule = forwardAt && forwardAt !== p ? 'stale' : ((p as { stacked: Rule }).stacked);
        break;
      }
      if (!forwardAt && Object.hasOwn(p, 'forward')) forwardAt = p;
    }
    rules.set(proto, rule);
  }
  return rule;
}

function isLeaf(m: Module): boolean {
  let leaf = leaves.get(m);
  if (leaf === undefined) leaves.set(m, (leaf = m.namedModules().length === 1));
  return leaf;
}

export class Stack implements Interceptor {
  /** points per pass */
  readonly k: number;
  /** each point's own BatchNorm statistics, or null (eval mode: the running statistics) */
  readonly stats: PointStats | null;
  readonly #opts: StackOptions;
  readonly #tags = new WeakMap<Tensor, Layout>();
  #last: Layout = 'shared';
  readonly #frames: Array<{ layer: Module; rule: boolean }> = [];

  constructor(opts: StackOptions) {
    this.k = opts.k;
    this.stats = opts.stats ?? null;
    this.#opts = opts;
  }

  /** Parameter p at every point, [K, ...p.shape]. */
  param(p: Tensor): Tensor {
    return this.#opts.param(p);
  }

  /** The evaluator's shared first layer for `layer` on the shared input x, or null (see StackOptions.first). */
  first(layer: Linear | Conv2d, x: Tensor, tail: Tail = NO_TAIL): Tensor | null {
    return this.#opts.first?.(layer, x, tail) ?? null;
  }

  /** The layout of an activation: its tag, or the last tagged one's. */
  layout(x: Tensor): Layout {
    return this.#tags.get(x) ?? this.#last;
  }

  tag(t: Tensor, layout: Layout): Tensor {
    this.#tags.set(t, layout);
    if (layout !== 'shared') this.#last = layout;
    return t;
  }

  dense(t: Tensor): Tensor {
    return this.tag(t, 'dense');
  }

  image(t: Tensor): Tensor {
    return this.tag(t, 'image');
  }

  shared(t: Tensor): Tensor {
    return this.tag(t, 'shared');
  }

  /** x as a stacked activation: a shared one broadcast to the K points, dense [K, ...] or image [B, K·C, H, W]; others as they are. */
  expand(x: Tensor, to: 'dense' | 'image'): Tensor {
    if (this.layout(x) !== 'shared') return x;
    if (to === 'dense') return this.dense(broadcastTo(reshape(x, [1, ...x.shape]), [this.k, ...x.shape]));
    const [b, c, ...hw] = x.shape as [number, number, ...number[]];
    return this.image(reshape(broadcastTo(reshape(x, [b, 1, c, ...hw]), [b, this.k, c, ...hw]), [b, this.k * c, ...hw]));
  }

  /** Image activations [B, K·C, H, W] as dense [K, B, C·H·W] (torch's flatten order per point). */
  imageToDense(x: Tensor): Tensor {
    const b = x.shape[0]!;
    return this.dense(reshape(permute(reshape(x, [b, this.k, -1]), [1, 0, 2]), [this.k, b, -1]));
  }

  /**
   * Interceptor: a layer call runs the layer's stacked rule, or its forward, in a scope of its own:
   * only its output outlives the call, so a pass holds one layer's temporaries at a time (K times
   * those of a forward: what bounds K).
   */
  call(layer: Module, forward: (x: Tensor, ...rest: unknown[]) => Tensor, x: Tensor, rest: unknown[]): Tensor {
    const rule = ruleOf(layer);
    if (rule === 'stale') throw new NoStackedFormError(this.#path(layer), layer, 'its class overrides forward below the stacked rule it inherits');
    this.#frames.push({ layer, rule: rule !== null });
    try {
      return tidy(() => {
        if (rule) return rule.call(layer, x, this, ...rest);
        const y = forward.call(layer, x, ...rest);
        if (isLeaf(layer) && !this.#tags.has(y)) this.tag(y, this.layout(x));
        return y;
      });
    } finally {
      this.#frames.pop();
    }
  }

  /**
   * Interceptor: perPoint() reads the K points' values; rules and buffer reads (the same at every
   * point) see the tensors themselves; a forward's own() read of a parameter is refused.
   */
  read(owner: Module, name: string, t: Tensor, how: 'parameter' | 'buffer' | 'perPoint'): Tensor {
    if (how === 'perPoint') {
      if (this.#last === 'shared') this.#last = 'dense';
      return this.param(t);
    }
    const frame = this.#frames.at(-1);
    if (how === 'buffer' || !frame || frame.rule) return t;
    const what = owner === frame.layer ? name : `${this.#path(owner)}.${name}`;
    throw new NoStackedFormError(this.#path(frame.layer), frame.layer, `its forward reads ${what} (through own(), not perPoint()) and it has no stacked rule`);
  }

  /** A module's path in the model; an unregistered helper is named after the layer that called it. */
  #path(m: Module): string {
    const known = this.#opts.paths?.get(m);
    if (known !== undefined) return known;
    const caller = [...this.#frames].reverse().find((f) => f.layer !== m && this.#opts.paths?.has(f.layer));
    return `${(caller && this.#opts.paths!.get(caller.layer)) || '(the model)'} > ${m.constructor.name}`;
  }
}

/**
 * Runs `layer` on x at the K points of the stack. x is shared (a model's input) unless `layout`
 * says otherwise; the output's layout is s.layout(output).
 */
export function runStacked(layer: Layer, x: Tensor, s: Stack, layout: Layout = 'shared'): Tensor {
  s.tag(x, layout);
  return intercept(s, () => layer.forward(x));
}

/**
 * Each point's own BatchNorm statistics, [K·C] per layer, re-estimated for a chunk of points (BatchNorm
 * 'recalibrate'): during a calibration batch (`momentum` set) each stacked BatchNorm normalizes with
 * the batch statistics of its K·C channels, which are each point's own, and averages them in; after
 * the calibration batches (`momentum` null) it normalizes with them.
 */
export class PointStats {
  readonly #stats = new Map<BatchNorm2d, [Tensor, Tensor]>();
  /** 1/(i+1) during calibration batch i (a cumulative average), null once calibrated */
  momentum: number | null = null;
  constructor(readonly kk: number) {}
  /** [mean, var] of a layer, starting as PyTorch's reset statistics (0 and 1) */
  of(bn: BatchNorm2d): [Tensor, Tensor] {
    let st = this.#stats.get(bn);
    if (!st) {
      st = [keep(zeros([this.kk * bn.features])), keep(ones([this.kk * bn.features]))];
      this.#stats.set(bn, st);
    }
    return st;
  }
  dispose(): void {
    for (const st of this.#stats.values()) st.forEach((t) => t.dispose());
  }
}
