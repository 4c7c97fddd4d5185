// The waitlist a batch decides against: WL counters read fresh in every batch, the journeys
// waiting from the allocator's cache while its fence holds (no other allocator adds to them;
// promotions and cancellations only remove, which leaves the cache cautious), read again every
// few seconds.
import { type ClassWaitlist, type Pool, poolOf, splitPool } from '../allocation/allocate.ts';
import type { Tx } from '../inventory.ts';
import { waitingJourneys } from '../lifecycle/index.ts';
import { segmentMask } from '../network.ts';

/** Journeys waiting per pool (class and quota: WL and RAC masks) and how many passengers are on the WL. */
export type Waiting = Map<Pool, { waiting: number; masks: bigint[]; racMasks: bigint[] }>;

/** Per run: what its allocator (under `fence`) knows waits, and since when. */
export type WaitingCache = Map<string, { fence: bigint; at: number; waiting: Waiting }>;

/** How often an allocator re-reads who waits. */
const WAITING_REFRESH_MS = 5_000;

/** The pools' waitlists for a batch. A copy: a batch that rolls back leaves the cache as it was. */
export async function waitlistsOf(
  tx: Tx,
  cache: WaitingCache,
  runId: string,
  fence: bigint | null,
  pools: Pool[],
): Promise<Map<Pool, ClassWaitlist>> {
  const counters = await readCounters(tx, runId, pools);
  const cached = cache.get(runId);
  let waiting: Waiting;
  if (
    fence !== null &&
    cached &&
    cached.fence === fence &&
    Date.now() - cached.at < WAITING_REFRESH_MS &&
    pools.every((p) => cached.waiting.has(p))
  ) {
    waiting = cached.waiting;
  } else {
    waiting = await readWaiting(tx, runId, pools);
    if (fence !== null) cache.set(runId, { fence, at: Date.now(), waiting });
    else cache.delete(runId);
  }
  return new Map(
    pools.map((p) => {
      const w = waiting.get(p)!;
      const counter = counters.get(p) ?? { last: 0, lastRac: 0 };
      return [
        p,
        {
          last: counter.last,
          waiting: w.waiting,
          masks: [...w.masks],
          racLast: counter.lastRac,
          racMasks: [...w.racMasks],
        },
      ];
    }),
  );
}

/** After a committed batch: what it waitlisted is now part of the run's waitlist. */
export function rememberWaiting(
  cache: WaitingCache,
  runId: string,
  fence: bigint | null,
  waitlists: Map<Pool, ClassWaitlist>,
) {
  if (fence === null) return;
  cache.set(runId, {
    fence,
    at: cache.get(runId)?.at ?? Date.now(),
    waiting: new Map(
      [...waitlists].map(([c, w]) => [c, { waiting: w.waiting, masks: [...w.masks], racMasks: [...w.racMasks] }]),
    ),
  });
}

/**
 * The WL and RAC counters, locked: WL and RAC numbers come from them, and promotions (which
 * issue RAC numbers too) take the same row lock first (lifecycle/promote.ts lockPools).
 */
async function readCounters(
  tx: Tx,
  runId: string,
  pools: Pool[],
): Promise<Map<Pool, { last: number; lastRac: number }>> {
  const keys = pools.map(splitPool);
  const rows = await tx.$queryRaw<{ class: string; quota: string; last: number; last_rac: number }[]>`
    SELECT w.class, w.quota, w.last, w.last_rac FROM booking.waitlist_counters w
    JOIN unnest(${keys.map((k) => k.cls)}::booking."TravelClass"[], ${keys.map((k) => k.quota)}::booking."Quota"[])
      AS k(class, quota) ON k.class = w.class AND k.quota = w.quota
    WHERE w.run_id = ${runId}::uuid
    ORDER BY w.class, w.quota FOR UPDATE OF w`;
  return new Map(rows.map((r) => [`${r.class}|${r.quota}` as Pool, { last: r.last, lastRac: r.last_rac }]));
}

/** Who waits, by class: a scan of the run's waitlisted reservations (costly with thousands waiting). */
async function readWaiting(tx: Tx, runId: string, pools: Pool[]): Promise<Waiting> {
  const rows = await waitingJourneys(tx, runId, pools.map(splitPool));
  const map: Waiting = new Map(pools.map((p) => [p, { waiting: 0, masks: [], racMasks: [] }]));
  for (const row of rows) {
    const w = map.get(poolOf(row.class, row.quota));
    if (!w) continue;
    const mask = segmentMask(row.from_seq, row.to_seq);
    if (row.rac) w.racMasks.push(mask);
    else {
      w.waiting += row.n;
      w.masks.push(mask);
    }
  }
  return map;
}
