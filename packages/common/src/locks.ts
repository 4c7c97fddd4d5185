// Redis seat locks: the fast first guard of the reservation path. Redis is never the arbiter
// (the database is); if Redis is down or slow these calls report "unavailable" and booking goes
// on with the database alone.
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

export interface LockResult {
  /** Keys now held with `token`. */
  acquired: string[];
  /** Keys someone else holds. */
  busy: string[];
  token: string;
  /** Redis did not answer: nothing was locked, the caller relies on the database. */
  unavailable: boolean;
}

export function createLockManager(redis: Redis | null, ttlMs = 5_000) {
  return {
    /**
     * Tries each key with SET NX PX in the given (fixed) order, in one round trip. Never waits:
     * a busy key is reported, not queued for.
     */
    async tryLock(keys: string[]): Promise<LockResult> {
      const token = randomBytes(16).toString('hex');
      if (!redis || keys.length === 0) return { acquired: [], busy: [], token, unavailable: !redis };
      try {
        const pipeline = redis.pipeline();
        for (const key of keys) pipeline.set(key, token, 'PX', ttlMs, 'NX');
        const replies = (await pipeline.exec()) ?? [];
        const acquired: string[] = [];
        const busy: string[] = [];
        replies.forEach(([err, reply], i) => {
          if (err) throw err;
          (reply === 'OK' ? acquired : busy).push(keys[i]!);
        });
        if (busy.length) lockAcquireFailures.inc({ reason: 'busy' });
        return { acquired, busy, token, unavailable: false };
      } catch {
        lockAcquireFailures.inc({ reason: 'redis_unavailable' });
        return { acquired: [], busy: [], token, unavailable: true };
      }
    },

    async release(keys: string[], token: string): Promise<void> {
      if (!redis || keys.length === 0) return;
      await releaseLocks(redis, keys, [token]).catch(() => {});
    },
  };
}
export type LockManager = ReturnType<typeof createLockManager>;

export const seatLockKey = (runId: string, seatId: number) => `lock:${runId}:${seatId}`;
