// Per-request batching for entity resolvers: an `_entities` call with N representations calls
// `__resolveReference` N times in one tick; a DataLoader turns those N calls into one query.
import DataLoader from 'dataloader';

/** Loads many keys with one call; the result has one value per key, in the keys' order. */
export type BatchFn<K, V> = (keys: K[]) => Promise<V[]>;

/** Keys beyond this go in another call, so one query's bind parameters stay bounded. */
const MAX_BATCH = 500;

const loadersByRequest = new WeakMap<object, Map<unknown, DataLoader<unknown, unknown>>>();

/**
 * The request's loader for `batch` (a module-level function): created on first use and dropped
 * with the request's context object, so no subgraph has to wire loaders into its context.
 */
export function requestLoader<C extends object, K, V>(
  ctx: C,
  batch: (keys: K[], ctx: C) => Promise<V[]>,
): DataLoader<K, V> {
  let loaders = loadersByRequest.get(ctx);
  if (!loaders) {
    loaders = new Map();
    loadersByRequest.set(ctx, loaders);
  }
  let loader = loaders.get(batch) as DataLoader<K, V> | undefined;
  if (!loader) {
    // Cached for the request's life: each key is loaded at most once per request.
    loader = new DataLoader<K, V>((keys) => batch([...keys], ctx), { maxBatchSize: MAX_BATCH });
    loaders.set(batch, loader as DataLoader<unknown, unknown>);
  }
  return loader;
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
