// Leases against the real Redis: one holder at a time, renewed and released only by their holder
// (compare-and-extend, compare-and-delete); an unreachable Redis is reported and counted.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createLeaseManager, type Lease } from './locks.ts';
import { createRedis } from './redis.ts';
import { lockAcquireFailures } from './telemetry.ts';
import { redisForTests } from '../../../test/support/redis.ts';
import { waitFor } from '../../../test/support/wait.ts';

const prefix = `lease:test:${randomUUID()}:`;
const redis = redisForTests('locks-test', prefix);
const failures = async (reason: string) =>
  (await lockAcquireFailures.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;

describe('lease manager', () => {
  it('gives a lease to one of many concurrent callers; only its holder renews or releases it', async () => {
    const leases = createLeaseManager(redis, 10_000);
    const key = `${prefix}a`;
    const got = await Promise.all(Array.from({ length: 20 }, () => leases.acquire(key)));
    const holders = got.filter((l): l is Lease => l !== null && l !== 'unavailable');
    expect(holders).toHaveLength(1);
    expect(got.filter((l) => l === null)).toHaveLength(19);
    const impostor: Lease = { key, token: 'not-the-token' };
    expect(await leases.renew(impostor)).toBe(false);
    await leases.release(impostor);
    expect(await redis.get(key)).toBe(holders[0]!.token);
    expect(await leases.renew(holders[0]!)).toBe(true);
    expect(await redis.pttl(key)).toBeGreaterThan(9_000);
    await leases.release(holders[0]!);
    expect(await redis.exists(key)).toBe(0);
    expect(await leases.acquire(key)).toMatchObject({ key });
  });

  it('a lease that ran out can be taken by another; the old holder can then neither renew nor release it', async () => {
    const short = createLeaseManager(redis, 50);
    const key = `${prefix}b`;
    const first = (await short.acquire(key)) as Lease;
    expect(first).toMatchObject({ key });
    await waitFor('the 50 ms lease to run out (its key expired)', async () => (await redis.exists(key)) === 0, {
      intervalMs: 20,
    });
    const second = (await createLeaseManager(redis, 10_000).acquire(key)) as Lease;
    expect(second).toMatchObject({ key });
    expect(await short.renew(first)).toBe(false);
    await short.release(first);
    expect(await redis.get(key)).toBe(second.token);
  });

  it('reports an unreachable Redis as unavailable (the database decides) and counts it', async () => {
    const dead = createRedis('redis://127.0.0.1:1', { name: 'dead' });
    const before = await failures('redis_unavailable');
    expect(await createLeaseManager(dead, 1_000).acquire(`${prefix}c`)).toBe('unavailable');
    expect(await failures('redis_unavailable')).toBe(before + 1);
    dead.disconnect();
  });
});
