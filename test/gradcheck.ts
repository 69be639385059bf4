// Checks an op's forward output and every input gradient on the GPU against the float64 reference
// autograd. The output is contracted with random weights, so every output element's gradient path
// is exercised: loss = Σ w ⊙ f(inputs).
import * as L from '../src/index.js';
import { expectClose, randomPair } from './helpers.js';
import * as A from './ref-autograd.js';
import * as R from './reference.js';

export interface GradCase {
  what: string;
  shapes: number[][];
  /** value range of the inputs (default [-1, 1]) */
  range?: [number, number];
  gpu: (...xs: L.Tensor[]) => L.Tensor;
  ref: (...xs: A.V[]) => A.V;
  tol?: number;
}

export async function gradCheck({ what, shapes, range = [-1, 1], gpu, ref, tol = 1e-4 }: GradCase): Promise<void> {
  const pairs = shapes.map((s) => randomPair(s, ...range));
  const xs = pairs.map(([t]) => t.requireGrad());
  const vs = pairs.map(([, r]) => A.leaf(r));
  const out = gpu(...xs);
  const refOut = ref(...vs);
  await expectClose(out, refOut.value, 1e-5, `${what}: forward`);
  const [w, rw] = randomPair(out.shape);
  L.backward(L.sum(L.mul(out, w)));
  A.backward(A.sum(A.mul(refOut, A.leaf(rw)), refOut.shape.map((_, i) => i)));
  for (let i = 0; i < xs.length; i++) {
    const g = xs[i]!.grad;
    if (!g) throw new Error(`${what}: input ${i} got no gradient`);
    await expectClose(g, R.ref(shapes[i]!, vs[i]!.grad), tol, `${what}: gradient of input ${i}`);
  }
  for (const t of [...xs, out, w]) t.dispose();
}
