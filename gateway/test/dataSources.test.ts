// The gateway's subgraph connections: warm keep-alive sockets are reused across requests, the
// pool is bounded, and only the headers the gateway vouches for are sent.
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
const seen: IncomingHttpHeaders[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.headers);
    inFlight++;
    maxOpenRequests = Math.max(maxOpenRequests, inFlight);
    req.resume();
    // A little latency, so concurrent requests really overlap.
    setTimeout(() => {
      inFlight--;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ data: { __typename: 'Query' } }));
    }, 20);
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
  seen.length = 0;
});

describe('subgraph data source', () => {
  it('sends 30 sequential requests over one kept-alive connection', async () => {
    const source = subgraphDataSource(url);
    for (let i = 0; i < 30; i++) expect((await source.process({ kind: HEALTH_CHECK, request: { query: '{ __typename }' }, context: {} })).data).toEqual({ __typename: 'Query' });
    expect(connections).toBe(1);
    source.agent.destroy();
  });

  it('opens at most maxSockets connections however many requests run at once, and reuses them', async () => {
    const source = subgraphDataSource(url, { maxSockets: 4 });
    const burst = () => Promise.all(Array.from({ length: 40 }, () => source.process({ kind: HEALTH_CHECK, request: { query: '{ __typename }' }, context: {} })));
    await burst();
    expect(connections).toBe(4);
    expect(maxOpenRequests).toBe(4);
    await burst();
    expect(connections).toBe(4);
    source.agent.destroy();
  });

  it('forwards the request id, the verified token and the socket address, never anything else', async () => {
    const source = subgraphDataSource(url);
    await source.process({
      kind: HEALTH_CHECK,
      request: { query: '{ __typename }' },
      context: { requestId: 'req-42', authorization: 'Bearer verified', clientIp: '203.0.113.9' },
    });
    expect(seen[0]).toMatchObject({ 'x-request-id': 'req-42', authorization: 'Bearer verified', 'x-forwarded-for': '203.0.113.9', connection: 'keep-alive' });
    await source.process({ kind: HEALTH_CHECK, request: { query: '{ __typename }' }, context: {} });
    expect(seen[1]).not.toHaveProperty('authorization');
    expect(seen[1]).not.toHaveProperty('x-forwarded-for');
    source.agent.destroy();
  });
});
