// The gateway's subgraph connections: warm keep-alive sockets are reused across requests, the
// pool is bounded, only the headers the gateway vouches for are sent, and failures are shaped as
// Apollo's RemoteGraphQLDataSource shapes them.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { subgraphDataSource } from '../src/dataSources.ts';

// HEALTH_CHECK (the enum is not exported from the package root).
const HEALTH_CHECK = 'health check' as never;

let server: Server;
let url: string;
let connections = 0;
let open = 0;
let maxOpenRequests = 0;
let inFlight = 0;
/**
 * Answers are held until this many requests are open at once, then all released together: a
 * burst really overlaps, whatever the timing (1: every request is answered at once).
 */
let answerWhenOpen = 1;
const held: (() => void)[] = [];
const seen: IncomingHttpHeaders[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.headers);
    if (req.url === '/refuse') {
      req.resume();
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          errors: [{ message: 'Invalid identity assertion', extensions: { code: 'UNAUTHENTICATED' } }],
        }),
      );
      return;
    }
    if (req.url === '/bad-input') {
      req.resume();
      // What Apollo Server answers for a variable its scalar refuses.
      res.writeHead(400, { 'content-type': 'application/graphql-response+json; charset=utf-8' });
      res.end(
        JSON.stringify({
          errors: [{ message: 'Variable "$d" got invalid value "2026-13-45"', extensions: { code: 'BAD_USER_INPUT' } }],
        }),
      );
      return;
    }
    if (req.url === '/bad-gateway') {
      req.resume();
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>bad gateway</html>');
      return;
    }
    if (req.url === '/text') {
      req.resume();
      res.end('not json');
      return;
    }
    if (req.url === '/echo') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.setHeader('content-type', 'application/graphql-response+json; charset=utf-8');
        res.end(JSON.stringify({ data: { echo: JSON.parse(Buffer.concat(chunks).toString('utf8')) } }));
      });
      return;
    }
    inFlight++;
    maxOpenRequests = Math.max(maxOpenRequests, inFlight);
    req.resume();
    held.push(() => {
      inFlight--;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ data: { __typename: 'Query' } }));
    });
    if (inFlight >= answerWhenOpen) for (const answer of held.splice(0)) answer();
  });
  server.keepAliveTimeout = 65_000;
  server.on('connection', (socket) => {
    connections++;
    open++;
    socket.on('close', () => open--);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  connections = 0;
  maxOpenRequests = 0;
  answerWhenOpen = 1;
  seen.length = 0;
});

describe('subgraph data source', () => {
  it('sends 30 sequential requests over kept-alive connections (undici may open a second one meanwhile)', async () => {
    const source = subgraphDataSource(url);
    for (let i = 0; i < 30; i++)
      expect(
        (await source.process({ kind: HEALTH_CHECK, request: { query: '{ __typename }' }, context: {} })).data,
      ).toEqual({ __typename: 'Query' });
    expect(connections).toBeGreaterThanOrEqual(1);
    expect(connections).toBeLessThanOrEqual(2);
    await source.close();
  });

  it('opens at most maxSockets connections however many requests run at once, and reuses them', async () => {
    const source = subgraphDataSource(url, { maxSockets: 4 });
    // Answered four at a time: four requests must be open at once (and, with 4 sockets, no more).
    answerWhenOpen = 4;
    const burst = () =>
      Promise.all(
        Array.from({ length: 40 }, () =>
          source.process({ kind: HEALTH_CHECK, request: { query: '{ __typename }' }, context: {} }),
        ),
      );
    await burst();
    expect(connections).toBe(4);
    expect(maxOpenRequests).toBe(4);
    await burst();
    expect(connections).toBe(4);
    await source.close();
  });

  it('forwards the request id, verified token and signed assertion (with the client IP), nothing else', async () => {
    const source = subgraphDataSource(url);
    await source.process({
      kind: HEALTH_CHECK,
      request: { query: '{ __typename }' },
      context: {
        requestId: 'req-42',
        authorization: 'Bearer verified',
        identityAssertion: 'v2.claims.mac',
        clientIp: '203.0.113.9',
      },
    });
    expect(seen[0]).toMatchObject({
      'x-request-id': 'req-42',
      authorization: 'Bearer verified',
      'x-tatkal-identity': 'v2.claims.mac',
      'content-type': 'application/json',
    });
    // An unsigned address is worth nothing to a subgraph: none is sent.
    expect(seen[0]).not.toHaveProperty('x-forwarded-for');
    await source.process({ kind: HEALTH_CHECK, request: { query: '{ __typename }' }, context: {} });
    expect(seen[1]).not.toHaveProperty('authorization');
    expect(seen[1]).not.toHaveProperty('x-forwarded-for');
    expect(seen[1]).not.toHaveProperty('x-tatkal-identity');
    await source.close();
  });

  it('sends the query, variables, operation name and extensions as one JSON body', async () => {
    const source = subgraphDataSource(url.replace('/graphql', '/echo'));
    const request = {
      query: 'query Q($a: Int) { f(a: $a) }',
      variables: { a: 1 },
      operationName: 'Q',
      extensions: { persistedQuery: { version: 1 } },
    };
    expect((await source.process({ kind: HEALTH_CHECK, request, context: {} })).data).toEqual({ echo: request });
    await source.close();
  });

  it("passes a subgraph's GraphQL errors through whatever the HTTP status (400, 401), codes included", async () => {
    for (const [path, expected] of [
      [
        '/bad-input',
        {
          errors: [{ message: 'Variable "$d" got invalid value "2026-13-45"', extensions: { code: 'BAD_USER_INPUT' } }],
        },
      ],
      ['/refuse', { errors: [{ message: 'Invalid identity assertion', extensions: { code: 'UNAUTHENTICATED' } }] }],
    ] as const) {
      const source = subgraphDataSource(url.replace('/graphql', path));
      expect(await source.process({ kind: HEALTH_CHECK, request: { query: '{ __typename }' }, context: {} })).toEqual(
        expected,
      );
      await source.close();
    }
  });

  it("non-2xx without GraphQL body: RemoteGraphQLDataSource's error (status, body); non-JSON 200: error", async () => {
    const down = subgraphDataSource(url.replace('/graphql', '/bad-gateway'));
    const err = await down
      .process({ kind: HEALTH_CHECK, request: { query: '{ __typename }' }, context: {} })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({
      message: '502: Bad Gateway',
      extensions: { response: { status: 502, statusText: 'Bad Gateway', body: '<html>bad gateway</html>' } },
    });
    await down.close();
    const text = subgraphDataSource(url.replace('/graphql', '/text'));
    await expect(
      text.process({ kind: HEALTH_CHECK, request: { query: '{ __typename }' }, context: {} }),
    ).rejects.toThrow(/Expected JSON response body, but received: not json/);
    await text.close();
  });

  it('rejects when the subgraph cannot be reached', async () => {
    const down = subgraphDataSource('http://127.0.0.1:1/graphql');
    await expect(
      down.process({ kind: HEALTH_CHECK, request: { query: '{ __typename }' }, context: {} }),
    ).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await down.close();
  });
});
