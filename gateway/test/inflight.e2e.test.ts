// Identical queries in flight at once run once (gateway/src/sharedExecutions.ts) and identical
// subgraph fetches are sent once (gateway/src/inflight.ts), through the whole supergraph. A
// holding proxy in front of auth, search and booking records what each subgraph receives and
// keeps requests until every client request has reached the gateway's executor (its counter says
// so): the burst really overlaps, whatever the machine's load.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayClient, type GatewayResult } from '../../test/support/graphql.ts';
import { scrape } from '../../test/support/metrics.ts';
import { startSupergraph, type RunningSupergraph } from '../../test/support/supergraph.ts';
import { waitFor } from '../../test/support/wait.ts';

type Subgraph = 'auth' | 'search' | 'booking';

/** A recording proxy in front of one subgraph: holds requests while `holding`, or fails them with a 503. */
interface HoldingProxy {
  url: string;
  /** Every request received: its bearer header and body. */
  seen: { authorization?: string; body: string }[];
  holding: boolean;
  failing: boolean;
  release(): void;
  close(): Promise<void>;
}

async function holdingProxy(target: string): Promise<HoldingProxy> {
  const held: (() => void)[] = [];
  const proxy: HoldingProxy = {
    url: '',
    seen: [],
    holding: false,
    failing: false,
    release: () => {
      proxy.holding = false;
      for (const forward of held.splice(0)) forward();
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      proxy.seen.push({ authorization: req.headers.authorization, body: body.toString('utf8') });
      const forward = async () => {
        if (proxy.failing) {
          res.writeHead(503, { 'content-type': 'text/plain' });
          res.end('unavailable');
          return;
        }
        const headers = Object.fromEntries(
          Object.entries(req.headers).filter(
            (e): e is [string, string] => typeof e[1] === 'string' && !['host', 'content-length'].includes(e[0]),
          ),
        );
        const answer = await fetch(target, { method: 'POST', headers, body });
        res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
        res.end(Buffer.from(await answer.arrayBuffer()));
      };
      if (proxy.holding) held.push(() => void forward());
      else void forward();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  return proxy;
}

let sg: RunningSupergraph;
const proxies = {} as Record<Subgraph, HoldingProxy>;
const gql = gatewayClient(() => sg.gatewayUrl);
let date: string;

const metrics = async () => scrape(sg.gatewayUrl.replace(/\/graphql$/, ''));
/** Fetches the gateway's data source for `subgraph` handled so far (sent or shared). */
const fetches = async (subgraph: Subgraph) =>
  (await metrics()).sum('tatkal_gateway_subgraph_fetches_total', { subgraph });
/** Client queries the gateway handled so far: executed, or shared with an identical one executing. */
const executions = async (shared?: 'true' | 'false') =>
  (await metrics()).sum('tatkal_gateway_query_executions_total', shared ? { shared } : {});

/** Waits until `count()` has grown by `n` since this was called. */
async function growth(what: string, count: () => Promise<number>) {
  const before = await count();
  return (n: number) => waitFor(what, async () => (await count()) - before >= n);
}

/**
 * Sends `n` requests at once while the proxies of `path` hold, and releases them only once all n
 * have reached the gateway's executor: they really overlap, whatever the machine's load. With
 * `fetchesPerSubgraph`, each proxy in turn also waits for that many fetches at its data source.
 */
async function burst(n: number, send: (i: number) => Promise<GatewayResult>, path: Subgraph[], fetchesPerSubgraph = 0) {
  const arrived = await growth(`${n} queries at the executor`, () => executions());
  const fetched = await Promise.all(path.map((s) => growth(`fetches at the ${s} data source`, () => fetches(s))));
  for (const subgraph of path) proxies[subgraph].holding = true;
  const answers = Promise.all(Array.from({ length: n }, (_, i) => send(i)));
  await arrived(n);
  for (const [i, subgraph] of path.entries()) {
    await fetched[i]!(fetchesPerSubgraph);
    proxies[subgraph].release();
  }
  return answers;
}

const TRAINS_BETWEEN = `query($from: String!, $to: String!, $date: Date!) {
  trainsBetween(from: $from, to: $to, date: $date) { number run { id availability(from: $from, to: $to) { code } } }
}`;
const crossQuery = (text = TRAINS_BETWEEN) => gql(text, { from: 'MMCT', to: 'NDLS', date });

async function register() {
  const res = await gql(`mutation($input: RegisterInput!) { register(input: $input) { user { id } accessToken } }`, {
    input: { email: `dedup-${randomUUID()}@example.com`, password: 'a long enough passphrase', name: 'Dedup' },
  });
  expect(res.errors).toBeUndefined();
  return res.data!.register as { user: { id: string }; accessToken: string };
}

beforeAll(async () => {
  sg = await startSupergraph(
    'e2e_inflight',
    {},
    {
      gatewayRoute: async (name, url) => {
        if (name === 'payment') return url;
        proxies[name] = await holdingProxy(url);
        return proxies[name].url;
      },
    },
  );
  const run = await sg.db.prisma.trainRun.findFirstOrThrow({
    where: { train: { number: '12951' }, date: { gte: new Date(Date.now()) } },
    orderBy: { date: 'asc' },
  });
  date = run.date.toISOString().slice(0, 10);
});
afterAll(async () => {
  await sg?.stop();
  for (const proxy of Object.values(proxies)) await proxy.close();
});

describe('identical queries in flight through the gateway', () => {
  it('runs 20 identical cross-subgraph queries once: search and booking asked once, all get the answer', async () => {
    const alone = await crossQuery();
    expect(alone.errors).toBeUndefined();
    expect(alone.data!.trainsBetween.some((t: { run: unknown }) => t.run)).toBe(true);
    const search = proxies.search.seen.length;
    const booking = proxies.booking.seen.length;
    const shared = await growth('shared executions', () => executions('true'));

    const answers = await burst(20, () => crossQuery(), ['search', 'booking']);
    expect(proxies.search.seen.length - search).toBe(1);
    expect(proxies.booking.seen.length - booking).toBe(1);
    await shared(19);
    for (const answer of answers) expect(answer).toEqual(alone);
  });

  it('sends the identical subgraph fetches of two different client queries once', async () => {
    // Two texts of one query (whitespace apart): two executions, the same fetch to each subgraph.
    const texts = [TRAINS_BETWEEN, TRAINS_BETWEEN.replace(/\n/g, ' ')];
    const alone = await crossQuery();
    const search = proxies.search.seen.length;
    const booking = proxies.booking.seen.length;
    const executed = await growth('executions', () => executions('false'));

    const answers = await burst(20, (i) => crossQuery(texts[i % 2]), ['search', 'booking'], 2);
    await executed(2);
    expect(proxies.search.seen.length - search).toBe(1);
    expect(proxies.booking.seen.length - booking).toBe(1);
    for (const answer of answers) expect(answer).toEqual(alone);
  });

  it("never merges two users' queries, nor a user's with an anonymous one: each gets their own data", async () => {
    const [asha, ravi] = [await register(), await register()];
    const seen = proxies.auth.seen.length;
    const callers = [asha.accessToken, ravi.accessToken, undefined];
    const answers = await burst(30, (i) => gql('{ me { id } }', {}, callers[i % 3]), ['auth']);

    // One fetch per caller, each with that caller's token (none for the anonymous one).
    expect(proxies.auth.seen.slice(seen).map((r) => r.authorization ?? 'anonymous')).toEqual(
      expect.arrayContaining([`Bearer ${asha.accessToken}`, `Bearer ${ravi.accessToken}`, 'anonymous']),
    );
    expect(proxies.auth.seen.length - seen).toBe(3);
    answers.forEach((answer, i) => {
      expect(answer.errors).toBeUndefined();
      expect(answer.data!.me).toEqual([{ id: asha.user.id }, { id: ravi.user.id }, null][i % 3]);
    });
  });

  it('never merges mutations: 8 identical registrations all reach auth, one succeeds', async () => {
    const seen = proxies.auth.seen.length;
    const input = { email: `dedup-${randomUUID()}@example.com`, password: 'a long enough passphrase', name: 'Same' };
    proxies.auth.holding = true;
    const answers = Promise.all(
      Array.from({ length: 8 }, () =>
        gql(`mutation($input: RegisterInput!) { register(input: $input) { user { id } } }`, { input }),
      ),
    );
    // Merged, they would stay one request at auth and this wait would time out.
    await waitFor('8 registrations at auth', () => proxies.auth.seen.length - seen >= 8);
    proxies.auth.release();
    const results = await answers;
    expect(proxies.auth.seen.length - seen).toBe(8);
    expect(results.filter((r) => r.data?.register).length).toBe(1);
    expect(results.filter((r) => r.errors?.length).length).toBe(7);
  });

  it("a subgraph's failure reaches every waiting caller, and the next query after it is sent again", async () => {
    const seen = proxies.search.seen.length;
    proxies.search.failing = true;
    const answers = await burst(10, () => crossQuery(), ['search']).finally(() => {
      proxies.search.failing = false;
    });
    expect(proxies.search.seen.length - seen).toBe(1);
    for (const answer of answers) {
      expect(answer.data).toBeNull();
      expect(answer.errors?.[0]?.message).toContain('503');
    }
    // Nothing is kept once an answer (here a failure) is in: the next query asks search again.
    const next = await crossQuery();
    expect(proxies.search.seen.length - seen).toBe(2);
    expect(next.errors).toBeUndefined();
  });
});
