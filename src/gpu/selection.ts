// Which version of a kernel family runs (matmul v1-v7 in kernels/matmul*.wgsl, conv2d's, ...):
//   1. a version forced by name for the whole family (`losscape bench --kernel matmul=v3`, a
//      researcher comparing versions; LOSSCAPE_KERNELS in the environment of the Node entry),
//   2. else the tuned table's pick for the op's shape class, timed on this adapter by the autotuner
//      (src/tensor/tune.ts; cached on disk by the Node entry, src/node/tune.ts),
//   3. else the op's fixed default (what runs with tuning off, LOSSCAPE_TUNE=0, and in tests).
// The table is data: the core never measures on its own, so a page or a test runs the defaults
// unless it is handed a table.

/** family -> shape class -> version */
export type TunedTable = Record<string, Record<string, string>>;

export class KernelSelection {
  readonly #forced = new Map<string, string>();
  #tuned: TunedTable = {};

  /** Forces `version` for every call of the family (null: back to tuned or default). */
  force(family: string, version: string | null): void {
    if (version === null) this.#forced.delete(family);
    else this.#forced.set(family, version);
  }

  get forced(): ReadonlyMap<string, string> {
    return this.#forced;
  }

  get tuned(): TunedTable {
    return this.#tuned;
  }

  set tuned(table: TunedTable) {
    this.#tuned = table;
  }

  /** The version to run for one call. */
  pick(family: string, shapeClass: string, fallback: string): string {
    return this.#forced.get(family) ?? this.#tuned[family]?.[shapeClass] ?? fallback;
  }
}
