import { describe, expect, it } from 'vitest';
import { ExpiringKeys, parseRateLimit, rateLimitEnv, rateLimited } from './ratelimit.ts';

describe('rate limit specs', () => {
  it('parses max/window', () => {
    expect(parseRateLimit('600/1m')).toEqual({ max: 600, windowMs: 60_000 });
    expect(parseRateLimit(' 10 / 30s ')).toEqual({ max: 10, windowMs: 30_000 });
    expect(parseRateLimit('5/500ms')).toEqual({ max: 5, windowMs: 500 });
    expect(parseRateLimit('2/1h')).toEqual({ max: 2, windowMs: 3_600_000 });
  });

  it('refuses anything else', () => {
    for (const bad of ['', '600', '0/1m', '10/0s', '10/1d', '-1/1m', 'ten/1m', '10/m'])
      expect(parseRateLimit(bad)).toBeNull();
    expect(rateLimitEnv('10/1m').safeParse('lots').success).toBe(false);
    expect(rateLimitEnv('10/1m').parse(undefined)).toEqual({ max: 10, windowMs: 60_000 });
  });

  it('makes RATE_LIMITED errors with a whole-second hint, and 429 + Retry-After when asked', () => {
    const plain = rateLimited(0.2);
    expect(plain.extensions).toEqual({ code: 'RATE_LIMITED', retryAfterSeconds: 1 });
    const http = rateLimited(42.1, { http: true });
    expect(http.extensions.retryAfterSeconds).toBe(43);
    const head = http.extensions.http as unknown as { status: number; headers: Map<string, string> };
    expect(head.status).toBe(429);
    expect(head.headers.get('retry-after')).toBe('43');
  });
});

describe('ExpiringKeys', () => {
  it('remembers a key until its time, and at most max keys (the longest unset go first)', () => {
    const keys = new ExpiringKeys(2);
    keys.set('a', 1_000);
    keys.set('b', 1_000);
    expect([keys.has('a', 999), keys.has('a', 1_000)]).toEqual([true, false]);
    keys.set('a', 2_000);
    keys.set('c', 2_000); // over the bound: b, set longest ago, goes
    expect(['a', 'b', 'c'].map((k) => keys.has(k, 1_500))).toEqual([true, false, true]);
  });
});
