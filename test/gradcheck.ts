// Checks an op's forward output and every input gradient on the GPU against the float64 reference
// autograd. The output is contracted with random weights, so every output element's gradient path
// is exercised: loss = Σ w ⊙ f(inputs). Each element is held to the bound of test/compare.ts with,
// for one op, the reference's condition-aware magnitude as its scale (forward: mag; gradients: the
// magnitude backward's gradMag); for a composed network, its own size or, where it is near zero,
// the tensor's RMS ('rms': worst-case magnitudes compound through layers far above real errors).
import * as L from '../src/index.js';
import { F32, rmsScale, type Tolerance } from './compare.js';
import { expectClose, randomPair } from './check.js';
import * as A from './ref-autograd.js';
import * as R from './reference.js';

export interface GradCase {
  what: string;
  shapes: number[][];
  /** value range of the inputs (default [-1, 1]) */
  range?: [number, number];
  gpu: (...xs: L.Tensor[]) => L.Tensor;
  ref: (...xs: A.V[]) => A.V;
  /** default F32.accumulate */
  tol?: Tolerance;
  /** each element's scale: 'magnitude' (default, one op) or 'rms' (a composed network) */
  scale?: 'magnitude' | 'rms';
}


export async function gradCheck({ what, shapes, range = [-1, 1], gpu, ref, tol = F32.accumulate, scale = 'magnitude' }: GradCase): Promise<void> {
  const pairs = shapes.map((s) => randomPair(s, ...range));
  const xs = pairs.map(([t]) => t.requireGrad());
  const vs = pairs.map(([, r]) => A.leaf(r));
  const out = gpu(...xs);
  const refOut = ref(...vs);
  const rms = scale === 'rms';
  await expectClose(out, refOut.value, tol, `${what}: forward`, rms ? rmsScale(refOut.data) : refOut.magnitude);
  const [w, rw] = randomPair(out.shape);
  L.backward(L.sum(L.mul(out, w)));
  // the gradient of Σ w ⊙ f with respect to f is w
  A.backward(refOut, rw.data);
  if (!rms) A.backward(refOut, rw.data, { magnitude: true });
  for (let i = 0; i < xs.length; i++) {
    const g = xs[i]!.grad;
    if (!g) throw new Error(`${what}: input ${i} got no gradient`);
    const grad = vs[i]!.grad;
    await expectClose(g, R.ref(shapes[i]!, grad), tol, `${what}: gradient of input ${i}`, rms ? rmsScale(grad) : vs[i]!.gradMag);
  }
  for (const t of [...xs, out, w]) t.dispose();
}

/**
 * Checks an op's second-order rules (its backward differentiated again, createGraph) on the GPU
 * against the float64 reference: H·v of s = Σ w ⊙ f(inputs) + Σ u ⊙ f(inputs)² for random w, u
 * and v, the reference by central differences of float64 gradients. The square makes the check
 * reach the rules of ops that are linear in their input too: H·v = Jᵀ(2u ⊙ J·v) + Σ (w + 2u·f) ∇²f·v.
 * A kink of the reference within its step (ReLU, max pooling) draws another v.
 */
export async function hvpCheck({ what, shapes, range = [-1, 1], gpu, ref, tol = F32.secondOrder }: GradCase): Promise<void> {
  const pairs = shapes.map((s) => randomPair(s, ...range));
  const xs = pairs.map(([t]) => t.requireGrad());
  for (let attempt = 0; ; attempt++) {
    const dirs = shapes.map((s) => randomPair(s));
    const out = L.noGrad(() => gpu(...xs));
    const [[w, rw], [u, ru]] = [randomPair(out.shape), randomPair(out.shape)];
    out.dispose();
    const all = (y: A.V) => y.shape.map((_, i) => i);
    const scalar = (y: A.V) => A.add(A.sum(A.mul(y, A.leaf(rw)), all(y)), A.sum(A.mul(A.mul(y, y), A.leaf(ru)), all(y)));
    let expected: Float64Array[];
    try {
      expected = A.hvp((...vs) => scalar(ref(...vs)), pairs.map(([, r]) => r), dirs.map(([, r]) => r));
    } catch (e) {
      if (e instanceof A.KinkError && attempt < 3) continue;
      throw new Error(`${what}: ${(e as Error).message}`);
    }
    const hv = L.tidy(() =>
      L.freeingGraph(() => {
        const y = gpu(...xs);
        const gs = L.grad(L.add(L.sum(L.mul(y, w)), L.sum(L.mul(L.mul(y, y), u))), xs, { createGraph: true });
        const dot = gs.map((g, i) => L.sum(L.mul(g!, dirs[i]![0]))).reduce((a, b) => L.add(a, b));
        return L.grad(dot, xs);
      }),
    );
    for (let i = 0; i < xs.length; i++) {
      if (!hv[i]) throw new Error(`${what}: input ${i} got no second derivative`);
      await expectClose(hv[i]!, R.ref(shapes[i]!, expected[i]!), tol, `${what}: H·v of input ${i}`, rmsScale(expected[i]!));
    }
    for (const t of [...hv, w, u, ...dirs.map(([t]) => t)]) t?.dispose();
    break;
  }
  for (const t of xs) t.dispose();
}
