// In production the gateway offers no Sandbox and no introspection, runs only trusted documents,
// and hides internal errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentHash, SeatMapDocument } from '@tatkal/client';
import { loadGatewayConfig } from '../gateway/src/config.ts';
import { startGatewayService } from '../gateway/src/service.ts';
import { REDIS_URL } from './support/env.ts';
import { testLogger } from './support/logger.ts';

let gateway: { url: string; metricsUrl: string | null; close: () => Promise<void> };

beforeAll(async () => {
  gateway = await startGatewayService(
    loadGatewayConfig({
      NODE_ENV: 'production',
      PORT: '0',
      METRICS_PORT: '0',
      REDIS_URL,
      AUTH_JWKS_URL: 'http://127.0.0.1:1/.well-known/jwks.json',
      SUPERGRAPH_PATH: new URL('../supergraph.graphql', import.meta.url).pathname,
      // Nothing listens here: a query that reaches a subgraph fails inside the gateway.
      BOOKING_URL: 'http://127.0.0.1:1/graphql',
    }),
    testLogger,
  );
});
afterAll(async () => {
  await gateway?.close();
});

const post = (body: unknown) =>
  fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

/** A trusted document's body: booking's seatMap by hash (booking is unreachable in this test). */
const seatMap = {
  operationName: 'SeatMap',
  variables: { runId: '00000000-0000-4000-8000-000000000000', coach: 'S1', from: 'MMCT', to: 'NDLS' },
  extensions: { persistedQuery: { version: 1, sha256Hash: documentHash(SeatMapDocument) } },
};

describe('gateway in production', () => {
  it('refuses introspection: as any text, before it is parsed', async () => {
    const res = await post({ query: '{ __schema { types { name } } }' });
    const json = (await res.json()) as { errors: { extensions: { code: string } }[] };
    expect(res.status).toBe(400);
    expect(json.errors[0]!.extensions.code).toBe('PERSISTED_QUERY_ID_REQUIRED');
  });

  it('serves no Sandbox landing page', async () => {
    const res = await fetch(`${gateway.url}/graphql`, { headers: { accept: 'text/html' } });
    const text = await res.text();
    expect(text).not.toMatch(/sandbox|embeddable-sandbox/i);
  });

  it('answers a failed subgraph call without stack traces or internal details', async () => {
    const res = await post(seatMap);
    const json = (await res.json()) as { errors: { message: string; extensions: Record<string, unknown> }[] };
    expect(json.errors.length).toBeGreaterThan(0);
    for (const e of json.errors) {
      expect(e.extensions.stacktrace).toBeUndefined();
      expect(JSON.stringify(e)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1:1|at .*\.ts:\d+/);
    }
  });

  it("serves /metrics on its internal metrics port only, counting the public port's requests", async () => {
    await post(seatMap);
    expect((await fetch(`${gateway.url}/metrics`)).status).toBe(404);
    expect(gateway.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(gateway.metricsUrl).not.toContain(new URL(gateway.url).port);
    const res = await fetch(gateway.metricsUrl!);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/tatkal_http_requests_total\{[^}]*route="\/graphql"[^}]*\} \d+/);
  });

  it('sets security headers', async () => {
    const res = await post(seatMap);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-powered-by')).toBeNull();
    expect(res.headers.get('content-security-policy')).toBeTruthy();
  });
});
