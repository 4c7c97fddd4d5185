// Elasticsearch behind a circuit breaker (opossum), PostgreSQL behind it: a slow or failing
// Elasticsearch costs a request at most `timeoutMs`, and once the breaker opens, none at all until
// it half-opens again. Every fallback is counted and the response says which engine answered.
import CircuitBreaker from 'opossum';
import { counter, scrapedGauges, type Logger } from '@tatkal/common';
import type { NormalizedQuery } from '../domain/text.ts';
import type { SearchBackend, ServedBy, Slice, StationResult, TrainResult } from './types.ts';

export interface BreakerOptions {
  /** An Elasticsearch call slower than this counts as a failure and is answered by PostgreSQL. */
  timeoutMs: number;
  /** How long the breaker stays open before letting one trial request through. */
  resetTimeoutMs: number;
  errorThresholdPercentage?: number;
  /** Calls in the rolling window before the error percentage can open the breaker. */
  volumeThreshold?: number;
}

export type FallbackReason = 'timeout' | 'open' | 'error';

export interface SearchStats {
  primary: ServedBy | null;
  breaker: 'closed' | 'open' | 'half-open' | 'none';
  fallbacks: Record<FallbackReason, number>;
}

export interface Served<T> {
  hits: T;
  servedBy: ServedBy;
}

export interface ResilientSearch {
  searchStations(q: NormalizedQuery, slice: Slice): Promise<Served<StationResult[]>>;
  searchTrains(q: NormalizedQuery, slice: Slice): Promise<Served<TrainResult[]>>;
  stats(): SearchStats;
  shutdown(): void;
}

const fallbackCount = counter({
  name: 'tatkal_search_fallbacks_total',
  help: 'Searches PostgreSQL answered because Elasticsearch timed out, failed, or its circuit was open',
  labelNames: ['reason'],
});

const BREAKER_STATE = { closed: 0, 'half-open': 1, open: 2 } as const;
const searchGauges = scrapedGauges({
  backend: {
    name: 'tatkal_search_backend',
    help:
      'The search engine answering now: 1 on its backend label (elasticsearch, or postgres when it is not ' +
      'configured or its circuit is open), 0 on the other',
    labelNames: ['backend'],
  },
  breaker: {
    name: 'tatkal_search_breaker_state',
    help:
      'The circuit breaker in front of a search engine (backend label): 0 closed, 1 half-open, 2 open; ' +
      'absent without Elasticsearch',

    labelNames: ['backend'],
  },
});

/** Gauge samples from a search's stats. */
function gaugeSamples(stats: SearchStats) {
  const elasticsearch = stats.primary === 'elasticsearch' && stats.breaker !== 'open' ? 1 : 0;
  return {
    backend: [
      { labels: { backend: 'elasticsearch' }, value: elasticsearch },
      { labels: { backend: 'postgres' }, value: 1 - elasticsearch },
    ],
    breaker:
      stats.breaker === 'none' || !stats.primary
        ? []
        : [{ labels: { backend: stats.primary }, value: BREAKER_STATE[stats.breaker] }],
  };
}

const reasonOf = (err: unknown): FallbackReason => {
  const code = err && typeof err === 'object' && 'code' in err ? (err as { code: unknown }).code : undefined;
  return code === 'ETIMEDOUT' ? 'timeout' : code === 'EOPENBREAKER' ? 'open' : 'error';
};

export function createResilientSearch(opts: {
  primary: SearchBackend | null;
  fallback: SearchBackend;
  logger: Logger;
  breaker: BreakerOptions;
}): ResilientSearch {
  const { primary, fallback, logger } = opts;
  const fallbacks: Record<FallbackReason, number> = { timeout: 0, open: 0, error: 0 };
  const log = logger.child({ component: 'search-backend' });

  if (!primary) {
    const stats = (): SearchStats => ({ primary: fallback.name, breaker: 'none', fallbacks: { ...fallbacks } });
    const removeGauges = searchGauges.addSource(async () => gaugeSamples(stats()));
    return {
      searchStations: async (q, slice) => ({ hits: await fallback.searchStations(q, slice), servedBy: fallback.name }),
      searchTrains: async (q, slice) => ({ hits: await fallback.searchTrains(q, slice), servedBy: fallback.name }),
      stats,
      shutdown: removeGauges,
    };
  }

  const breaker = new CircuitBreaker<[() => Promise<void>], void>((task) => task(), {
    name: `search:${primary.name}`,
    timeout: opts.breaker.timeoutMs,
    resetTimeout: opts.breaker.resetTimeoutMs,
    errorThresholdPercentage: opts.breaker.errorThresholdPercentage ?? 50,
    volumeThreshold: opts.breaker.volumeThreshold ?? 5,
    rollingCountTimeout: 10_000,
  });
  breaker.on('open', () => log.warn({ fallbacks }, `${primary.name} circuit opened; answering from ${fallback.name}`));
  breaker.on('halfOpen', () => log.info(`${primary.name} circuit half-open; trying it again`));
  breaker.on('close', () => log.info(`${primary.name} circuit closed; answering from it again`));

  async function guarded<T>(primaryCall: () => Promise<T>, fallbackCall: () => Promise<T>): Promise<Served<T>> {
    let result: { hits: T } | undefined;
    try {
      await breaker.fire(async () => {
        result = { hits: await primaryCall() };
      });
      if (!result) throw new Error('circuit breaker resolved without calling the backend');
      return { hits: result.hits, servedBy: primary!.name };
    } catch (err) {
      const reason = reasonOf(err);
      fallbacks[reason]++;
      fallbackCount.inc({ reason });
      if (reason !== 'open')
        log.warn({ reason, err: (err as Error)?.message }, `${primary!.name} failed; answered from ${fallback.name}`);
      return { hits: await fallbackCall(), servedBy: 'postgres-fallback' };
    }
  }

  const stats = (): SearchStats => ({
    primary: primary.name,
    breaker: breaker.opened ? 'open' : breaker.halfOpen ? 'half-open' : 'closed',
    fallbacks: { ...fallbacks },
  });
  // Read at scrape time from the breaker itself: nothing to keep in step on the search path.
  const removeGauges = searchGauges.addSource(async () => gaugeSamples(stats()));
  return {
    searchStations: (q, slice) =>
      guarded(
        () => primary.searchStations(q, slice),
        () => fallback.searchStations(q, slice),
      ),
    searchTrains: (q, slice) =>
      guarded(
        () => primary.searchTrains(q, slice),
        () => fallback.searchTrains(q, slice),
      ),
    stats,
    shutdown: () => {
      removeGauges();
      breaker.shutdown();
    },
  };
}
