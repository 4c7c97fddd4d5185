// The circuit breaker around Elasticsearch, with fake Elasticsearch clients (no server can run
// here) and a stub in place of PostgreSQL: which engine answers, when, and what is counted.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { estypes } from '@elastic/elasticsearch';
import { metricsRegistry } from '@tatkal/common';
import { createElasticsearchBackend, type EsSearchClient } from '../src/backends/elasticsearch.ts';
import type { StationSource } from '../src/backends/elasticsearchQueries.ts';
import { createResilientSearch, type Served } from '../src/backends/resilient.ts';
import type { SearchBackend, StationResult } from '../src/backends/types.ts';
import { normalizeQuery } from '../src/domain/text.ts';
import { testLogger } from '../../../test/support/logger.ts';
import { parseMetrics } from '../../../test/support/metrics.ts';

const pgHit: StationResult = {
  code: 'MAS',
  name: 'Chennai Central',
  city: 'Chennai',
  state: 'Tamil Nadu',
  aliases: ['Madras'],
  score: 9,
  highlights: [],
};
const postgresStub: SearchBackend = {
  name: 'postgres',
  searchStations: async () => [pgHit],
  searchTrains: async () => [],
};

function fakeEs(behaviour: 'ok' | 'throw' | 'hang') {
  const calls: estypes.SearchRequest[] = [];
  const client: EsSearchClient = {
    search: <T>(request: estypes.SearchRequest) => {
      calls.push(request);
      if (behaviour === 'throw') return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:9200'));
      if (behaviour === 'hang') return new Promise<estypes.SearchResponse<T>>(() => {});
      const source: StationSource = {
        code: 'MAS',
        name: 'Chennai Central',
        city: 'Chennai',
        state: 'Tamil Nadu',
        aliases: ['Madras', 'Madras Central'],
      };
      const response = {
        took: 1,
        timed_out: false,
        _shards: { total: 1, successful: 1, failed: 0 },
        hits: { hits: [{ _index: 'stations_v1', _id: 'MAS', _score: 12.34567, _source: source }] },
      };
      return Promise.resolve(response as estypes.SearchResponse<T>);
    },
  };
  return { client, calls };
}

const q = normalizeQuery('madras');
const slice = { offset: 0, size: 5 };
const breaker = { timeoutMs: 50, resetTimeoutMs: 150, volumeThreshold: 2, errorThresholdPercentage: 50 };

describe('resilient search', () => {
  // The breaker's time-out and reset are timers: tests that wait for them run on fake time.
  afterEach(() => {
    vi.useRealTimers();
  });

  it('answers from Elasticsearch while it is healthy, with highlights computed from the document', async () => {
    const es = fakeEs('ok');
    const search = createResilientSearch({
      primary: createElasticsearchBackend(es.client),
      fallback: postgresStub,
      logger: testLogger,
      breaker,
    });
    const res = await search.searchStations(q, slice);
    expect(res).toEqual({
      servedBy: 'elasticsearch',
      hits: [
        {
          code: 'MAS',
          name: 'Chennai Central',
          city: 'Chennai',
          state: 'Tamil Nadu',
          aliases: ['Madras', 'Madras Central'],
          score: 12.3457,
          highlights: [{ field: 'alias', value: 'Madras', start: 0, length: 6 }],
        },
      ],
    });
    expect(es.calls[0]!.index).toBe('stations');
    expect(search.stats()).toEqual({
      primary: 'elasticsearch',
      breaker: 'closed',
      fallbacks: { timeout: 0, open: 0, error: 0 },
    });
    search.shutdown();
  });

  it('falls back to PostgreSQL when Elasticsearch throws, and counts it', async () => {
    const search = createResilientSearch({
      primary: createElasticsearchBackend(fakeEs('throw').client),
      fallback: postgresStub,
      logger: testLogger,
      breaker,
    });
    expect(await search.searchStations(q, slice)).toEqual({ servedBy: 'postgres-fallback', hits: [pgHit] });
    expect(search.stats().fallbacks).toEqual({ timeout: 0, open: 0, error: 1 });
    search.shutdown();
  });

  it('falls back within the time-out when Elasticsearch hangs', async () => {
    vi.useFakeTimers();
    const search = createResilientSearch({
      primary: createElasticsearchBackend(fakeEs('hang').client),
      fallback: postgresStub,
      logger: testLogger,
      breaker,
    });
    let answer: Served<StationResult[]> | undefined;
    const answered = search.searchStations(q, slice).then((res) => (answer = res));
    await vi.advanceTimersByTimeAsync(breaker.timeoutMs - 1);
    expect(answer).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(await answered).toEqual({ servedBy: 'postgres-fallback', hits: [pgHit] });
    expect(search.stats().fallbacks.timeout).toBe(1);
    search.shutdown();
  });

  it('opens after repeated failures (Elasticsearch no longer called), then half-opens, closes on success', async () => {
    vi.useFakeTimers();
    let behaviour: 'ok' | 'throw' = 'throw';
    const failing = fakeEs('throw');
    const healthy = fakeEs('ok');
    const client: EsSearchClient = {
      search: (request) => (behaviour === 'throw' ? failing.client.search(request) : healthy.client.search(request)),
    };
    const search = createResilientSearch({
      primary: createElasticsearchBackend(client),
      fallback: postgresStub,
      logger: testLogger,
      breaker,
    });
    await search.searchStations(q, slice);
    await search.searchStations(q, slice);
    expect(search.stats().breaker).toBe('open');
    const res = await search.searchStations(q, slice);
    expect(res.servedBy).toBe('postgres-fallback');
    expect(failing.calls).toHaveLength(2);
    expect(search.stats().fallbacks).toEqual({ timeout: 0, open: 1, error: 2 });

    behaviour = 'ok';
    await vi.advanceTimersByTimeAsync(breaker.resetTimeoutMs - 1);
    expect(search.stats().breaker).toBe('open');
    await vi.advanceTimersByTimeAsync(1);
    expect(search.stats().breaker).toBe('half-open');
    expect((await search.searchStations(q, slice)).servedBy).toBe('elasticsearch');
    expect(search.stats().breaker).toBe('closed');
    search.shutdown();
  });

  it('without Elasticsearch answers from PostgreSQL as the primary engine', async () => {
    const search = createResilientSearch({ primary: null, fallback: postgresStub, logger: testLogger, breaker });
    expect(await search.searchStations(q, slice)).toEqual({ servedBy: 'postgres', hits: [pgHit] });
    expect(search.stats()).toEqual({
      primary: 'postgres',
      breaker: 'none',
      fallbacks: { timeout: 0, open: 0, error: 0 },
    });
    const m = parseMetrics(await metricsRegistry.metrics());
    expect(m.find('tatkal_search_backend').map((s) => [s.labels.backend, s.value])).toEqual([
      ['elasticsearch', 0],
      ['postgres', 1],
    ]);
    expect(m.find('tatkal_search_breaker_state')).toEqual([]);
    search.shutdown();
  });

  it('reports as metrics the engine, breaker state (0 closed, 1 half-open, 2 open), fallbacks by reason', async () => {
    vi.useFakeTimers();
    let behaviour: 'ok' | 'throw' = 'throw';
    const failing = fakeEs('throw');
    const healthy = fakeEs('ok');
    const client: EsSearchClient = {
      search: (request) => (behaviour === 'throw' ? failing.client.search(request) : healthy.client.search(request)),
    };
    const search = createResilientSearch({
      primary: createElasticsearchBackend(client),
      fallback: postgresStub,
      logger: testLogger,
      breaker,
    });
    const read = async () => {
      const m = parseMetrics(await metricsRegistry.metrics());
      return {
        backend: Object.fromEntries(m.find('tatkal_search_backend').map((s) => [s.labels.backend, s.value])),
        breaker: m.sum('tatkal_search_breaker_state'),
        fallbacks: {
          error: m.sum('tatkal_search_fallbacks_total', { reason: 'error' }),
          open: m.sum('tatkal_search_fallbacks_total', { reason: 'open' }),
        },
      };
    };
    const before = (await read()).fallbacks;
    expect(await read()).toMatchObject({ backend: { elasticsearch: 1, postgres: 0 }, breaker: 0 });

    await search.searchStations(q, slice);
    await search.searchStations(q, slice);
    await search.searchStations(q, slice);
    expect(await read()).toEqual({
      backend: { elasticsearch: 0, postgres: 1 },
      breaker: 2,
      fallbacks: { error: before.error + 2, open: before.open + 1 },
    });

    behaviour = 'ok';
    await vi.advanceTimersByTimeAsync(breaker.resetTimeoutMs - 1);
    expect(search.stats().breaker).toBe('open');
    await vi.advanceTimersByTimeAsync(1);
    expect(await read()).toMatchObject({ backend: { elasticsearch: 1, postgres: 0 }, breaker: 1 });
    await search.searchStations(q, slice);
    expect(await read()).toMatchObject({ backend: { elasticsearch: 1, postgres: 0 }, breaker: 0 });

    // Shut down: its series go (no stale engine or breaker state).
    search.shutdown();
    expect(await read()).toMatchObject({ backend: {}, breaker: 0 });
    expect(parseMetrics(await metricsRegistry.metrics()).find('tatkal_search_breaker_state')).toEqual([]);
  });
});
