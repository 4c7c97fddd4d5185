// The per-IP window's two middlewares against the real Redis: which requests they count at once
// and which they leave to guardPlugin (counted there with the per-user windows, in one call).
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { NextFunction, Request, Response } from 'express';
import { describe, expect, it } from 'vitest';
import { createLogger, FixedWindowLimiter } from '@tatkal/common';
import { ipRateLimit, type IpWindow } from '../src/guards.ts';
import { redisForTests } from '../../test/support/redis.ts';
import { waitFor } from '../../test/support/wait.ts';

const logger = createLogger('ip-window-test', 'silent');
const prefix = `rl:test:${randomUUID()}:`;
const redis = redisForTests('ip-window-test', prefix);
const RESERVE_HASH = 'a'.repeat(64);
const SEARCH_HASH = 'b'.repeat(64);
const manifest = new Map([
  [RESERVE_HASH, 'mutation R($i: ReserveSeatsInput!) { reserveSeats(input: $i, idempotencyKey: "k") { id } }'],
  [SEARCH_HASH, 'query S { searchStations(query: "x") { edges { cursor } } }'],
]);

/** A request through both middlewares (the body as express.json left it): what happened to it. */
async function through(
  mw: ReturnType<typeof ipRateLimit>,
  ip: string,
  opts: { method?: string; authorization?: string; body?: unknown },
) {
  const res = Object.assign(new EventEmitter(), {
    locals: {} as Record<string, unknown>,
    statusCode: 200,
    headers: {} as Record<string, string>,
    sent: undefined as unknown,
    status(code: number) {
      res.statusCode = code;
      return res;
    },
    set(name: string, value: string) {
      res.headers[name] = value;
      return res;
    },
    json(body: unknown) {
      res.sent = body;
      return res;
    },
  });
  const req = { method: opts.method ?? 'POST', ip, headers: { authorization: opts.authorization }, body: opts.body };
  let passed = 0;
  const next: NextFunction = () => void passed++;
  await mw.beforeBody(req as unknown as Request, res as unknown as Response, next);
  if (passed === 1) await mw.afterBody(req as unknown as Request, res as unknown as Response, next);
  return { res, passed: passed === 2, window: res.locals.ipWindow as IpWindow | undefined };
}

const count = async (ip: string) => Number((await redis.get(`${prefix}ip:${ip}`)) ?? 0);

describe('ipRateLimit', () => {
  const limiter = new FixedWindowLimiter(redis, { prefix, logger });
  const mw = ipRateLimit(limiter, { max: 3, windowMs: 60_000 }, logger, ['reserveSeats', 'createPayment'], manifest);
  const signedIn = 'Bearer t';

  it('counts anonymous requests and GETs at once, before the body', async () => {
    const ip = `10.1.0.${Math.floor(Math.random() * 250)}`;
    await redis.del(`${prefix}ip:${ip}`);
    const anonymous = await through(mw, ip, { body: { query: 'mutation { reserveSeats }' } });
    expect([anonymous.passed, anonymous.window]).toEqual([true, undefined]);
    await through(mw, ip, { method: 'GET', authorization: signedIn });
    expect(await count(ip)).toBe(2);
  });

  it('leaves a signed-in POST naming an expensive field to guardPlugin, by text or by manifest hash', async () => {
    const ip = `10.2.0.${Math.floor(Math.random() * 250)}`;
    await redis.del(`${prefix}ip:${ip}`);
    const cases = [
      { query: 'mutation { reserveSeats(x: 1) { id } }' },
      { extensions: { persistedQuery: { version: 1, sha256Hash: RESERVE_HASH } } },
      { documentId: `sha256:${RESERVE_HASH}` },
      // A hash this gateway cannot read (an APQ registration) might be anything.
      { extensions: { persistedQuery: { version: 1, sha256Hash: 'c'.repeat(64) } } },
    ];
    const deferred = await Promise.all(cases.map((body) => through(mw, ip, { authorization: signedIn, body })));
    expect(deferred.map((d) => [d.passed, d.window?.pending])).toEqual(cases.map(() => [true, true]));
    expect(await count(ip)).toBe(0);
    // guardPlugin took the first (it counts it); the others end without it: counted when they close.
    deferred[0]!.window!.pending = false;
    for (const d of deferred) d.res.emit('close');
    await waitFor('the closed requests to be counted', async () => (await count(ip)) === 3, { intervalMs: 10 });
  });

  it('counts any other signed-in POST after the body, and refuses it there when over: 429 + Retry-After', async () => {
    const ip = `10.3.0.${Math.floor(Math.random() * 250)}`;
    await redis.del(`${prefix}ip:${ip}`);
    const bodies = [
      { query: '{ me { id } }' },
      { extensions: { persistedQuery: { version: 1, sha256Hash: SEARCH_HASH } } },
      [{ query: 'mutation { reserveSeats }' }],
    ];
    const counted = [];
    for (const body of bodies) counted.push(await through(mw, ip, { authorization: signedIn, body }));
    expect(counted.map((c) => [c.passed, c.window?.pending])).toEqual(bodies.map(() => [true, false]));
    expect(await count(ip)).toBe(3);
    const over = await through(mw, ip, { authorization: signedIn, body: { query: '{ me { id } }' } });
    expect(over.passed).toBe(false);
    expect(over.res.statusCode).toBe(429);
    expect(Number(over.res.headers['retry-after'])).toBeGreaterThan(55);
    expect(over.res.sent).toMatchObject({ errors: [{ extensions: { code: 'RATE_LIMITED' } }] });
    // Counted already: closing does not count it again.
    expect(over.window!.pending).toBe(false);
    over.res.emit('close');
    expect(await count(ip)).toBe(4);
    // Refused lately: even a request it would leave to guardPlugin is refused before its body now.
    const again = await through(mw, ip, { authorization: signedIn, body: { query: 'mutation { reserveSeats }' } });
    expect([again.passed, again.window, again.res.statusCode]).toEqual([false, undefined, 429]);
    expect(await count(ip)).toBe(5);
  });
});
