// The limiters against the real Redis: atomic under concurrency, and open when Redis is gone.
import { randomUUID } from 'node:crypto';
import { buildSchema, graphql } from 'graphql';
import { applyMiddleware } from 'graphql-middleware';
import { describe, expect, it, vi } from 'vitest';
import { permissions } from './authz.ts';
import { createLogger } from './logger.ts';
import { FixedWindowLimiter, RedisRateLimitStore, rateLimit } from './ratelimit.ts';
import { createRedis } from './redis.ts';
import { rateLimitRejections } from './telemetry.ts';
import { REDIS_URL } from '../../../test/support/env.ts';
import { redisForTests } from '../../../test/support/redis.ts';
import { waitFor } from '../../../test/support/wait.ts';

const logger = createLogger('ratelimit-test', 'silent');
const prefix = `rl:test:${randomUUID()}:`;
const redis = redisForTests('ratelimit-test', prefix);

describe('FixedWindowLimiter', () => {
  it('lets exactly max hits through when 100 arrive at once, then hints when to retry', async () => {
    const limiter = new FixedWindowLimiter(redis, { prefix, logger });
    const decisions = await Promise.all(
      Array.from({ length: 100 }, () => limiter.hit('burst', { max: 30, windowMs: 60_000 })),
    );
    expect(decisions.filter((d) => d?.allowed)).toHaveLength(30);
    const denied = decisions.find((d) => d && !d.allowed)!;
    expect(denied.retryAfterSeconds).toBeGreaterThanOrEqual(59);
    expect(denied.retryAfterSeconds).toBeLessThanOrEqual(60);
    expect(await redis.pttl(`${prefix}burst`)).toBeGreaterThan(55_000);
  });

  it('counts a weight (a request naming the field several times) and starts a new window after the old', async () => {
    const limiter = new FixedWindowLimiter(redis, { prefix, logger });
    // A window long enough that the first two hits cannot straddle it, short enough to wait out.
    const rule = { max: 3, windowMs: 1_000 };
    expect((await limiter.hit('weighted', rule, 3))?.allowed).toBe(true);
    expect((await limiter.hit('weighted', rule))?.allowed).toBe(false);
    // The window is over when Redis has expired its key (the window is the key's PEXPIRE).
    const ended = async () => (await redis.exists(`${prefix}weighted`)) === 0;
    await waitFor('the window to end (its key expired)', ended, { intervalMs: 20 });
    expect(await limiter.hit('weighted', rule)).toMatchObject({ allowed: true, count: 1 });
  });

  it('keeps counting after Redis forgets its scripts (EVALSHA falls back to EVAL)', async () => {
    const limiter = new FixedWindowLimiter(redis, { prefix, logger });
    expect(await limiter.hit('flushed', { max: 5, windowMs: 60_000 })).toMatchObject({ allowed: true, count: 1 });
    await redis.script('FLUSH');
    expect(await limiter.hit('flushed', { max: 5, windowMs: 60_000 })).toMatchObject({ allowed: true, count: 2 });
  });

  it('a new client takes a burst of script calls queued in one tick (auto-pipelined EVALSHA)', async () => {
    // Defining the script on first use, with an auto-pipeline already queued, crashed ioredis here.
    const fresh = createRedis(REDIS_URL, { name: 'ratelimit-fresh', commandTimeoutMs: 2000 });
    await new Promise((resolve) => fresh.once('ready', resolve));
    const limiter = new FixedWindowLimiter(fresh, { prefix, logger });
    const store = new RedisRateLimitStore(fresh, { prefix, logger });
    const identity = { contextIdentity: 'burst', fieldIdentity: 'f' };
    const [hits, histories] = await Promise.all([
      Promise.all(Array.from({ length: 100 }, () => limiter.hit('fresh-burst', { max: 1000, windowMs: 60_000 }))),
      Promise.all(Array.from({ length: 100 }, () => store.getForIdentity(identity))),
    ]);
    expect(hits.map((h) => h!.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(histories.map((h) => h.length).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    fresh.disconnect();
  });

  it("counts a request's windows in one call, in order, up to the first that refuses it", async () => {
    const limiter = new FixedWindowLimiter(redis, { prefix, logger });
    const ip = { key: 'fold:ip', limit: { max: 4, windowMs: 60_000 } };
    const user = (n: number) => ({ key: `fold:user:${n}`, limit: { max: 2, windowMs: 30_000 } });
    // Per IP and per user enforced together: user 1 is refused on its third call, its IP counted each time.
    expect(await limiter.hits([ip, user(1)])).toEqual([
      { allowed: true, count: 1, retryAfterSeconds: 0 },
      { allowed: true, count: 1, retryAfterSeconds: 0 },
    ]);
    await limiter.hits([ip, user(1)]);
    const third = await limiter.hits([ip, user(1)]);
    expect(third).toMatchObject([
      { allowed: true, count: 3 },
      { allowed: false, count: 3 },
    ]);
    expect(third![1]!.retryAfterSeconds).toBeGreaterThanOrEqual(29);
    expect(third![1]!.retryAfterSeconds).toBeLessThanOrEqual(30);
    // Another user at the same IP: the IP's fourth call passes, its fifth is refused by the IP and
    // then the user's window is not counted at all.
    expect(await limiter.hits([ip, user(2)])).toMatchObject([{ allowed: true, count: 4 }, { allowed: true }]);
    const overIp = await limiter.hits([ip, user(2), user(3)]);
    expect(overIp).toHaveLength(1);
    expect(overIp![0]).toMatchObject({ allowed: false, count: 5 });
    expect(overIp![0]!.retryAfterSeconds).toBeGreaterThanOrEqual(59);
    expect(await redis.get(`${prefix}fold:user:2`)).toBe('1');
    expect(await redis.exists(`${prefix}fold:user:3`)).toBe(0);
    // Each window expires on its own clock, set at its first hit and not pushed back by later ones.
    expect(await redis.pttl(`${prefix}fold:ip`)).toBeGreaterThan(55_000);
    expect(await redis.pttl(`${prefix}fold:user:1`)).toBeLessThanOrEqual(30_000);
  });

  it('sets a window to expire on its first hit only; a key that lost its expiry gets one when it refuses', async () => {
    const limiter = new FixedWindowLimiter(redis, { prefix, logger });
    const rule = { max: 3, windowMs: 60_000 };
    await limiter.hit('expiry', rule);
    // A later hit does not push the window's end back.
    await redis.pexpire(`${prefix}expiry`, 40_000);
    expect(await limiter.hit('expiry', rule)).toMatchObject({ allowed: true, count: 2 });
    expect(await redis.pttl(`${prefix}expiry`)).toBeLessThanOrEqual(40_000);
    // A key without an expiry (lost it somehow) at its limit: the refusal gives it one again.
    await redis.set(`${prefix}immortal`, '3');
    const refused = await limiter.hit('immortal', rule);
    expect(refused).toEqual({ allowed: false, count: 4, retryAfterSeconds: 60 });
    expect(await redis.pttl(`${prefix}immortal`)).toBeGreaterThan(55_000);
  });

  it('a request weighing more than the limit on a new window is refused and the window still expires', async () => {
    const limiter = new FixedWindowLimiter(redis, { prefix, logger });
    expect(await limiter.hit('heavy', { max: 3, windowMs: 20_000 }, 4)).toEqual({
      allowed: false,
      count: 4,
      retryAfterSeconds: 20,
    });
    expect(await redis.pttl(`${prefix}heavy`)).toBeGreaterThan(15_000);
  });

  it('runs one command per window: SET NX PX when new, INCRBY when known live, PTTL on a refusal', async () => {
    const monitor = await redis.monitor();
    const seen: string[][] = [];
    const tag = `${prefix}cmds:${randomUUID()}:`;
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args[1]?.startsWith(tag)) seen.push([args[0]!.toUpperCase(), args[1].slice(tag.length)]);
    });
    const limiter = new FixedWindowLimiter(redis, { prefix: tag, logger });
    const rule = { max: 2, windowMs: 60_000 };
    const step = async (what: () => Promise<unknown>) => {
      const mark = `${tag}mark:${randomUUID()}`;
      await what();
      await redis.get(mark);
      await waitFor('the monitor to see the step', () => seen.some((c) => c[1]!.startsWith('mark:')));
      const commands = seen.filter((c) => !c[1]!.startsWith('mark:')).map((c) => c.join(' '));
      seen.length = 0;
      return commands;
    };
    // A request's IP and user windows, both new: one SET each.
    const both = [
      { key: 'ip', limit: rule },
      { key: 'user', limit: rule },
    ];
    expect(await step(() => limiter.hits(both))).toEqual(['SET ip', 'SET user']);
    // Known live now: one INCRBY each.
    expect(await step(() => limiter.hits(both))).toEqual(['INCRBY ip', 'INCRBY user']);
    // Over the limit: PTTL for the Retry-After, and the user's window is not touched.
    expect(await step(() => limiter.hits(both))).toEqual(['INCRBY ip', 'PTTL ip']);
    // Another process (another gateway instance) that did not see the window: SET fails, INCRBY counts.
    const other = new FixedWindowLimiter(redis, { prefix: tag, logger });
    expect(await step(() => other.hit('user', rule))).toEqual(['SET user', 'INCRBY user', 'PTTL user']);
    monitor.disconnect();
  });

  it('fails open (null) when Redis does not answer', async () => {
    const dead = createRedis('redis://127.0.0.1:1', { name: 'dead' });
    const warnings: unknown[] = [];
    const log = createLogger('ratelimit-test', 'warn');
    log.warn = ((obj: unknown) => void warnings.push(obj)) as typeof log.warn;
    const limiter = new FixedWindowLimiter(dead, { prefix, logger: log });
    expect(await limiter.hit('x', { max: 1, windowMs: 1000 })).toBeNull();
    expect(await limiter.hit('x', { max: 1, windowMs: 1000 })).toBeNull();
    expect(
      await limiter.hits([
        { key: 'x', limit: { max: 1, windowMs: 1000 } },
        { key: 'y', limit: { max: 1, windowMs: 1000 } },
      ]),
    ).toBeNull();
    // Logged once, not once per request.
    expect(warnings).toHaveLength(1);
    dead.disconnect();
  });
});

describe('graphql-rate-limit rules on the Redis store', () => {
  const schema = applyMiddleware(
    buildSchema('type Query { ok: Boolean } type Mutation { login(email: String!): Boolean! }'),
    permissions({
      Mutation: {
        login: rateLimit({
          per: 'ip',
          max: 5,
          windowMs: 60_000,
          identityArgs: ['email'],
          normalizeArgs: (args) => ({ email: String(args.email).toLowerCase() }),
        }),
      },
    }),
  );
  const rootValue = { login: () => true };
  const run = (email: string, ctx: object) =>
    graphql({ schema, source: `mutation { login(email: "${email}") }`, rootValue, contextValue: ctx });

  it('lets exactly max calls per (ip, email) through under concurrency, whatever the case of the email', async () => {
    const store = new RedisRateLimitStore(redis, { prefix, logger });
    const ctx = { clientIp: '10.0.0.1', identity: null, rateLimitStore: store };
    const rejected = async () =>
      (await rateLimitRejections.get()).values.find((v) => v.labels.limit === 'Mutation.login')?.value ?? 0;
    const rejectedBefore = await rejected();
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => run(i % 2 ? 'Asha@Example.com' : 'asha@example.com', ctx)),
    );
    expect(results.filter((r) => r.data?.login === true)).toHaveLength(5);
    const limited = results.filter((r) => r.errors);
    expect(limited).toHaveLength(35);
    expect(limited[0]!.errors![0]!.extensions).toEqual({ code: 'RATE_LIMITED', retryAfterSeconds: 60 });
    // Each refusal is counted under the rule's field (tatkal_rate_limit_rejections_total).
    expect(await rejected()).toBe(rejectedBefore + 35);
    // Another address, or another email from the same address, has its own budget.
    expect((await run('asha@example.com', { ...ctx, clientIp: '10.0.0.2' })).data?.login).toBe(true);
    expect((await run('other@example.com', ctx)).data?.login).toBe(true);
  });

  it('keeps one sorted set per (ip, field, args), alive for the longest window after each call', async () => {
    const store = new RedisRateLimitStore(redis, { prefix, logger, maxWindowMs: 120_000 });
    const ctx = { clientIp: '10.0.0.9', identity: null, rateLimitStore: store };
    for (let i = 0; i < 3; i++) expect((await run('keys@example.com', ctx)).data?.login).toBe(true);
    const keys = await redis.keys(`${prefix}gql:ip:10.0.0.9:*`);
    expect(keys).toHaveLength(1);
    expect(await redis.zcard(keys[0]!)).toBe(3);
    expect(await redis.pttl(keys[0]!)).toBeGreaterThan(110_000);
  });

  it('counts the calls before this one when they share its millisecond (ties sort by random suffix)', async () => {
    const store = new RedisRateLimitStore(redis, { prefix, logger, maxTracked: 3 });
    const identity = { contextIdentity: 'tie', fieldIdentity: 'f' };
    const now = vi.spyOn(Date, 'now').mockReturnValue(1_767_000_000_000);
    try {
      const histories = [];
      for (let i = 0; i < 12; i++) histories.push((await store.getForIdentity(identity)).length);
      expect(histories).toEqual([0, 1, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3]);
    } finally {
      now.mockRestore();
    }
    expect(await redis.zcard(`${prefix}gql:tie:f`)).toBe(4);
  });

  it('keeps only the newest maxTracked calls per key, trimming when there are more', async () => {
    const store = new RedisRateLimitStore(redis, { prefix, logger, maxTracked: 3 });
    const identity = { contextIdentity: 'trim', fieldIdentity: 'f' };
    const histories = [];
    for (let i = 0; i < 8; i++) histories.push((await store.getForIdentity(identity)).length);
    expect(histories).toEqual([0, 1, 2, 3, 3, 3, 3, 3]);
    expect(await redis.zcard(`${prefix}gql:trim:f`)).toBe(4);
  });

  describe('a field the gateway limits itself (limitedByGateway)', () => {
    const reserveSchema = applyMiddleware(
      buildSchema('type Query { ok: Boolean } type Mutation { reserve: Boolean! }'),
      permissions({
        Mutation: { reserve: rateLimit({ per: 'user', max: 3, windowMs: 60_000, limitedByGateway: true }) },
      }),
    );
    const reserve = (ctx: object) =>
      graphql({
        schema: reserveSchema,
        source: 'mutation { reserve }',
        rootValue: { reserve: () => true },
        contextValue: ctx,
      });

    it('does not count calls the gateway signed, and still limits a direct (unsigned) caller', async () => {
      const store = new RedisRateLimitStore(redis, { prefix, logger });
      const userId = randomUUID();
      const base = { clientIp: '10.0.0.7', identity: { userId }, rateLimitStore: store };
      const signed = await Promise.all(Array.from({ length: 10 }, () => reserve({ ...base, viaGateway: true })));
      expect(signed.every((r) => r.data?.reserve === true)).toBe(true);
      expect(await redis.keys(`${prefix}gql:user:${userId}:*`)).toEqual([]);
      const direct = await Promise.all(Array.from({ length: 5 }, () => reserve({ ...base, viaGateway: false })));
      expect(direct.filter((r) => r.data?.reserve === true)).toHaveLength(3);
      expect(direct.filter((r) => r.errors?.[0]?.extensions?.code === 'RATE_LIMITED')).toHaveLength(2);
      // No viaGateway at all (a context from before the flag) counts too.
      expect((await reserve(base)).errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    });
  });

  it('allows everything without a store, and fails open when Redis is gone', async () => {
    expect((await run('a@example.com', { clientIp: '10.0.0.3', identity: null })).data?.login).toBe(true);
    const dead = createRedis('redis://127.0.0.1:1', { name: 'dead' });
    const store = new RedisRateLimitStore(dead, { prefix, logger });
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        run('a@example.com', { clientIp: '10.0.0.3', identity: null, rateLimitStore: store }),
      ),
    );
    expect(results.every((r) => r.data?.login === true)).toBe(true);
    dead.disconnect();
  });
});
