// The data source's sharing of identical queries in flight (gateway/src/inflight.ts), against a
// small HTTP subgraph that holds every answer until the test releases it: what is sent once, what
// is never shared, and that nothing outlives the answer.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { GatewayContext } from '../src/context.ts';
import { subgraphDataSource } from '../src/dataSources.ts';
import { waitFor } from '../../test/support/wait.ts';

let server: Server;
let url: string;
/** Every request received (its body and bearer header), and the answers not yet sent. */
const received: { body: string; authorization?: string }[] = [];
const held: ((status: number, body: string) => void)[] = [];
let answered = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ body, authorization: req.headers.authorization });
      held.push((status, text) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(text);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  received.length = 0;
  answered = 0;
});

/** Answers every held request with this status and body (a counter in `data` tells the answers apart). */
function answerAll(status = 200, body?: string) {
  for (const answer of held.splice(0)) answer(status, body ?? JSON.stringify({ data: { n: ++answered } }));
}

const QUERY = 'query Trains__search__0($from:String!){trainsBetween(from:$from){number}}';
type Operation = 'query' | 'mutation';

function fetchOf(
  opts: { query?: string; variables?: Record<string, unknown>; operation?: Operation; token?: string } = {},
): GraphQLDataSourceProcessOptions<GatewayContext> {
  const context = {
    requestId: 'r',
    clientIp: '127.0.0.1',
    identity: opts.token ? { userId: opts.token, role: 'CUSTOMER', tokenId: `t-${opts.token}`, verified: false } : null,
    authorization: opts.token && `Bearer ${opts.token}`,
  } as GatewayContext;
  return {
    kind: 'incoming operation',
    request: { query: opts.query ?? QUERY, variables: opts.variables ?? { from: 'MMCT' }, operationName: 'Trains' },
    incomingRequestContext: { operation: { operation: opts.operation ?? 'query' } },
    context,
  } as never;
}

/** Starts `fetches` at once and waits until `sent` of them reached the subgraph; then answers them. */
async function together(
  source: ReturnType<typeof subgraphDataSource>,
  fetches: GraphQLDataSourceProcessOptions<GatewayContext>[],
  sent: number,
) {
  const results = Promise.allSettled(fetches.map((f) => source.process(f)));
  await waitFor(`${sent} requests at the subgraph`, () => received.length >= sent);
  return { results, answer: answerAll };
}

describe('identical queries in flight', () => {
  it('sends 10 identical queries once; each caller gets its own copy of the answer', async () => {
    const source = subgraphDataSource(url, { maxSockets: 8 }, 'search');
    const { results, answer } = await together(
      source,
      Array.from({ length: 10 }, () => fetchOf()),
      1,
    );
    answer();
    const answers = (await results).map((r) => (r.status === 'fulfilled' ? r.value : r.reason));
    expect(received.length).toBe(1);
    expect(answers).toEqual(Array.from({ length: 10 }, () => ({ data: { n: 1 } })));
    // The gateway merges later fetches into these objects: no two requests may hold the same one.
    expect(new Set(answers.map((a) => a.data)).size).toBe(10);
    await source.close();
  });

  it('sends queries that differ in variables, token or user separately', async () => {
    const source = subgraphDataSource(url, { maxSockets: 8 }, 'search');
    const fetches = [
      fetchOf(),
      fetchOf({ variables: { from: 'NDLS' } }),
      fetchOf({ token: 'asha' }),
      fetchOf({ token: 'ravi' }),
      fetchOf({ token: 'ravi' }),
    ];
    const { results, answer } = await together(source, fetches, 4);
    answer();
    const answers = (await results).map((r) => (r.status === 'fulfilled' ? r.value.data : r.reason));
    expect(received.map((r) => r.authorization ?? 'anonymous').sort()).toEqual([
      'Bearer asha',
      'Bearer ravi',
      'anonymous',
      'anonymous',
    ]);
    // The two of ravi share one answer; the other three have theirs.
    expect(answers[3]).toEqual(answers[4]);
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(4);
    await source.close();
  });

  it('never shares a mutation, nor any fetch of a mutation operation', async () => {
    const source = subgraphDataSource(url, { maxSockets: 8 }, 'booking');
    const mutation = 'mutation Reserve__booking__0($k:String!){reserveSeats(idempotencyKey:$k){id}}';
    const fetches = [
      ...Array.from({ length: 3 }, () => fetchOf({ query: mutation, variables: { k: 'same' }, operation: 'mutation' })),
      // A query fetch of a mutation's plan runs after the mutation: it must see its effects.
      ...Array.from({ length: 3 }, () => fetchOf({ operation: 'mutation' })),
    ];
    const { results, answer } = await together(source, fetches, 6);
    answer();
    expect((await results).every((r) => r.status === 'fulfilled')).toBe(true);
    expect(received.length).toBe(6);
    await source.close();
  });

  it('hands a failure to every waiting caller, then sends the next query again', async () => {
    const source = subgraphDataSource(url, { maxSockets: 8 }, 'search');
    const { results, answer } = await together(
      source,
      Array.from({ length: 5 }, () => fetchOf()),
      1,
    );
    answer(502, '<html>bad gateway</html>');
    const failures = await results;
    expect(received.length).toBe(1);
    for (const failure of failures) {
      expect(failure.status).toBe('rejected');
      expect((failure as PromiseRejectedResult).reason.message).toBe('502: Bad Gateway');
    }
    const next = source.process(fetchOf());
    await waitFor('the next query at the subgraph', () => received.length === 2);
    answerAll();
    expect(await next).toEqual({ data: { n: 1 } });
    await source.close();
  });

  it('sends every query itself with deduplicateQueries off', async () => {
    const source = subgraphDataSource(url, { maxSockets: 8, deduplicateQueries: false }, 'search');
    const { results, answer } = await together(
      source,
      Array.from({ length: 4 }, () => fetchOf()),
      4,
    );
    answer();
    expect((await results).every((r) => r.status === 'fulfilled')).toBe(true);
    expect(received.length).toBe(4);
    await source.close();
  });
});
