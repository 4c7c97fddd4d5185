// Rate limits kept in Redis, so every instance of a process shares them. Two tools:
// - `FixedWindowLimiter`: one atomic Lua script for all of a request's fixed windows (one command
//   per window: SET NX PX for a new one, INCRBY for a live one; PTTL on a refusal), used by the
//   gateway (per client IP, per user on expensive operations).
// - `RedisRateLimitStore` + `rateLimit(...)`: graphql-rate-limit rules on subgraph mutations
//   (login, register, reserveSeats, createPayment) as graphql-shield rules.
// Redis down or slow: every limiter fails open (the request goes on) and logs it, throttled.
import { randomBytes } from 'node:crypto';
import { HeaderMap } from '@apollo/server';
import { getGraphQLRateLimiter, type Identity as RateLimitIdentity, type Store } from 'graphql-rate-limit';
import { rule } from 'graphql-shield';
import type { IRule } from 'graphql-shield';
import { z } from 'zod';
import { AppError, ErrorCode } from './errors.ts';
import type { Logger } from './logger.ts';
import { redisScript, type Redis } from './redis.ts';
import { rateLimitRejections } from './telemetry.ts';

export interface RateLimit {
  max: number;
  windowMs: number;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses `600/1m`, `10/30s`, `5/500ms`: at most `max` calls per window. */
export function parseRateLimit(spec: string): RateLimit | null {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*(ms|s|m|h)\s*$/.exec(spec);
  if (!match) return null;
  const max = Number(match[1]);
  const windowMs = Number(match[2]) * UNITS[match[3]!]!;
  return max >= 1 && windowMs >= 1 ? { max, windowMs } : null;
}

/** Config building block: a `max/window` env var such as `RATE_LIMIT_IP=600/1m`. */
export const rateLimitEnv = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .refine((v) => parseRateLimit(v) !== null, 'must look like 600/1m (max calls / window in ms, s, m or h)')
    .transform((v) => parseRateLimit(v)!);

/** The client's error: `RATE_LIMITED` with a hint; `http` sets 429 + Retry-After where Apollo answers directly. */
export function rateLimited(retryAfterSeconds: number, opts: { http?: boolean; message?: string } = {}): AppError {
  const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
  const http = opts.http ? { http: { status: 429, headers: new HeaderMap([['retry-after', String(seconds)]]) } } : {};
  return new AppError(ErrorCode.RATE_LIMITED, opts.message ?? `Too many requests; retry after ${seconds} s`, {
    retryAfterSeconds: seconds,
    ...http,
  });
}

/** Logs that Redis is unavailable at most once per `everyMs`: a dead Redis must not flood the log. */
function throttledWarning(logger: Logger, everyMs = 10_000) {
  let last = 0;
  return (err: unknown, what: string) => {
    const now = Date.now();
    if (now - last < everyMs) return;
    last = now;
    logger.warn(
      { err: err instanceof Error ? err.message : String(err) },
      `${what}: Redis unavailable, not limiting (fail open)`,
    );
  };
}

// Fixed windows starting at their first hit, any number of them in one call (a request's
// per-IP and per-user windows), in order: the first window over its limit ends the call, so a
// later one does not count a request that is refused anyway. A window this process does not know
// to be live is most likely new (at a rush every traveller's is): SET NX PX starts it in one
// command, and only if it existed after all INCRBY counts it. A known live window is one INCRBY
// (PEXPIRE if it had ended meanwhile). PTTL only for a refusal's Retry-After, which also repairs a
// key that lost its expiry. The hint never changes a count, only how many commands it takes.
// ARGV: per key, its window (ms), weight, max and 1 when known live. Returns count and ttl per key
// counted (ttl -1: allowed).
const fixedWindowHits = redisScript<number[]>(
  'tatkalFixedWindowHits',
  `local out = {}
for i = 1, #KEYS do
  local window, weight, max = ARGV[4 * i - 3], tonumber(ARGV[4 * i - 2]), tonumber(ARGV[4 * i - 1])
  local count
  if ARGV[4 * i] ~= '1' and redis.call('SET', KEYS[i], weight, 'NX', 'PX', window) then
    count = weight
  else
    count = redis.call('INCRBY', KEYS[i], weight)
    if count == weight then redis.call('PEXPIRE', KEYS[i], window) end
  end
  out[#out + 1] = count
  if count > max then
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl < 0 then
      redis.call('PEXPIRE', KEYS[i], window)
      ttl = tonumber(window)
    end
    out[#out + 1] = ttl
    return out
  end
  out[#out + 1] = -1
end
return out`,
);

export interface RateLimitDecision {
  allowed: boolean;
  count: number;
  /** When a refused client may try again; 0 when allowed. */
  retryAfterSeconds: number;
}

/** One window a request counts against: `weight` calls of `key` under `limit`. */
export interface WindowHit {
  key: string;
  limit: RateLimit;
  weight?: number;
}

/**
 * Keys remembered until a time each, at most `max` of them (the longest unset go first when over):
 * a process's bounded memory of short-lived facts (a live window, an IP refused lately).
 */
export class ExpiringKeys {
  private readonly until = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** Remembers `key` until `at` (ms since the epoch). */
  set(key: string, at: number): void {
    this.until.delete(key); // re-inserted last: the oldest entries go first when over the bound
    this.until.set(key, at);
    if (this.until.size > this.max) this.until.delete(this.until.keys().next().value!);
  }

  /** Whether `key` is remembered at `now`; one whose time has passed is forgotten. */
  has(key: string, now = Date.now()): boolean {
    const at = this.until.get(key);
    if (at === undefined) return false;
    if (at > now) return true;
    this.until.delete(key);
    return false;
  }
}

export class FixedWindowLimiter {
  private readonly warn: ReturnType<typeof throttledWarning>;
  /** Windows this process saw live, until they end at the latest (a hint: see the script). */
  private readonly live: ExpiringKeys;

  constructor(
    private readonly redis: Redis,
    private readonly opts: { prefix: string; logger: Logger; maxKnownWindows?: number },
  ) {
    this.warn = throttledWarning(opts.logger);
    this.live = new ExpiringKeys(opts.maxKnownWindows ?? 100_000);
  }

  /**
   * Counts `weight` calls against `key` and says whether they fit in the limit. Returns null when
   * Redis does not answer: the caller lets the request through.
   */
  async hit(key: string, limit: RateLimit, weight = 1): Promise<RateLimitDecision | null> {
    return (await this.hits([{ key, limit, weight }]))?.[0] ?? null;
  }

  /**
   * Counts a request against several windows in one Redis call, in order, up to the first that
   * refuses it (the last decision returned; later windows are not counted). Null when Redis does
   * not answer: the caller lets the request through. Keys of one call must live on one Redis
   * node (no cluster here).
   */
  async hits(windows: readonly WindowHit[]): Promise<RateLimitDecision[] | null> {
    if (windows.length === 0) return [];
    const now = Date.now();
    try {
      const out = await fixedWindowHits(
        this.redis,
        windows.map((w) => this.opts.prefix + w.key),
        windows.flatMap((w) => [w.limit.windowMs, w.weight ?? 1, w.limit.max, this.live.has(w.key, now) ? 1 : 0]),
      );
      const decisions: RateLimitDecision[] = [];
      for (let i = 0; i + 1 < out.length; i += 2) {
        const window = windows[i / 2]!;
        const [count, ttl] = [out[i]!, out[i + 1]!];
        const allowed = count <= window.limit.max;
        decisions.push({ allowed, count, retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil(ttl / 1000)) });
        // Its end: known when refused (ttl) and at most a window away otherwise.
        this.live.set(window.key, now + (allowed ? window.limit.windowMs : ttl));
      }
      return decisions;
    } catch (err) {
      this.warn(err, `rate limit ${windows.map((w) => w.key).join(', ')}`);
      return null;
    }
  }
}

// Records this call and returns the calls before it, in one step (see RedisRateLimitStore). Keeps
// the newest `maxTracked` (trimmed only when there are more: the common call is ZADD, PEXPIRE,
// ZRANGE) and the key alive for the longest window after each call.
const recordCall = redisScript<string[]>(
  'tatkalRecordCall',
  `redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local keep = tonumber(ARGV[3]) + 1
if #members > keep then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(keep + 1)) end
-- The newest calls before this one: picked by member, not by position, because calls of the same
-- millisecond tie on the score and sort by their random suffix, so this one need not be last.
local before = {}
for i = #members, 1, -1 do
  if #before == keep - 1 then break end
  if members[i] ~= ARGV[2] then table.insert(before, 1, members[i]) end
end
return before`,
);

/**
 * graphql-rate-limit's `Store` on Redis (ioredis). The library reads the call history, decides,
 * then writes it back: two concurrent calls would both read the same history and a burst would get
 * through. So `getForIdentity` records the call atomically (sorted set, one Lua script) and
 * returns only the calls before it; `setForIdentity` has nothing left to do (the library ignores
 * calls older than the window, and at most `maxTracked` are kept).
 * Consequences: every call counts, rejected ones too (the library's default), and rules with
 * `readOnly` are not supported. At most `maxTracked` calls are kept per key, so a rule's `max`
 * must not exceed it.
 */
export class RedisRateLimitStore implements Store {
  readonly maxTracked: number;
  private readonly warn: ReturnType<typeof throttledWarning>;

  constructor(
    private readonly redis: Redis,
    private readonly opts: { prefix: string; logger: Logger; maxTracked?: number; maxWindowMs?: number },
  ) {
    this.maxTracked = opts.maxTracked ?? 200;
    this.warn = throttledWarning(opts.logger);
  }

  private key(identity: RateLimitIdentity): string {
    return `${this.opts.prefix}gql:${identity.contextIdentity}:${identity.fieldIdentity}`;
  }

  async getForIdentity(identity: RateLimitIdentity): Promise<readonly number[]> {
    const now = Date.now();
    const member = `${now}:${randomBytes(6).toString('hex')}`;
    try {
      const members = await recordCall(
        this.redis,
        [this.key(identity)],
        [now, member, this.maxTracked, this.opts.maxWindowMs ?? 3_600_000],
      );
      return members.map((m) => Number(m.slice(0, m.indexOf(':'))));
    } catch (err) {
      this.warn(err, `rate limit ${identity.fieldIdentity}`);
      return [];
    }
  }

  // One round trip per call instead of two: getForIdentity already wrote the history.
  async setForIdentity(): Promise<void> {}
}

export interface RateLimitRuleConfig extends RateLimit {
  /** Whose calls are counted: the client IP (as the gateway reports it) or the signed-in user (IP when anonymous). */
  per: 'ip' | 'user';
  /** Arguments that are part of the key, e.g. `['email']` for login per (ip, email). */
  identityArgs?: string[];
  /** Normalises the arguments before they become part of the key (e.g. lower-case the email). */
  normalizeArgs?: (args: Record<string, unknown>) => Record<string, unknown>;
  /**
   * The gateway limits this field itself (its RATE_LIMIT_EXPENSIVE_FIELDS): calls the gateway
   * signed (`viaGateway`) were counted there and are not counted again; others (a direct caller)
   * are.
   */
  limitedByGateway?: boolean;
}

type RateLimiterFn = ReturnType<typeof getGraphQLRateLimiter>;
const limiters = new WeakMap<RedisRateLimitStore, RateLimiterFn>();
function limiterFor(store: RedisRateLimitStore): RateLimiterFn {
  let limiter = limiters.get(store);
  if (!limiter) {
    // The rule below hands the limiter only the caller's key, never the whole context.
    limiter = getGraphQLRateLimiter({ store, identifyContext: (ctx: { rateLimitKey: string }) => ctx.rateLimitKey });
    limiters.set(store, limiter);
  }
  return limiter;
}

/** What the rule reads of a subgraph's request context (RequestContext, which names this store). */
interface RateLimitedContext {
  rateLimitStore?: RedisRateLimitStore;
  identity: { userId: string } | null;
  clientIp?: string;
  viaGateway?: boolean;
}

/**
 * A graphql-shield rule backed by graphql-rate-limit. The store comes from the request context
 * (`serveSubgraph({ rateLimitStore })`), so permission trees stay module constants; without one
 * (tests that call `executeOperation` directly) the rule allows.
 */
export function rateLimit(cfg: RateLimitRuleConfig): IRule {
  return rule({ cache: 'no_cache' })(async (parent, args: Record<string, unknown>, ctx: RateLimitedContext, info) => {
    const store = ctx.rateLimitStore;
    if (!store || (cfg.limitedByGateway && ctx.viaGateway)) return true;
    if (cfg.max > store.maxTracked)
      throw new Error(`rate limit max ${cfg.max} exceeds the store's maxTracked ${store.maxTracked}`);
    const who = cfg.per === 'user' && ctx.identity ? `user:${ctx.identity.userId}` : `ip:${ctx.clientIp ?? 'unknown'}`;
    const message = await limiterFor(store)(
      { parent, args: cfg.normalizeArgs ? cfg.normalizeArgs(args) : args, context: { rateLimitKey: who }, info },
      { max: cfg.max, window: `${cfg.windowMs}ms`, identityArgs: cfg.identityArgs },
    );
    if (!message) return true;
    rateLimitRejections.inc({ limit: `${info.parentType.name}.${info.fieldName}` });
    return rateLimited(cfg.windowMs / 1000, { message: `Too many ${info.fieldName} requests; retry later` });
  });
}
