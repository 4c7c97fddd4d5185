// The waitlist a batch decides against: WL counters read fresh in every batch, the journeys
// waiting from the allocator's cache while its fence holds (no other allocator adds to them;
// promotions and cancellations only remove, which leaves the cache cautious), read again every
// few seconds.
import type { TravelClass } from '@tatkal/db';
import type { ClassWaitlist } from '../allocation/allocate.ts';
import type { Tx } from '../inventory.ts';
import { waitingJourneys } from '../lifecycle/index.ts';
import { segmentMask } from '../network.ts';

/** Journeys waiting per class (their masks) and how many passengers wait. */
export type Waiting = Map<TravelClass, { waiting: number; masks: bigint[] }>;

/** Per run: what its allocator (under `fence`) knows waits, and since when. */
export type WaitingCache = Map<string, { fence: bigint; at: number; waiting: Waiting }>;

/** How often an allocator re-reads who waits. */
const WAITING_REFRESH_MS = 5_000;

/** The classes' waitlists for a batch. A copy: a batch that rolls back leaves the cache as it was. */
export async function waitlistsOf(
  tx: Tx,
  cache: WaitingCache,
  runId: string,
  fence: bigint | null,
  classes: TravelClass[],
): Promise<Map<TravelClass, ClassWaitlist>> {
  const counters = await readCounters(tx, runId, classes);
  const cached = cache.get(runId);
  let waiting: Waiting;
  if (
    fence !== null &&
    cached &&
    cached.fence === fence &&
    Date.now() - cached.at < WAITING_REFRESH_MS &&
    classes.every((c) => cached.waiting.has(c))
  ) {
    waiting = cached.waiting;
  } else {
    waiting = await readWaiting(tx, runId, classes);
    if (fence !== null) cache.set(runId, { fence, at: Date.now(), waiting });
    else cache.delete(runId);
  }
  return new Map(
    classes.map((c) => [
      c,
      { last: counters.get(c) ?? 0, waiting: waiting.get(c)!.waiting, masks: [...waiting.get(c)!.masks] },
    ]),
  );
}

/** After a committed batch: what it waitlisted is now part of the run's waitlist. */
export function rememberWaiting(
  cache: WaitingCache,
  runId: string,
  fence: bigint | null,
  waitlists: Map<TravelClass, ClassWaitlist>,
) {
  if (fence === null) return;
  cache.set(runId, {
    fence,
    at: cache.get(runId)?.at ?? Date.now(),
    waiting: new Map([...waitlists].map(([c, w]) => [c, { waiting: w.waiting, masks: [...w.masks] }])),
  });
}

/** The WL counters: read in every batch (WL numbers come from them). One primary-key read. */
async function readCounters(tx: Tx, runId: string, classes: TravelClass[]): Promise<Map<TravelClass, number>> {
  const rows = await tx.$queryRaw<{ class: TravelClass; last: number }[]>`
    SELECT class, last FROM booking.waitlist_counters
    WHERE run_id = ${runId}::uuid AND class = ANY(${classes}::booking."TravelClass"[])`;
  return new Map(rows.map((r) => [r.class, r.last]));
}

/** Who waits, by class: a scan of the run's waitlisted reservations (costly with thousands waiting). */
async function readWaiting(tx: Tx, runId: string, classes: TravelClass[]): Promise<Waiting> {
  const rows = await waitingJourneys(tx, runId, classes);
  const map: Waiting = new Map(classes.map((c) => [c, { waiting: 0, masks: [] }]));
  for (const row of rows) {
    const w = map.get(row.class)!;
    w.waiting += row.n;
    w.masks.push(segmentMask(row.from_seq, row.to_seq));
  }
  return map;
}
