// Cheap refusals: once a journey has no berth a newcomer could get (sold out, or a waitlist
// ahead of it) and the request cannot wait (no waitlist wanted, or the waitlist is full), it is
// refused from memory or Redis, without a database transaction or a place in the queue.
//
// The allocator publishes each journey's state after every batch, in its own memory and in Redis
// for the other booking instances, for a short time only (STATE_TTL_MS): after a rush the state
// lapses and requests go to the queue again, where the allocator decides them against the
// database. A refusal can therefore be up to that long out of date after a cancellation.
import { Quota, TravelClass } from '@tatkal/db';
import { poolLabel } from './allocation/allocate.ts';
import { AppError, ErrorCode, type Redis } from '@tatkal/common';

const STATE_TTL_MS = 2_000;
/** How long an instance trusts a state it read from Redis before reading it again. */
const LOCAL_TTL_MS = 200;

interface JourneyState {
  blocked: boolean;
  waiting: number;
  until: number;
}

export interface JourneyReport {
  cls: TravelClass;
  quota: Quota;
  mask: bigint;
  blocked: boolean;
  waiting: number;
}

const redisKey = (runId: string, cls: TravelClass, quota: Quota) => `booking:journeys:${runId}:${cls}:${quota}`;

export function createRefusals(redis: Redis | null, waitlistLimit: number) {
  const local = new Map<string, JourneyState>();
  const reading = new Map<string, Promise<JourneyState | null>>();
  const localKey = (runId: string, cls: TravelClass, quota: Quota, mask: bigint) => `${runId}|${cls}|${quota}|${mask}`;

  async function stateOf(runId: string, cls: TravelClass, quota: Quota, mask: bigint): Promise<JourneyState | null> {
    const key = localKey(runId, cls, quota, mask);
    const hit = local.get(key);
    if (hit && hit.until > Date.now()) return hit;
    if (!redis) return null;
    let pending = reading.get(key);
    if (!pending) {
      pending = redis
        .hget(redisKey(runId, cls, quota), String(mask))
        .then((raw) => {
          if (!raw) return null;
          const [blocked, waiting] = raw.split('|');
          const state = { blocked: blocked === '1', waiting: Number(waiting), until: Date.now() + LOCAL_TTL_MS };
          local.set(key, state);
          return state;
        })
        .catch(() => null) // Redis down or slow: the queue decides.
        .finally(() => reading.delete(key));
      reading.set(key, pending);
    }
    return pending;
  }

  return {
    /** The refusal for this request, or null when it must be queued. */
    async check(req: {
      runId: string;
      cls: TravelClass;
      quota: Quota;
      mask: bigint;
      passengers: number;
      allowWaitlist: boolean;
      specificBerths: boolean;
    }): Promise<AppError | null> {
      const state = await stateOf(req.runId, req.cls, req.quota, req.mask);
      const label = poolLabel(req.cls, req.quota);
      if (!state?.blocked) return null;
      if (req.specificBerths)
        return new AppError(
          ErrorCode.SEAT_UNAVAILABLE,
          'That berth is no longer available for this journey; choose another or let us allocate one',
        );
      if (!req.allowWaitlist)
        return new AppError(ErrorCode.SOLD_OUT, `Not enough berths are free in ${label} for this journey`);
      if (state.waiting + req.passengers > waitlistLimit)
        return new AppError(ErrorCode.SOLD_OUT, `${label} is sold out for this journey and its waitlist is full`);
      return null;
    },

    /** The allocator's view after a batch: kept here and shared through Redis. */
    publish(runId: string, journeys: JourneyReport[]): void {
      const until = Date.now() + STATE_TTL_MS;
      for (const j of journeys)
        local.set(localKey(runId, j.cls, j.quota, j.mask), { blocked: j.blocked, waiting: j.waiting, until });
      if (!redis || journeys.length === 0) return;
      const pipeline = redis.pipeline();
      for (const pool of new Map(journeys.map((j) => [`${j.cls}|${j.quota}`, j])).values()) {
        const key = redisKey(runId, pool.cls, pool.quota);
        const fields = journeys
          .filter((j) => j.cls === pool.cls && j.quota === pool.quota)
          .flatMap((j) => [String(j.mask), `${j.blocked ? 1 : 0}|${j.waiting}`]);
        pipeline.hset(key, ...fields).pexpire(key, STATE_TTL_MS);
      }
      pipeline.exec().catch(() => {});
    },

    /** A run's berths changed hands wholesale (a chart): forget what was known of all its journeys. */
    invalidateRun(runId: string): void {
      for (const key of local.keys()) if (key.startsWith(`${runId}|`)) local.delete(key);
      const keys = Object.values(TravelClass).flatMap((cls) =>
        Object.values(Quota).map((q) => redisKey(runId, cls, q)),
      );
      redis?.del(...keys).catch(() => {});
    },

    /** Berths of (run, class, quota) were freed: forget what was known of its journeys. */
    invalidate(runId: string, cls: TravelClass, quota: Quota): void {
      for (const key of local.keys()) if (key.startsWith(`${runId}|${cls}|${quota}|`)) local.delete(key);
      redis?.del(redisKey(runId, cls, quota)).catch(() => {});
    },
  };
}
export type Refusals = ReturnType<typeof createRefusals>;
