// A short-lived cache of what availability reads from the database (docs/architecture.md, "The
// availability cache"): the opening second's thousands of polls of one run cost a version check.
//
// An entry is served only while both hold:
// - it is younger than `ttlMs` (AVAILABILITY_CACHE_MS, 1 s by default), counted from before its
//   database read began: the staleness bound, whatever else fails;
// - its run's version is the one it was read under. Every write that changes a run's inventory
//   (an allocation batch, a cancellation, a chart, a run's cancellation) calls `changed(runId)`
//   after its commit; writes that cannot name their runs (the sweeper's expiries and promotions,
//   a payment's release) call `changedAll()`. A version is a token in this process and in Redis
//   (`booking:availability:v:<run>`, `...:v:*`), so a write in one booking instance reaches every
//   instance's next read: one MGET per request, however many runs it asks about.
// Redis unreachable: this process's own writes still invalidate; reads on other instances rely on
// the TTL. Availability is public (no caller's data): one entry serves everyone.
import { randomBytes } from 'node:crypto';
import { type Redis, requestLoader } from '@tatkal/common';

const KEY_PREFIX = 'booking:availability:v:';
const ALL = '*';
/** How long a version key lives after its last write (a missing key reads as "none", never as an old token). */
const VERSION_KEY_TTL_MS = 24 * 3_600_000;
/** Most entries kept (oldest dropped first): a run has a few classes, quotas and journeys polled. */
const MAX_ENTRIES = 20_000;

export type CacheResult = 'hit' | 'miss' | 'bypass';

interface Entry {
  version: string;
  /** When the version was read, before the database read: the entry's age counts from here. */
  at: number;
  value: Promise<unknown>;
}

export interface AvailabilityCacheOptions {
  redis: Redis | null;
  /** 0 turns the cache off: every read goes to the database. */
  ttlMs: number;
  /** Milliseconds, monotonic; tests move it. */
  clock?: () => number;
  onResult?: (result: CacheResult) => void;
}

export function createAvailabilityCache(opts: AvailabilityCacheOptions) {
  const clock = opts.clock ?? (() => performance.now());
  const instance = randomBytes(6).toString('base64url');
  let counter = 0;
  const token = () => `${instance}.${++counter}`;
  /** This process's own writes, so they invalidate here even when Redis does not answer. */
  const local = new Map<string, string>();
  const entries = new Map<string, Entry>();
  const stats: Record<CacheResult, number> = { hit: 0, miss: 0, bypass: 0 };
  const count = (r: CacheResult) => {
    stats[r]++;
    opts.onResult?.(r);
  };

  function bump(id: string) {
    const t = token();
    local.set(id, t);
    // Sent in call order on the one connection: before whatever this write's caller sends next.
    opts.redis?.set(KEY_PREFIX + id, t, 'PX', VERSION_KEY_TTL_MS).catch(() => {});
  }

  /** Versions of `runIds` now, in order; null when Redis was asked and did not answer (then no caching). */
  async function versionsOf(runIds: string[]): Promise<(string | null)[]> {
    const own = runIds.map((id) => `${local.get(ALL) ?? ''}/${local.get(id) ?? ''}`);
    if (!opts.redis) return own;
    try {
      const [all, ...runs] = await opts.redis.mget(KEY_PREFIX + ALL, ...runIds.map((id) => KEY_PREFIX + id));
      return runIds.map((_, i) => `${own[i]}/${all ?? ''}/${runs[i] ?? ''}`);
    } catch {
      return runIds.map(() => null);
    }
  }

  return {
    ttlMs: opts.ttlMs,
    stats,
    versionsOf,
    /** A run's inventory changed (after the commit). */
    changed(runIds: string | Iterable<string>) {
      if (opts.ttlMs <= 0) return;
      for (const id of typeof runIds === 'string' ? [runIds] : runIds) bump(id);
    },
    /** Inventory of runs the writer cannot name changed (after the commit). */
    changedAll() {
      if (opts.ttlMs <= 0) return;
      bump(ALL);
    },
    /**
     * The value under `key` read while `version` held (as the caller read it at `at`), or `load()`'s.
     * Reads under one version share one load, in flight or done; a failed load is not kept.
     */
    read<T>(key: string, version: string | null, at: number, load: () => Promise<T>): Promise<T> {
      if (opts.ttlMs <= 0 || version === null) {
        count('bypass');
        return load();
      }
      const hit = entries.get(key);
      if (hit && hit.version === version && clock() - hit.at < opts.ttlMs) {
        count('hit');
        return hit.value as Promise<T>;
      }
      count('miss');
      const value = load();
      const entry: Entry = { version, at, value };
      entries.delete(key);
      entries.set(key, entry);
      if (entries.size > MAX_ENTRIES) entries.delete(entries.keys().next().value!);
      value.catch(() => {
        if (entries.get(key) === entry) entries.delete(key);
      });
      return value;
    },
    clock,
  };
}
export type AvailabilityCache = ReturnType<typeof createAvailabilityCache>;

/** A request's view of run versions: one MGET for every run it reads (and when it asked). */
export const availabilityVersion = requestLoader(
  async (runIds: string[], ctx: { reservations: { availability: AvailabilityCache } }) => {
    const cache = ctx.reservations.availability;
    const at = cache.clock();
    if (cache.ttlMs <= 0) return runIds.map(() => ({ version: null, at }));
    const versions = await cache.versionsOf(runIds);
    return versions.map((version) => ({ version, at }));
  },
);
