// Per-request batching: an `_entities` call with N representations calls `__resolveReference` N
// times in one tick, a list calls a field resolver once per item; a DataLoader turns those N calls
// into one query. Every subgraph builds its loaders with `requestLoader`.
import DataLoader from 'dataloader';

/** Loads many keys with one call; the result has one value per key, in the keys' order. */
export type BatchFn<K, V> = (keys: K[]) => Promise<V[]>;

/** Keys beyond this go in another call, so one query's bind parameters stay bounded. */
const MAX_BATCH = 500;

export interface RequestLoaderOptions<K, CacheKey = K> {
  /** For keys that are objects: the value the loader caches and deduplicates them by. */
  cacheKeyFn?: (key: K) => CacheKey;
  /** Most keys per call of the batch function (500 unless set). */
  maxBatchSize?: number;
}

/** A request's loader for one batch function, created on the request's first use. */
export type RequestLoader<C extends object, K, V, CacheKey = K> = (ctx: C) => DataLoader<K, V, CacheKey>;

const loadersByRequest = new WeakMap<object, Map<object, DataLoader<unknown, unknown, unknown>>>();

/**
 * Declares a per-request loader once, beside its batch function (module level):
 *
 *   const usersById = requestLoader(async (ids: string[], ctx: AuthContext) => ...);
 *   usersById(ctx).load(id)
 *
 * Each request (its context object) gets its own DataLoader, cached for the request's life (each
 * key is loaded at most once per request) and dropped with the context, so no subgraph wires
 * loaders into its context.
 */
export function requestLoader<C extends object, K, V, CacheKey = K>(
  batch: (keys: K[], ctx: C) => Promise<V[]>,
  options: RequestLoaderOptions<K, CacheKey> = {},
): RequestLoader<C, K, V, CacheKey> {
  const loaderOf: RequestLoader<C, K, V, CacheKey> = (ctx) => {
    let loaders = loadersByRequest.get(ctx);
    if (!loaders) {
      loaders = new Map();
      loadersByRequest.set(ctx, loaders);
    }
    let loader = loaders.get(loaderOf) as DataLoader<K, V, CacheKey> | undefined;
    if (!loader) {
      loader = new DataLoader<K, V, CacheKey>((keys) => batch([...keys], ctx), {
        maxBatchSize: options.maxBatchSize ?? MAX_BATCH,
        cacheKeyFn: options.cacheKeyFn,
      });
      loaders.set(loaderOf, loader as DataLoader<unknown, unknown, unknown>);
    }
    return loader;
  };
  return loaderOf;
}

/** Orders rows found by key back into `keys`' order; a key with no row gets `missing`. */
export function byKeys<K, R, M = null>(
  keys: readonly K[],
  rows: readonly R[],
  keyOf: (row: R) => K,
  missing: M = null as M,
): (R | M)[] {
  const found = new Map(rows.map((r) => [keyOf(r), r]));
  return keys.map((k) => (found.has(k) ? found.get(k)! : missing));
}
