// Reverse-mode automatic differentiation. An op that any input of which requires gradients records
// a node on its output: the inputs, the tensors its backward rule needs (retained views, so the
// caller may dispose or tidy away the originals), and the rule itself, written next to the op's
// forward in the op's own file. backward() walks the nodes in reverse topological order, frees each
// node's saved tensors as soon as its rule has run, and accumulates into the leaves' .grad.
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

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording: nothing created inside gets a graph (evaluation, optimizer steps). */
export function noGrad<T>(fn: () => T): T {
  const before = gradEnabled;
  gradEnabled = false;
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
  nodes.set(output, { op, inputs, rule, freed: false, saved: save.map((t) => keep(t.view(t.shape, op))) });
  return output;
}

export function isLeaf(t: Tensor): boolean {
  return !nodes.has(t);
}

function freeNode(node: Node): void {
  for (const t of node.saved) t.dispose();
  node.saved = [];
  node.freed = true;
}

export interface BackwardOptions {
  /** keep saved tensors, so that backward can run through this graph again */
  retainGraph?: boolean;
}

/**
 * Accumulates d(output)/d(leaf) · grad into every leaf's .grad. Without `grad`, output must hold one
 * element (a loss) and the seed gradient is 1.
 */
export function backward(output: Tensor, grad?: Tensor, opts: BackwardOptions = {}): void {
  if (!output.requiresGrad) throw new Error(`backward: ${output} does not require grad (no input of its graph does)`);
  if (!grad && output.size !== 1) {
    throw new Error(`backward: output of shape ${shapeString(output.shape)} is not a scalar; pass its gradient`);
  }
  if (grad && shapeString(grad.shape) !== shapeString(output.shape)) {
    throw new Error(`backward: gradient of shape ${shapeString(grad.shape)} for an output of shape ${shapeString(output.shape)}`);
  }
  // reverse topological order by depth-first search
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const visit = (t: Tensor) => {
    if (seen.has(t)) return;
    seen.add(t);
    for (const i of nodes.get(t)?.inputs ?? []) if (i.requiresGrad) visit(i);
    order.push(t);
  };
  visit(output);
  noGrad(() =>
    tidy(() => {
      // grads owns its values, each a distinct tensor, and disposes each once it has been used
      const grads = new Map<Tensor, Tensor>();
      const owned = new Set<Tensor>();
      const own = (t: Tensor) => {
        const o = owned.has(t) || t === grad ? clone(t) : t;
        owned.add(o);
        return o;
      };
      grads.set(output, grad ? own(grad) : full(output.shape, 1));
      for (let k = order.length - 1; k >= 0; k--) {
        const t = order[k]!;
        const g = grads.get(t);
        if (!g) continue;
        grads.delete(t);
        const node = nodes.get(t);
        if (!node) {
          // a leaf: accumulate into .grad, which outlives this scope. An existing .grad is updated in
          // place, so a gradient that is a view into a flat buffer (an optimizer's) stays one.
          if (t.grad) assign(t.grad, add(t.grad, g));
          else t.grad = keep(clone(g));
        } else {
          if (node.freed) {
            throw new Error(
              `backward: the graph through ${node.op} was freed by an earlier backward(); pass { retainGraph: true } to that call`,
            );
          }
          const inputGrads = node.rule(g, node.saved, node.inputs.map((i) => i.requiresGrad));
          node.inputs.forEach((input, i) => {
            const gi = inputGrads[i];
            if (!gi || !input.requiresGrad) return;
            if (shapeString(gi.shape) !== shapeString(input.shape)) {
              throw new Error(
                `backward: ${node.op} gave a gradient of shape ${shapeString(gi.shape)} for an input of shape ${shapeString(input.shape)}`,
              );
            }
            const prev = grads.get(input);
            if (prev) {
              grads.set(input, own(add(prev, gi)));
              prev.dispose();
            } else {
              grads.set(input, own(gi));
            }
          });
          if (!opts.retainGraph) freeNode(node);
        }
        g.dispose();
      }
    }),
  );
}
