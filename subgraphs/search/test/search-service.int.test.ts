// The real search process wiring with Elasticsearch configured but unreachable (nothing listens
// on 127.0.0.1:1): it starts, serves, and PostgreSQL answers with the fallback marked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSearchConfig } from '../src/config.ts';
import { startSearchService } from '../src/service.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { testLogger } from '../../../test/support/logger.ts';
import { scrape } from '../../../test/support/metrics.ts';

let db: TestDatabase;
let service: Awaited<ReturnType<typeof startSearchService>>;

beforeAll(async () => {
  db = await createTestDatabase('search_service');
  service = await startSearchService(
    loadSearchConfig({
      NODE_ENV: 'test',
      PORT: '0',
      DATABASE_URL: db.url,
      AUTH_JWKS_URL: 'http://127.0.0.1:1/.well-known/jwks.json',
      ELASTICSEARCH_URL: 'http://127.0.0.1:1',
      ES_TIMEOUT_MS: '300',
      EVENTS_ENABLED: 'false',
      LOG_LEVEL: 'silent',
    }),
    testLogger,
  );
});
afterAll(async () => {
  await service?.close();
  await db?.drop();
});

async function post(query: string) {
  const res = await fetch(`${service.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
  return {
    status: res.status,
    body: (await res.json()) as {
      data?: Record<string, unknown>;
      errors?: unknown[];
      extensions?: Record<string, unknown>;
    },
  };
}

describe('search service with Elasticsearch down', () => {
  it('is ready (Elasticsearch is not a readiness condition) and answers from PostgreSQL, saying so', async () => {
    expect((await fetch(`${service.url}/ready`)).status).toBe(200);
    const { status, body } = await post(
      `{
        searchStations(query: "gurgaon", first: 1) { station { code } }
        searchTrains(query: "12951", first: 1) { number }
      }`,
    );
    expect(status).toBe(200);
    expect(body).toEqual({
      data: { searchStations: [{ station: { code: 'GGN' } }], searchTrains: [{ number: '12951' }] },
      extensions: { searchBackend: 'postgres-fallback' },
    });
    expect(service.search.stats().primary).toBe('elasticsearch');
    expect(service.search.stats().fallbacks.error).toBe(2);

    // The same on /metrics: two fallbacks (error), the breaker still closed after two failures
    // (it needs 5 calls), so Elasticsearch is still the engine tried first.
    const m = await scrape(service.url);
    expect(m.sum('tatkal_search_fallbacks_total', { reason: 'error' })).toBe(2);
    expect(m.find('tatkal_search_breaker_state').map((s) => [s.labels.backend, s.value])).toEqual([
      ['elasticsearch', 0],
    ]);
    expect(m.sum('tatkal_search_backend', { backend: 'elasticsearch' })).toBe(1);
    expect(
      m.sum('tatkal_graphql_operations_total', { operation_name: 'anonymous', operation_type: 'query', outcome: 'ok' }),
    ).toBe(1);
    expect(m.sum('tatkal_http_requests_total', { method: 'POST', route: '/graphql', status_code: '200' })).toBe(1);
  });
});
