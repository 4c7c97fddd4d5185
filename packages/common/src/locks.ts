// Redis leases: one holder at a time for a while (booking's allocator of a run). Redis is never
// the arbiter (the holder's fencing token, checked by the database, is); if Redis is down or slow
// these calls report "unavailable" and the caller relies on the database alone.
import { randomBytes } from 'node:crypto';
import { redisScript, type Redis } from './redis.ts';
import { lockAcquireFailures } from './telemetry.ts';

// Compare-and-delete: release only locks that still hold our token.
const releaseLocks = redisScript<number>(
  'tatkalReleaseLocks',
  `local n = 0
for i, key in ipairs(KEYS) do
  if redis.call('get', key) == ARGV[1] then n = n + redis.call('del', key) end
end
return n`,
);

// Compare-and-extend: renew a lease only while it is still ours.
const extendLock = redisScript<number>(
  'tatkalExtendLock',
  `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0`,
);

/** A lease: one holder at a time for `ttlMs`, renewed while it works (SET NX PX, compare-and-extend/delete). */
export interface Lease {
  key: string;
  token: string;
}

export function createLeaseManager(redis: Redis | null, ttlMs: number) {
  return {
    /** The lease, `null` when someone else holds it, or `'unavailable'` when Redis did not answer. */
    async acquire(key: string): Promise<Lease | null | 'unavailable'> {
      if (!redis) return 'unavailable';
      const token = randomBytes(16).toString('hex');
      try {
        return (await redis.set(key, token, 'PX', ttlMs, 'NX')) === 'OK' ? { key, token } : null;
      } catch {
        lockAcquireFailures.inc({ reason: 'redis_unavailable' });
        return 'unavailable';
      }
    },
    /**
     * False when the lease was lost (expired and taken); true also when Redis is unreachable (the
     * fence decides then).
     */
    async renew(lease: Lease): Promise<boolean> {
      if (!redis) return true;
      try {
        return (await extendLock(redis, [lease.key], [lease.token, ttlMs])) === 1;
      } catch {
        return true;
      }
    },
    async release(lease: Lease): Promise<void> {
      if (redis) await releaseLocks(redis, [lease.key], [lease.token]).catch(() => {});
    },
  };
}
export type LeaseManager = ReturnType<typeof createLeaseManager>;
