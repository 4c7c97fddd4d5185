// The metrics every process shares: GraphQL operation labels and their cardinality cap, HTTP
// route labels (patterns, never raw URLs), the /metrics route, and scrape-time gauges whose
// sources fail or hang. Real Apollo Server and Express, no network but loopback.
import { ApolloServer } from '@apollo/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMetrics } from '../../../test/support/metrics.ts';
import { AppError, ErrorCode } from './errors.ts';
import { express, listen, type HttpServer } from './http.ts';
import {
  graphqlMetricsPlugin,
  graphqlOperationDuration,
  graphqlOperations,
  initTelemetry,
  instrumentHttp,
  metricsRegistry,
  operationNameLabeller,
  scrapedGauges,
} from './telemetry.ts';

const typeDefs = `type Query { hello: String, fail: String, boom: String } type Mutation { touch: Boolean }`;
const resolvers = {
  Query: {
    hello: () => 'world',
    fail: () => {
      throw new AppError(ErrorCode.SOLD_OUT, 'nothing left');
    },
    boom: () => {
      throw new Error('a bug');
    },
  },
  Mutation: { touch: () => true },
};

async function countOf(labels: Record<string, string>): Promise<number> {
  const { values } = await graphqlOperations.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, val]) => (v.labels as Record<string, unknown>)[k] === val))
    .reduce((sum, v) => sum + v.value, 0);
}

describe('graphqlMetricsPlugin', () => {
  const servers: ApolloServer[] = [];
  async function serverWith(opts: Parameters<typeof graphqlMetricsPlugin>[0] = {}) {
    const server = new ApolloServer({ typeDefs, resolvers, plugins: [graphqlMetricsPlugin(opts)] });
    await server.start();
    servers.push(server);
    return (query: string) => server.executeOperation({ query });
  }
  afterAll(() => Promise.all(servers.map((s) => s.stop())));

  it('labels an operation by name, type and outcome ok, and times it', async () => {
    const run = await serverWith();
    await run('query Greeting { hello }');
    await run('mutation Touch { touch }');
    expect(await countOf({ operation_name: 'Greeting', operation_type: 'query', outcome: 'ok' })).toBe(1);
    expect(await countOf({ operation_name: 'Touch', operation_type: 'mutation', outcome: 'ok' })).toBe(1);
    const { values } = await graphqlOperationDuration.get();
    const count = values.find(
      (v) =>
        v.metricName === 'tatkal_graphql_operation_duration_seconds_count' && v.labels.operation_name === 'Greeting',
    );
    expect(count?.value).toBe(1);
  });

  it('names anonymous operations "anonymous" and an error outcome by the first error code', async () => {
    const run = await serverWith();
    await run('{ hello }');
    await run('query Failing { fail hello }');
    await run('query Broken { boom }');
    expect(await countOf({ operation_name: 'anonymous', operation_type: 'query', outcome: 'ok' })).toBe(1);
    expect(await countOf({ operation_name: 'Failing', operation_type: 'query', outcome: 'SOLD_OUT' })).toBe(1);
    expect(await countOf({ operation_name: 'Broken', outcome: 'INTERNAL_SERVER_ERROR' })).toBe(1);
  });

  it('counts a document that does not parse as type unknown with the parse error code', async () => {
    const run = await serverWith();
    await run('query Bad { hello');
    expect(await countOf({ operation_type: 'unknown', outcome: 'GRAPHQL_PARSE_FAILED' })).toBe(1);
  });

  it('keeps at most maxOperationNames names: later new names are "other", the first ones keep counting', async () => {
    const run = await serverWith({ maxOperationNames: 2 });
    const anonymousBefore = await countOf({ operation_name: 'anonymous' });
    for (const name of ['CapFirst', 'CapSecond', 'CapThird', 'CapFourth', 'CapFirst'])
      await run(`query ${name} { hello }`);
    await run('{ hello }');
    expect(await countOf({ operation_name: 'CapFirst' })).toBe(2);
    expect(await countOf({ operation_name: 'CapSecond' })).toBe(1);
    expect(await countOf({ operation_name: 'CapThird' })).toBe(0);
    expect(await countOf({ operation_name: 'CapFourth' })).toBe(0);
    expect(await countOf({ operation_name: 'other', operation_type: 'query', outcome: 'ok' })).toBe(2);
    // Anonymous operations take no slot.
    expect(await countOf({ operation_name: 'anonymous' })).toBe(anonymousBefore + 1);
  });
});

describe('operationNameLabeller', () => {
  it("strips the gateway's subgraph-fetch suffix, so a subgraph counts the client's name", () => {
    const label = operationNameLabeller();
    expect(label('Reserve__booking__0')).toBe('Reserve');
    expect(label('My__Op__search__12')).toBe('My__Op');
    expect(label(null)).toBe('anonymous');
    expect(label('')).toBe('anonymous');
  });

  it('turns names that are not plain GraphQL names, too long or not in the known list into "other"', () => {
    expect(operationNameLabeller()('x'.repeat(65))).toBe('other');
    expect(operationNameLabeller()('drop table;')).toBe('other');
    const known = operationNameLabeller({ knownOperationNames: ['Reserve'] });
    expect(known('Reserve')).toBe('Reserve');
    expect(known('Anything')).toBe('other');
  });
});

describe('HTTP metrics and /metrics', () => {
  let http: HttpServer;
  beforeAll(async () => {
    initTelemetry({ service: 'unit' });
    const app = express();
    instrumentHttp(app);
    app.get('/items/:id', (req, res) => void res.json({ id: req.params.id }));
    app.use('/mounted', (_req, res) => void res.status(202).end());
    http = await listen(app, 0, '127.0.0.1');
  });
  afterAll(() => http.close());

  it('labels requests by route pattern, mount path or "unmatched", never by the raw URL', async () => {
    await fetch(`${http.url}/items/42`);
    await fetch(`${http.url}/items/43`);
    await fetch(`${http.url}/mounted/deep/path`);
    await fetch(`${http.url}/nothing-here-7`);
    const res = await fetch(`${http.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const m = parseMetrics(text);
    expect(
      m.sum('tatkal_http_requests_total', { method: 'GET', route: '/items/:id', status_code: '200', service: 'unit' }),
    ).toBe(2);
    expect(m.sum('tatkal_http_requests_total', { route: '/mounted', status_code: '202' })).toBe(1);
    expect(m.sum('tatkal_http_requests_total', { route: 'unmatched', status_code: '404' })).toBe(1);
    expect(m.sum('tatkal_http_request_duration_seconds_count', { route: '/items/:id' })).toBe(2);
    expect(text).not.toMatch(/items\/4[23]|nothing-here|deep\/path/);
    // Default Node metrics under their standard names, with the service label.
    expect(m.find('process_cpu_user_seconds_total', { service: 'unit' })).toHaveLength(1);
    expect(m.types.get('nodejs_eventloop_lag_p99_seconds')).toBe('gauge');
  });
});

describe('scrapedGauges', () => {
  it('reports sources that answer in time; a failing or hanging one is absent and not waited for', async () => {
    const group = scrapedGauges(
      { depth: { name: 'tatkal_test_depth', help: 'test', labelNames: ['queue'] } },
      { timeoutMs: 100 },
    );
    const removeOk = group.addSource(async () => ({ depth: [{ labels: { queue: 'ok' }, value: 3 }] }));
    group.addSource(async () => {
      throw new Error('broker down');
    });
    group.addSource(() => new Promise(() => {}));
    const started = performance.now();
    const m = parseMetrics(await metricsRegistry.metrics());
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(m.find('tatkal_test_depth').map((s) => [s.labels.queue, s.value])).toEqual([['ok', 3]]);

    // A source removed (its consumer stopped) leaves no stale series behind.
    removeOk();
    expect(parseMetrics(await metricsRegistry.metrics()).find('tatkal_test_depth')).toEqual([]);
  });
});
