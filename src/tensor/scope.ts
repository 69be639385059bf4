// Scoped ownership of GPU memory, so long loops do not grow it: every tensor created inside
// tidy(fn) is disposed when fn returns, except the tensors fn returns and those passed to keep().
interface Disposable {
  dispose(): void;
}

const scopes: Set<Disposable>[] = [];
const kept = new WeakSet<Disposable>();

export function trackInScope(t: Disposable): void {
  scopes.at(-1)?.add(t);
}

/** Exempts a tensor from the enclosing scopes' cleanup; the caller then owns it. */
export function keep<T extends Disposable>(t: T): T {
  kept.add(t);
  for (const s of scopes) s.delete(t);
  return t;
}

function collect(value: unknown, into: Set<Disposable>): void {
  if (value === null || typeof value !== 'object') return;
  if (typeof (value as Disposable).dispose === 'function') {
    into.add(value as Disposable);
  } else if (Array.isArray(value)) {
    for (const v of value) collect(v, into);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, into);
  }
}

function disposeAll(scope: Set<Disposable>): void {
  for (const t of scope) if (!kept.has(t)) t.dispose();
}

/**
 * Runs fn and disposes the tensors it created, except those it returns (a tensor, or arrays and
 * plain objects of them), which move to the enclosing scope. fn must be synchronous. When fn
 * throws, every tensor it created (and did not keep) is disposed and the error passed on.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Disposable>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    disposeAll(scope);
    throw e;
  } finally {
    scopes.pop();
  }
  if (result instanceof Promise) {
    disposeAll(scope);
    throw new Error('tidy: fn must be synchronous (it returned a Promise)');
  }
  const returned = new Set<Disposable>();
  collect(result, returned);
  for (const t of scope) {
    if (returned.has(t)) trackInScope(t);
    else if (!kept.has(t)) t.dispose();
  }
  return result;
}
