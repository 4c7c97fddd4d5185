// The whole supergraph over HTTP: gateway -> four subgraphs -> real PostgreSQL and Redis.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientError, GraphQLClient } from 'graphql-request';
import { createTestRun } from '../../subgraphs/booking/test/fixtures.ts';
import { scrape } from '../../test/support/metrics.ts';
import { startSupergraph, type RunningSupergraph } from '../../test/support/supergraph.ts';

let sg: RunningSupergraph;
let client: GraphQLClient;

beforeAll(async () => {
  sg = await startSupergraph('e2e_supergraph');
  client = new GraphQLClient(sg.gatewayUrl);
});
afterAll(async () => {
  await sg?.stop();
});

describe('supergraph through the gateway', () => {
  it('registers, then reads `me` with the issued token', async () => {
    const { register } = await client.request<{ register: { accessToken: string; user: { id: string } } }>(
      `mutation {
        register(input: { email: "e2e@example.com", password: "a long enough passphrase", name: "E2E" }) {
          accessToken user { id }
        }
      }`,
    );
    const me = await client.request<{ me: { id: string; email: string } }>(
      `{ me { id email } }`,
      {},
      { authorization: `Bearer ${register.accessToken}` },
    );
    expect(me.me).toEqual({ id: register.user.id, email: 'e2e@example.com' });
    const anonymous = await client.request<{ me: null }>(`{ me { id } }`);
    expect(anonymous.me).toBeNull();
  });

  it('answers a query that spans search and booking (Station fields from two subgraphs)', async () => {
    const data = await client.request<{
      searchStations: { station: { code: string; name: string; state: string; aliases: string[] } }[];
    }>(`{ searchStations(query: "bombay", limit: 3) { station { code name state aliases } } }`);
    expect(data.searchStations.length).toBeGreaterThan(0);
    const first = data.searchStations[0]!.station;
    expect(first.state).toBe('Maharashtra');
    expect(first.aliases.map((a) => a.toLowerCase())).toContain('bombay');
  });

  it('serves automatic persisted queries: a registered hash stands for its query', async () => {
    const query = `{ searchStations(query: "howrah", limit: 1) { station { code name } } }`;
    const sha256Hash = createHash('sha256').update(query).digest('hex');
    const post = async (body: object) =>
      (
        await fetch(sg.gatewayUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        })
      ).json() as Promise<{ data?: unknown; errors?: { extensions?: { code?: string } }[] }>;
    const persisted = { persistedQuery: { version: 1, sha256Hash } };
    expect((await post({ extensions: persisted })).errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    const full = await post({ query, extensions: persisted });
    expect(full.errors).toBeUndefined();
    // The hash alone now answers, and as a GET (cacheable by a CDN) too.
    expect(await post({ extensions: persisted })).toEqual(full);
    const get = await fetch(`${sg.gatewayUrl}?extensions=${encodeURIComponent(JSON.stringify(persisted))}`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(await get.json()).toEqual(full);
    // A hash that does not match its query is refused.
    expect((await post({ query: '{ __typename }', extensions: persisted })).errors?.[0]?.extensions?.code).toBe(
      'BAD_REQUEST',
    );
  });

  it('resolves a train run with its route and availability', async () => {
    const run = await sg.db.prisma.trainRun.findFirstOrThrow({
      where: { train: { number: '12951' } },
      orderBy: { date: 'asc' },
    });
    const date = run.date.toISOString().slice(0, 10);
    const data = await client.request<{
      trainRun: {
        id: string;
        train: { name: string; stops: { station: { code: string; aliases: string[] } }[] };
        availability: { code: string; availableBerths: number }[];
      };
    }>(
      `query($d: Date!) {
        trainRun(trainNumber: "12951", date: $d) {
          id train { name stops { station { code aliases } } }
          availability(from: "MMCT", to: "NDLS") { code availableBerths }
        }
      }`,
      { d: date },
    );
    expect(data.trainRun.id).toBe(run.id);
    expect(data.trainRun.train.stops[0]!.station.code).toBe('MMCT');
    // Station.aliases comes from the search subgraph: the plan crossed three subgraphs.
    expect(data.trainRun.train.stops.find((s) => s.station.code === 'MMCT')!.station.aliases.join(' ')).toMatch(
      /Bombay/i,
    );
    expect(data.trainRun.availability.map((a) => a.code)).toEqual(expect.arrayContaining(['1A', '2A', '3A']));
  });

  it('rejects a forged token with UNAUTHENTICATED and passes a request id through', async () => {
    const forged = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiIsInJvbGUiOiJBRE1JTiJ9.';
    const err = await client
      .request(`{ me { id } }`, {}, { authorization: `Bearer ${forged}` })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientError);
    expect((err as ClientError).response.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const res = await fetch(sg.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'req-e2e-123' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(res.headers.get('x-request-id')).toBe('req-e2e-123');
  });

  it('serves health, readiness and metrics on every process', async () => {
    for (const url of [
      sg.urls.auth,
      sg.urls.booking,
      sg.urls.search,
      sg.urls.payment,
      sg.urls.webhooks,
      sg.urls.provider,
      sg.gatewayUrl.replace('/graphql', ''),
    ]) {
      expect((await fetch(`${url}/health`)).status, url).toBe(200);
      expect((await fetch(`${url}/ready`)).status, url).toBe(200);
      const m = await scrape(url);
      expect(m.types.get('process_cpu_seconds_total'), url).toBe('counter');
      expect(m.types.get('tatkal_http_request_duration_seconds'), url).toBe('histogram');
      expect(
        m.sum('tatkal_http_requests_total', { method: 'GET', route: '/health', status_code: '200' }),
        url,
      ).toBeGreaterThan(0);
    }
    // The gateway is ready once its supergraph is loaded (it does not start otherwise); Redis
    // only backs rate limits, which fail open, so it is not a readiness condition.
    expect(await (await fetch(`${sg.gatewayUrl.replace('/graphql', '')}/ready`)).json()).toEqual({
      status: 'ready',
      checks: { supergraph: true },
    });
  });
});

describe('metrics after real operations', () => {
  it('counts a reservation and a sold-out one: booking outcomes, GraphQL outcomes at gateway and booking', async () => {
    const { register } = await client.request<{ register: { accessToken: string } }>(
      `mutation {
        register(input: { email: "metrics-e2e@example.com", password: "a long enough passphrase", name: "Metrics" }) {
          accessToken
        }
      }`,
    );
    const run = await createTestRun(sg.db.prisma, { coaches: 1, berthsPerCoach: 1 });
    const reserve = (operationName: string) =>
      fetch(sg.gatewayUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${register.accessToken}` },
        body: JSON.stringify({
          query: `mutation ${operationName}($input: ReserveSeatsInput!, $key: String!) {
            reserveSeats(input: $input, idempotencyKey: $key) { pnr status }
          }`,

          variables: {
            key: `${operationName}-${run.runId}`,
            input: {
              runId: run.runId,
              from: run.stations[0],
              to: run.stations[3],
              class: 'SLEEPER',
              allowWaitlist: false,
              passengers: [{ name: 'Meera Iyer', age: 41, gender: 'FEMALE' }],
            },
          },
        }),
      }).then(
        (r) =>
          r.json() as Promise<{
            data?: { reserveSeats: { status: string } } | null;
            errors?: { extensions?: { code?: string } }[];
          }>,
      );

    const before = await scrape(sg.urls.booking);
    const held = await reserve('MetricsReserve');
    expect(held.data?.reserveSeats.status).toBe('HELD');
    const soldOut = await reserve('MetricsReserveAgain');
    expect(soldOut.errors?.[0]?.extensions?.code).toBe('SOLD_OUT');
    const after = await scrape(sg.urls.booking);
    const delta = (name: string, labels: Record<string, string>) => after.sum(name, labels) - before.sum(name, labels);

    expect(delta('tatkal_reservation_outcomes_total', { outcome: 'held' })).toBe(1);
    expect(delta('tatkal_reservation_outcomes_total', { outcome: 'sold_out' })).toBe(1);
    // One registry in this test process: the gateway's count and booking's (its fetch is named
    // MetricsReserve__booking__0 and counted under the client's name) land on one series.
    expect(
      delta('tatkal_graphql_operations_total', {
        operation_name: 'MetricsReserve',
        operation_type: 'mutation',
        outcome: 'ok',
      }),
    ).toBe(2);
    expect(
      delta('tatkal_graphql_operations_total', {
        operation_name: 'MetricsReserveAgain',
        operation_type: 'mutation',
        outcome: 'SOLD_OUT',
      }),
    ).toBe(2);
    expect(after.find('tatkal_graphql_operations_total').some((s) => s.labels.operation_name!.includes('__'))).toBe(
      false,
    );
    expect(delta('tatkal_graphql_operation_duration_seconds_count', { operation_name: 'MetricsReserve' })).toBe(2);
    expect(
      delta('tatkal_http_requests_total', { method: 'POST', route: '/graphql', status_code: '200' }),
    ).toBeGreaterThanOrEqual(4);
  });
});
