// Reverse-mode automatic differentiation. An op that any input of which requires gradients records
// a node on its output: the inputs, the tensors its backward rule needs (retained views, so the
// caller may dispose or tidy away the originals), and the rule itself, written next to the op's
// forward in the op's own file. backward() and grad() walk the nodes in reverse topological order,
// free each node's saved tensors as soon as its rule has run, and hand each target its gradient.
//
// Higher order (createGraph): the walk then runs with recording on, so each rule's ops record nodes
// of their own and the gradients it returns are differentiable again (a Hessian-vector product is
// grad(Σ grad(L, θ, createGraph) · v, θ)). Rules written with differentiable ops are so already;
// a rule that calls a dedicated backward kernel wraps it in an op with a rule of its own, beside it.
// A saved view of a tensor in a graph joins that graph (an identity node), so what a rule computes
// from its saved tensors is differentiated too. A rule that records nothing where its incoming
// gradient is in a graph is refused (NoSecondOrderRule), never silently treated as constant.
import { full } from './creation.js';
import { add } from './elementwise.js';
import { assign, clone } from './layout.js';
import { keep, tidy } from './scope.js';
import { shapeString } from './shape.js';
import type { Tensor } from './tensor.js';

/**
 * Gradients of the inputs (null where an input gets none), given the output's gradient. `needs`
 * says which inputs require one: a rule may skip the others (the input images of a network, say).
 */
export type BackwardRule = (grad: Tensor, saved: readonly Tensor[], needs: readonly boolean[]) => Array<Tensor | null>;

interface Node {
  op: string;
  inputs: readonly Tensor[];
  saved: Tensor[];
  rule: BackwardRule;
  freed: boolean;
}

const nodes = new WeakMap<Tensor, Node>();
let gradEnabled = true;
/** nodes recorded inside freeingGraph() calls, innermost last */
const graphScopes: Node[][] = [];

/** An op met under createGraph whose backward rule cannot be differentiated again. */
export class NoSecondOrderRule extends Error {
  constructor(readonly op: string) {
    super(`${op}: its backward rule has no second-order rule (it records nothing under createGraph), so it cannot be differentiated twice`);
  }
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording: nothing created inside gets a graph (evaluation, optimizer steps). */
export function noGrad<T>(fn: () => T): T {
  return recording(false, fn);
}

function recording<T>(on: boolean, fn: () => T): T {
  const before = gradEnabled;
  gradEnabled = on;
  try {
    return fn();
  } finally {
    gradEnabled = before;
  }
}

/** Whether an op on these inputs must be recorded. */
export function needsGrad(inputs: readonly Tensor[]): boolean {
  return gradEnabled && inputs.some((t) => t.requiresGrad);
}

/**
 * Records `output` as made by `op` from `inputs`. `save` lists the tensors `rule` reads; they are
 * retained until backward has used them. Returns output.
 */
export function record(op: string, inputs: readonly Tensor[], output: Tensor, rule: BackwardRule, save: readonly Tensor[] = []): Tensor {
  if (!needsGrad(inputs)) return output;
  output.requiresGrad = true;
  const node: Node = { op, inputs, rule, freed: false, saved: save.map((t) => savedView(t, op)) };
  nodes.set(output, node);
  graphScopes.at(-1)?.push(node);
  return output;
}

/** A retained view of t for a rule; a view of a tensor in a graph joins the graph through an identity node. */
function savedView(t: Tensor, op: string): Tensor {
  const v = keep(t.view(t.shape, op));
  if (t.requiresGrad) {
    v.requiresGrad = true;
    nodes.set(v, { op: `${op} (saved)`, inputs: [t], saved: [], rule: (g) => [g], freed: false });
  }
  return v;
}

export function isLeaf(t: Tensor): boolean {
  return !nodes.has(t);
}

function freeNode(node: Node): void {
  for (const t of node.saved) t.dispose();
  node.saved = [];
  node.freed = true;
}

/**
 * Runs fn (synchronous), then frees the saved tensors of every node recorded during it: the graphs
 * that createGraph keeps (a backward through them frees only what it walks). A Hessian-vector
 * product runs in one.
 */
export function freeingGraph<T>(fn: () => T): T {
  const scope: Node[] = [];
  graphScopes.push(scope);
  try {
    return fn();
  } finally {
    graphScopes.pop();
    for (const n of scope) freeNode(n);
  }
}

export interface BackwardOptions {
  /** keep saved tensors, so that backward can run through this graph again (default: createGraph) */
  retainGraph?: boolean;
  /** record the backward pass itself, so that the gradients are differentiable again */
  createGraph?: boolean;
}

/**
 * Accumulates d(output)/d(leaf) · grad into every leaf's .grad. Without `grad`, output must hold one
 * element (a loss) and the seed gradient is 1. With createGraph, a leaf's .grad is the gradient
 * with its graph (a leaf must then have no .grad yet: an in-place update would cut the graph; use
 * grad() for gradients into a flat buffer's views).
 */
export function backward(output: Tensor, grad?: Tensor, opts: BackwardOptions = {}): void {
  walk('backward', output, grad, opts, isLeaf, () => undefined, (t, g) => {
    if (!t.grad) {
      t.grad = keep(clone(g));
    } else if (opts.createGraph) {
      throw new Error(`backward: createGraph into a leaf of shape ${shapeString(t.shape)} that has a .grad already; use grad()`);
    } else {
      // an existing .grad is updated in place, so a gradient that is a view into a flat buffer (an optimizer's) stays one
      assign(t.grad, add(t.grad, g));
    }
  });
}

/**
 * d(output)/d(input) · grad for each of `inputs` (null for one that output does not depend on), as
 * torch.autograd.grad: leaves' .grad are left alone. Inputs may be leaves or intermediate tensors.
 */
export function grad(output: Tensor, inputs: readonly Tensor[], opts: BackwardOptions & { grad?: Tensor } = {}): Array<Tensor | null> {
  const wanted = new Set(inputs);
  const found = new Map<Tensor, Tensor>();
  const collect = () => inputs.map((t, i) => {
    const g = found.get(t);
    return !g ? null : inputs.indexOf(t) < i ? clone(g) : g; // an input listed twice gets its own copy
  });
  return walk('grad', output, opts.grad, opts, (t) => wanted.has(t), collect, (t, g) => found.set(t, clone(g)));
}

/**
 * The vector-Jacobian product of `f` at `inputs` with the output gradient g, by differentiating f,
 * recording: how a fused op's rule runs under createGraph, from the op's composition of
 * differentiable ops (whose gradients are differentiable again) instead of its backward kernels.
 */
export function vjpOf(f: (...xs: Tensor[]) => Tensor, inputs: readonly Tensor[], g: Tensor): Array<Tensor | null> {
  return grad(f(...inputs), inputs, { grad: g, createGraph: true });
}

/** The tensors from which `output` is reached and that lead to a target, inputs before their users. */
function leadingToTargets(output: Tensor, isTarget: (t: Tensor) => boolean): Tensor[] {
  const leads = new Map<Tensor, boolean>();
  const order: Tensor[] = [];
  // iterative depth-first search (a Hessian's graph is twice a network's depth)
  const stack: Array<{ t: Tensor; next: number }> = [{ t: output, next: 0 }];
  leads.set(output, false);
  while (stack.length) {
    const top = stack.at(-1)!;
    const inputs = nodes.get(top.t)?.inputs ?? [];
    if (top.next < inputs.length) {
      const i = inputs[top.next++]!;
      if (i.requiresGrad && !leads.has(i)) {
        leads.set(i, false);
        stack.push({ t: i, next: 0 });
      }
      continue;
    }
    stack.pop();
    const any = isTarget(top.t) || inputs.some((i) => leads.get(i) === true);
    leads.set(top.t, any);
    if (any) order.push(top.t);
  }
  return order;
}

/**
 * The backward pass from output: each target's gradient is handed to deliver(); the value of
 * collect(), run last inside the walk's scope, is returned (its tensors move to the caller's scope).
 */
function walk<T>(
  what: string, output: Tensor, seed: Tensor | undefined, opts: BackwardOptions,
  isTarget: (t: Tensor) => boolean, collect: () => T, deliver: (t: Tensor, g: Tensor) => void,
): T {
  if (!output.requiresGrad) throw new Error(`${what}: ${output} does not require grad (no input of its graph does)`);
  if (!seed && output.size !== 1) {
    throw new Error(`${what}: output of shape ${shapeString(output.shape)} is not a scalar; pass its gradient`);
  }
  if (seed && shapeString(seed.shape) !== shapeString(output.shape)) {
    throw new Error(`${what}: gradient of shape ${shapeString(seed.shape)} for an output of shape ${shapeString(output.shape)}`);
  }
  const create = opts.createGraph ?? false;
  const retain = opts.retainGraph ?? create;
  const order = leadingToTargets(output, isTarget);
  const leads = new Set(order);
  const run = () =>
    tidy(() => {
      // grads owns its values, each a distinct tensor, and disposes each once it has been used
      const grads = new Map<Tensor, Tensor>();
      const owned = new Set<Tensor>();
      const own = (t: Tensor) => {
        const o = owned.has(t) || t === seed ? clone(t) : t;
        owned.add(o);
        return o;
      };
      const start = own(seed ?? full(output.shape, 1));
      // createGraph: the seed joins a graph (a leaf of its own, if it has none), so that every
      // gradient of the walk is in one and a rule that records nothing shows (below)
      if (create) start.requiresGrad = true;
      grads.set(output, start);
      for (let k = order.length - 1; k >= 0; k--) {
        const t = order[k]!;
        const g = grads.get(t);
        if (!g) continue;
        grads.delete(t);
        if (isTarget(t)) deliver(t, g);
        const node = nodes.get(t);
        const needs = node?.inputs.map((i) => leads.has(i));
        if (node && needs!.some((n) => n)) {
          if (node.freed) {
            throw new Error(`${what}: the graph through ${node.op} was freed by an earlier backward(); pass { retainGraph: true } to that call`);
          }
          const inputGrads = node.rule(g, node.saved, needs!);
          node.inputs.forEach((input, i) => {
            const gi = inputGrads[i];
            if (!gi || !needs![i]) return;
            if (shapeString(gi.shape) !== shapeString(input.shape)) {
              throw new Error(`${what}: ${node.op} gave a gradient of shape ${shapeString(gi.shape)} for an input of shape ${shapeString(input.shape)}`);
            }
            // every rule is linear in g: a result outside g's graph was computed by kernels that recorded nothing
            if (create && g.requiresGrad && !gi.requiresGrad) throw new NoSecondOrderRule(node.op);
            const prev = grads.get(input);
            if (prev) {
              grads.set(input, own(add(prev, gi)));
              prev.dispose();
            } else {
              grads.set(input, own(gi));
            }
          });
          if (!retain) freeNode(node);
        }
        g.dispose();
      }
      return collect();
    });
  try {
    return recording(create, run);
  } finally {
    // what the walk passed through without running (no gradient reached it) is freed too
    if (!retain) for (const t of order) if (nodes.has(t)) freeNode(nodes.get(t)!);
  }
}
