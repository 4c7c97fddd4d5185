// Seat locks against the real Redis: a busy key and an unreachable Redis are reported to the
// caller and counted apart (tatkal_lock_acquire_failures_total).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLockManager } from './locks.ts';
import { createRedis } from './redis.ts';
import { lockAcquireFailures } from './telemetry.ts';
import { REDIS_URL } from '../../../test/support/env.ts';

const redis = createRedis(REDIS_URL, { name: 'locks-test', commandTimeoutMs: 2000 });
const prefix = `lock:test:${randomUUID()}:`;
const failures = async (reason: string) => (await lockAcquireFailures.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;

beforeAll(async () => {
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

describe('lock manager', () => {
  it('reports a key someone else holds as busy and counts the attempt once', async () => {
    const locks = createLockManager(redis);
    const busyBefore = await failures('busy');
    const first = await locks.tryLock([`${prefix}a`]);
    expect(first).toMatchObject({ acquired: [`${prefix}a`], busy: [], unavailable: false });
    const second = await locks.tryLock([`${prefix}a`, `${prefix}b`]);
    expect(second).toMatchObject({ acquired: [`${prefix}b`], busy: [`${prefix}a`], unavailable: false });
    expect(await failures('busy')).toBe(busyBefore + 1);
    await locks.release(second.acquired, second.token);
    await locks.release(first.acquired, first.token);
    // Released: free for the next caller, nothing more counted.
    expect((await locks.tryLock([`${prefix}a`])).busy).toEqual([]);
    expect(await failures('busy')).toBe(busyBefore + 1);
  });

  it('reports an unreachable Redis as unavailable (the database decides) and counts it apart', async () => {
    const dead = createRedis('redis://127.0.0.1:1', { name: 'dead' });
    const before = await failures('redis_unavailable');
    const busyBefore = await failures('busy');
    expect(await createLockManager(dead).tryLock([`${prefix}c`])).toMatchObject({ acquired: [], busy: [], unavailable: true });
    expect(await failures('redis_unavailable')).toBe(before + 1);
    expect(await failures('busy')).toBe(busyBefore);
    dead.disconnect();
  });
});
