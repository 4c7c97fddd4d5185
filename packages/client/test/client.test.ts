// The client's protocol against a scripted HTTP endpoint (the real gateway: client.e2e.test.ts):
// what it sends, and what it does with TRY_AGAIN, IDEMPOTENCY_IN_PROGRESS, a refused token and a
// QUEUED reservation.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  documentHash,
  ReserveSeatsDocument,
  SearchStationsDocument,
  TatkalClient,
  TatkalError,
  type ReserveSeatsInput,
} from '../src/index.ts';

interface Received {
  at: number;
  headers: IncomingHttpHeaders;
  body: {
    query?: string;
    operationName?: string;
    variables?: Record<string, unknown>;
    extensions?: { persistedQuery?: { sha256Hash: string } };
  };
}
type Answer = { status?: number; headers?: Record<string, string>; body: unknown };

let server: Server;
let url: string;
let received: Received[];
let answer: (r: Received, i: number) => Answer;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = {
        at: performance.now(),
        headers: req.headers,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
      };
      received.push(r);
      const a = answer(r, received.length - 1);
      res.writeHead(a.status ?? 200, { 'content-type': 'application/json', ...a.headers }).end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/graphql`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  received = [];
});

const error = (code: string, extensions: Record<string, unknown> = {}) => ({
  errors: [{ message: code, extensions: { code, ...extensions } }],
  data: null,
});
const reservation = (status: string, extra: Record<string, unknown> = {}) => ({
  id: 'r1',
  pnr: '1234567890',
  status,
  refusalCode: null,
  queuePosition: null,
  estimatedWaitSeconds: null,
  class: 'SLEEPER',
  farePaise: 100,
  holdExpiresAt: null,
  passengers: [],
  ...extra,
});
const input: ReserveSeatsInput = {
  runId: 'run',
  from: 'A',
  to: 'B',
  class: 'SLEEPER',
  passengers: [{ name: 'Asha Rao', age: 34, gender: 'FEMALE' }],
};

describe('what the client sends', () => {
  it('a trusted document by its hash, without the text, with the bearer token', async () => {
    answer = () => ({ body: { data: { searchStations: [] } } });
    const client = new TatkalClient({ url, session: { accessToken: 'tok' } });
    expect(await client.searchStations('new del', 3)).toEqual([]);
    expect(received).toHaveLength(1);
    expect(received[0]!.body).toEqual({
      operationName: 'SearchStations',
      variables: { query: 'new del', first: 3 },
      extensions: { persistedQuery: { version: 1, sha256Hash: documentHash(SearchStationsDocument) } },
    });
    expect(received[0]!.headers.authorization).toBe('Bearer tok');
  });

  it("the operation's text in text mode, and no token without a session", async () => {
    answer = () => ({ body: { data: { searchStations: [] } } });
    await new TatkalClient({ url, documents: 'text' }).searchStations('ndls');
    expect(received[0]!.body.query).toMatch(/^query SearchStations\(/);
    expect(received[0]!.body.operationName).toBe('SearchStations');
    expect(received[0]!.body.extensions).toBeUndefined();
    expect(received[0]!.headers.authorization).toBeUndefined();
  });
});

describe('retries', () => {
  it('resends on TRY_AGAIN and IDEMPOTENCY_IN_PROGRESS after the hint, with the same idempotency key', async () => {
    answer = (_r, i) =>
      i === 0
        ? { body: error('TRY_AGAIN', { retryAfterMs: 300 }) }
        : i === 1
          ? { body: error('IDEMPOTENCY_IN_PROGRESS', { retryAfterMs: 200 }) }
          : { body: { data: { reserveSeats: reservation('HELD') } } };
    const client = new TatkalClient({ url, session: { accessToken: 'tok' } });
    const held = await client.reserve(input);
    expect(held.status).toBe('HELD');
    expect(received).toHaveLength(3);
    expect(received[1]!.body).toEqual(received[0]!.body);
    expect(received[2]!.body).toEqual(received[0]!.body);
    expect(received[0]!.body.variables!.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    expect(received[1]!.at - received[0]!.at).toBeGreaterThanOrEqual(290);
    expect(received[2]!.at - received[1]!.at).toBeGreaterThanOrEqual(190);
  });

  it('falls back to Retry-After without a hint, and gives up with the code after the attempts', async () => {
    answer = () => ({ status: 503, headers: { 'retry-after': '0' }, body: error('TRY_AGAIN') });
    const client = new TatkalClient({ url, retry: { attempts: 3 } });
    const err = await client.reserve(input, { idempotencyKey: 'k-1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TatkalError);
    expect(err).toMatchObject({ code: 'TRY_AGAIN', status: 503, retryAfterMs: 0 });
    expect(received.map((r) => r.body.variables!.idempotencyKey)).toEqual(['k-1', 'k-1', 'k-1']);
  });

  it('never retries an outcome (SOLD_OUT), nor anything with retry: false', async () => {
    answer = () => ({ body: error('SOLD_OUT') });
    await expect(new TatkalClient({ url }).reserve(input)).rejects.toMatchObject({ code: 'SOLD_OUT' });
    expect(received).toHaveLength(1);
    answer = () => ({ body: error('TRY_AGAIN', { retryAfterMs: 1 }) });
    await expect(new TatkalClient({ url }).reserve(input, { retry: false })).rejects.toMatchObject({
      code: 'TRY_AGAIN',
    });
    expect(received).toHaveLength(2);
  });
});

describe('the session', () => {
  const session = (n: number) => ({
    user: { id: 'u', email: 'a@b.c', name: 'A', role: 'CUSTOMER' as const },
    accessToken: `access-${n}`,
    accessTokenExpiresAt: new Date(Date.now() + 900_000).toISOString(),
    refreshToken: `refresh-${n}`,
    refreshTokenExpiresAt: new Date(Date.now() + 86_400_000).toISOString(),
  });

  it('on HTTP 401 refreshes once for all requests in flight and resends each with the new token', async () => {
    answer = (r) => {
      if (r.body.operationName === 'RefreshSession') return { body: { data: { refreshSession: session(2) } } };
      return r.headers.authorization === 'Bearer access-2'
        ? { body: { data: { searchStations: [] } } }
        : { status: 401, body: error('UNAUTHENTICATED') };
    };
    const saved: unknown[] = [];
    const client = new TatkalClient({ url, session: { ...session(1) }, onSession: (s) => saved.push(s?.accessToken) });
    await Promise.all([client.searchStations('a'), client.searchStations('b'), client.searchStations('c')]);
    const refreshes = received.filter((r) => r.body.operationName === 'RefreshSession');
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0]!.body.variables).toEqual({ refreshToken: 'refresh-1' });
    expect(refreshes[0]!.headers.authorization).toBeUndefined();
    expect(saved).toEqual(['access-2']);
    expect(client.session?.refreshToken).toBe('refresh-2');
    expect(received.filter((r) => r.headers.authorization === 'Bearer access-2')).toHaveLength(3);
  });

  it('refreshes before a request when the access token is about to expire', async () => {
    answer = (r) =>
      r.body.operationName === 'RefreshSession'
        ? { body: { data: { refreshSession: session(3) } } }
        : { body: { data: { searchStations: [] } } };
    const client = new TatkalClient({
      url,
      session: { ...session(1), accessTokenExpiresAt: new Date(Date.now() + 5_000).toISOString() },
    });
    await client.searchStations('a');
    expect(received.map((r) => [r.body.operationName, r.headers.authorization])).toEqual([
      ['RefreshSession', undefined],
      ['SearchStations', 'Bearer access-3'],
    ]);
  });

  it('forgets a session whose refresh token is refused, and says UNAUTHENTICATED', async () => {
    answer = (r) =>
      r.body.operationName === 'RefreshSession'
        ? { body: error('UNAUTHENTICATED') }
        : { status: 401, body: error('UNAUTHENTICATED') };
    const client = new TatkalClient({ url, session: session(1) });
    await expect(client.searchStations('a')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(client.session).toBeNull();
  });
});

describe('the queue', () => {
  it('polls a QUEUED reservation by its PNR until the queue decides', async () => {
    answer = (r, i) => {
      if (r.body.operationName === 'ReserveSeats')
        return {
          body: { data: { reserveSeats: reservation('QUEUED', { queuePosition: 3, estimatedWaitSeconds: 0 }) } },
        };
      return {
        body: {
          data: {
            reservation:
              i < 3 ? reservation('QUEUED', { queuePosition: 3 - i, estimatedWaitSeconds: 0 }) : reservation('HELD'),
          },
        },
      };
    };
    const client = new TatkalClient({ url, poll: { minIntervalMs: 20 } });
    const first = await client.reserve(input, { wait: false });
    expect(first.status).toBe('QUEUED');
    received = [];
    const final = await client.reserve(input);
    expect(final.status).toBe('HELD');
    expect(received.map((r) => r.body.operationName)).toEqual([
      'ReserveSeats',
      'ReservationStatus',
      'ReservationStatus',
      'ReservationStatus',
    ]);
    expect(received.slice(1).map((r) => r.body.variables)).toEqual(Array(3).fill({ pnr: '1234567890' }));
    expect(received[0]!.body.extensions!.persistedQuery!.sha256Hash).toBe(documentHash(ReserveSeatsDocument));
  });

  it('returns the reservation still QUEUED when the poll times out', async () => {
    answer = (r) => ({
      body: {
        data:
          r.body.operationName === 'ReserveSeats'
            ? { reserveSeats: reservation('QUEUED', { estimatedWaitSeconds: 0 }) }
            : { reservation: reservation('QUEUED', { estimatedWaitSeconds: 0 }) },
      },
    });
    const client = new TatkalClient({ url, poll: { minIntervalMs: 20, timeoutMs: 100 } });
    expect((await client.reserve(input)).status).toBe('QUEUED');
  });

  it('reports every answer to onProgress: the waiting room, the moving position, the outcome', async () => {
    answer = (r, i) => {
      if (r.body.operationName === 'ReserveSeats')
        return { body: { data: { reserveSeats: reservation('QUEUED', { estimatedWaitSeconds: 0 }) } } };
      return {
        body: {
          data: {
            reservation:
              i < 3 ? reservation('QUEUED', { queuePosition: 3 - i, estimatedWaitSeconds: 0 }) : reservation('HELD'),
          },
        },
      };
    };
    const client = new TatkalClient({ url, poll: { minIntervalMs: 20 } });
    const seen: (number | string | null)[] = [];
    const final = await client.reserve(input, {
      onProgress: (r) => seen.push(r.status === 'QUEUED' ? r.queuePosition : r.status),
    });
    expect(final.status).toBe('HELD');
    expect(seen).toEqual([null, 2, 1, 'HELD']);
  });

  it('stops polling when its signal aborts: rejects with the reason, sends nothing more', async () => {
    answer = (r) => ({
      body: {
        data:
          r.body.operationName === 'ReserveSeats'
            ? { reserveSeats: reservation('QUEUED', { estimatedWaitSeconds: 0 }) }
            : { reservation: reservation('QUEUED', { queuePosition: 5, estimatedWaitSeconds: 0 }) },
      },
    });
    const client = new TatkalClient({ url, poll: { minIntervalMs: 20 } });
    const controller = new AbortController();
    const waiting = client.reserve(input, {
      signal: controller.signal,
      onProgress: (r) => {
        if (r.queuePosition === 5) controller.abort(new Error('screen closed'));
      },
    });
    await expect(waiting).rejects.toThrow('screen closed');
    const sent = received.length;
    expect(received.map((r) => r.body.operationName)).toEqual(['ReserveSeats', 'ReservationStatus']);
    // Nothing is sent after the abort, however long we look.
    await new Promise((r) => setTimeout(r, 100));
    expect(received.length).toBe(sent);
  });

  it('an already aborted signal sends nothing', async () => {
    answer = () => ({ body: { data: { reserveSeats: reservation('HELD') } } });
    const client = new TatkalClient({ url });
    await expect(client.reserve(input, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    expect(received).toEqual([]);
  });
});
