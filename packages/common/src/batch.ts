// Per-request batching for entity resolvers: an `_entities` call with N representations calls
// `__resolveReference` N times in one tick; a loader turns those N calls into one query. Booking
// uses the `dataloader` package; the other subgraphs do not depend on it, so this is its core.

/** Loads many keys with one call; the result has one value per key, in the keys' order. */
export type BatchFn<K, V> = (keys: K[]) => Promise<V[]>;

/** Keys beyond this go in another call, so one query's bind parameters stay bounded. */
const MAX_BATCH = 500;

/**
 * Collects the keys asked for while the current resolvers run and loads them together; each key
 * is loaded at most once for the loader's life (one request), so it must not outlive the request.
 */
export class BatchLoader<K, V> {
  private readonly cache = new Map<K, Promise<V>>();
  private queue: { key: K; resolve: (v: V) => void; reject: (e: unknown) => void }[] = [];

  constructor(private readonly batch: BatchFn<K, V>) {}

  load(key: K): Promise<V> {
    const cached = this.cache.get(key);
    if (cached) return cached;
    const promise = new Promise<V>((resolve, reject) => {
      this.queue.push({ key, resolve, reject });
      // After the promise jobs already queued (sibling resolvers starting), as DataLoader does.
      if (this.queue.length === 1) void Promise.resolve().then(() => process.nextTick(() => this.dispatch()));
    });
    this.cache.set(key, promise);
    return promise;
  }

  loadMany(keys: readonly K[]): Promise<V[]> {
    return Promise.all(keys.map((k) => this.load(k)));
  }

  private dispatch(): void {
    const queue = this.queue;
    this.queue = [];
    for (let i = 0; i < queue.length; i += MAX_BATCH) {
      const chunk = queue.slice(i, i + MAX_BATCH);
      this.batch(chunk.map((q) => q.key))
        .then((values) => {
          if (values.length !== chunk.length) throw new Error(`batch loader returned ${values.length} values for ${chunk.length} keys`);
          chunk.forEach((q, j) => q.resolve(values[j]!));
        })
        .catch((err: unknown) => {
          // A failed load is not remembered: a later load of the same key tries again.
          for (const q of chunk) {
            this.cache.delete(q.key);
            q.reject(err);
          }
        });
    }
  }
}

const loadersByRequest = new WeakMap<object, Map<unknown, BatchLoader<unknown, unknown>>>();

/**
 * The request's loader for `batch` (a module-level function): created on first use and dropped
 * with the request's context object, so no subgraph has to wire loaders into its context.
 */
export function requestLoader<C extends object, K, V>(ctx: C, batch: (keys: K[], ctx: C) => Promise<V[]>): BatchLoader<K, V> {
  let loaders = loadersByRequest.get(ctx);
  if (!loaders) loadersByRequest.set(ctx, (loaders = new Map()));
  let loader = loaders.get(batch) as BatchLoader<K, V> | undefined;
  if (!loader) {
    loader = new BatchLoader<K, V>((keys) => batch(keys, ctx));
    loaders.set(batch, loader as BatchLoader<unknown, unknown>);
  }
  return loader;
}

/** Orders rows found by key back into `keys`' order; a key with no row gets `missing`. */
export function byKeys<K, R, M = null>(keys: readonly K[], rows: readonly R[], keyOf: (row: R) => K, missing: M = null as M): (R | M)[] {
  const found = new Map(rows.map((r) => [keyOf(r), r]));
  return keys.map((k) => (found.has(k) ? found.get(k)! : missing));
}
