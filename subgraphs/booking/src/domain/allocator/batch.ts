// One batch of a run's queue, decided in one Prisma interactive transaction:
//   BEGIN -> the allocator row FOR UPDATE (fence checked again) -> the batch's QUEUED rows
//   FOR UPDATE -> the run's free berths FOR UPDATE -> decide in memory (allocation/) -> one write
//   statement (lifecycle's decideBatch) -> COMMIT.
// A batch that fails for a reason other than contention is retried by halves, so one bad request
// fails alone.
import type { Quota, TravelClass } from '@tatkal/db';
import { ErrorCode, errorOutcome, isRetryableDbError, tryAgain } from '@tatkal/common';
import {
  allocateBatch,
  type ClassWaitlist,
  type Pool,
  poolOf,
  type QueuedRequest,
  type RacSlotState,
  type RunSeat,
  splitPool,
} from '../allocation/allocate.ts';
import { createInventory, type Tx } from '../inventory.ts';
import type { TrainLayout } from '../layout.ts';
import {
  type Decided,
  decideBatch,
  type LoadedRequest,
  queuedIds,
  refuseAlone,
  ReservationStatus,
} from '../lifecycle/index.ts';
import { segmentMask } from '../network.ts';
import type { AllocatorDeps } from './deps.ts';
import { describe } from './outcome.ts';
import { rememberWaiting, type WaitingCache, waitlistsOf } from './waitlists.ts';

/** A newer allocator holds the run (its fencing token is higher): this one stops. */
export class LeaseLost extends Error {}

export interface BatchReport {
  runId: string;
  decided: Decided[];
  doneTicket: number;
  /** Per journey of the batch: no berth a newcomer could get (sold out, or a waitlist ahead). */
  journeys: { cls: TravelClass; quota: Quota; mask: bigint; blocked: boolean; waiting: number }[];
  ms: number;
  /** The pools' waitlists after the batch. */
  waitlists: Map<Pool, ClassWaitlist>;
}

/** What a batch works with: the allocator's collaborators and its waitlist cache. */
export type BatchContext = AllocatorDeps & { waiting: WaitingCache };

/**
 * Decides the run's next batch; contention (deadlock, time-outs) is retried as a whole, any
 * other failure by halves. Returns how many requests were decided.
 */
export async function decideNext(ctx: BatchContext, runId: string, fence: bigint | null): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      return report(ctx, await settleBatch(ctx, runId, fence, null));
    } catch (err) {
      if (err instanceof LeaseLost) throw err;
      if (isRetryableDbError(err) && attempt < 3) continue;
      ctx.logger.warn({ err, runId }, 'allocation batch failed; retrying it by halves');
      return byHalves(ctx, runId, fence, await queuedIds(ctx.prisma, runId, ctx.settings.batchSize));
    }
  }
}

function report(ctx: BatchContext, batch: BatchReport | null): number {
  if (batch) ctx.onBatch(batch);
  return batch?.decided.length ?? 0;
}

async function byHalves(ctx: BatchContext, runId: string, fence: bigint | null, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  try {
    return report(ctx, await settleBatch(ctx, runId, fence, ids));
  } catch (err) {
    if (err instanceof LeaseLost) throw err;
    if (ids.length === 1) return failAlone(ctx, runId, ids[0]!, err);
    const half = Math.ceil(ids.length / 2);
    return (
      (await byHalves(ctx, runId, fence, ids.slice(0, half))) + (await byHalves(ctx, runId, fence, ids.slice(half)))
    );
  }
}

/** The one request that cannot be written: refused with TRY_AGAIN, its key forgotten. */
async function failAlone(ctx: BatchContext, runId: string, id: string, err: unknown): Promise<number> {
  ctx.logger.error(
    { err, runId, reservationId: id },
    'a queued request could not be allocated; refused with TRY_AGAIN',
  );
  await refuseAlone(ctx.prisma, ctx.idempotency, id, ErrorCode.TRY_AGAIN);
  ctx.onFailed(
    id,
    errorOutcome(
      tryAgain('Your request could not be completed; retry it with the same idempotency key', { retryAfterMs: 500 }),
    ),
  );
  return 1;
}

/** Decides the next batch (or the given reservations) in one transaction. */
export async function settleBatch(
  ctx: BatchContext,
  runId: string,
  fence: bigint | null,
  only: string[] | null,
): Promise<BatchReport | null> {
  const started = performance.now();
  const run = await ctx.layouts.run(runId);
  if (!run) return null;
  const layout = await ctx.layouts.layout(run.trainId);
  const batch = await ctx.prisma.$transaction(
    async (tx): Promise<BatchReport | null> => {
      await lockAllocator(tx, run, fence);
      const requests = await loadQueued(tx, runId, only, ctx.settings.batchSize, layout);
      if (requests.length === 0) return null;
      const pools = [...new Set(requests.map((r) => poolOf(r.cls, r.quota)))];
      const waitlists = await waitlistsOf(tx, ctx.waiting, runId, fence, pools);
      const seats = await lockFreeBerths(tx, runId, requests, layout);
      const racSlots = await lockRacSlots(tx, runId, requests, seats, waitlists);
      const decisions = allocateBatch(requests, seats, waitlists, ctx.settings.waitlistLimit, racSlots);
      const now = new Date();
      const decided = requests.map((request, i) => describe(runId, request, decisions[i]!, layout, ctx.settings, now));
      const doneTicket = Math.max(...requests.map((r) => r.ticket));
      await decideBatch(
        tx,
        ctx.idempotency,
        runId,
        decided,
        (id) => layout.seats.get(id)!,
        new Map([...waitlists].map(([pool, w]) => [pool, { last: w.last, racLast: w.racLast }])),
        doneTicket,
        ctx.settings.holdTtlMs,
        now,
      );
      return { runId, decided, doneTicket, journeys: journeysOf(requests, seats, waitlists), ms: 0, waitlists };
    },
    { maxWait: ctx.settings.txMaxWaitMs, timeout: ctx.settings.txTimeoutMs },
  );
  if (batch) {
    batch.ms = performance.now() - started;
    rememberWaiting(ctx.waiting, runId, fence, batch.waitlists);
  }
  return batch;
}

/** Locks the run's allocator row and checks the fence; a run without inventory gets it here. */
async function lockAllocator(tx: Tx, run: { id: string; inventoryReady: boolean }, fence: bigint | null) {
  const lock = () =>
    tx.$queryRaw<
      { fence: bigint }[]
    >`SELECT fence FROM booking.run_allocators WHERE run_id = ${run.id}::uuid FOR UPDATE`;
  let allocator = await lock();
  if (!allocator[0] || !run.inventoryReady) {
    // Not prepared ahead (a run created inside the window): created here, by its only
    // allocator (createInventory does nothing for a run already ready).
    if (await createInventory(tx, [run.id])) run.inventoryReady = true;
    allocator = await lock();
  }
  if (fence !== null && allocator[0]!.fence !== fence) throw new LeaseLost();
}

/** The next queued requests in ticket order, locked, with their passengers (one statement). */
async function loadQueued(
  tx: Tx,
  runId: string,
  only: string[] | null,
  limit: number,
  layout: TrainLayout,
): Promise<LoadedRequest[]> {
  const rows = await tx.$queryRaw<
    {
      id: string;
      pnr: string;
      user_id: string;
      queue_ticket: number;
      class: TravelClass;
      quota: Quota;
      from_seq: number;
      to_seq: number;
      allow_waitlist: boolean;
      fare_paise: number;
      fare: LoadedRequest['fare'];
      created_at: Date;
      idempotency_key: string | null;
      passengers: LoadedRequest['passengers'];
    }[]
  >`
    WITH q AS (
      SELECT id, pnr, user_id, queue_ticket, class, quota, from_seq, to_seq, allow_waitlist, fare_paise, fare,
             created_at, idempotency_key
      FROM booking.reservations
      WHERE run_id = ${runId}::uuid AND status = ${ReservationStatus.QUEUED}::booking."ReservationStatus"
        AND queue_ticket IS NOT NULL -- not those still in a waiting room
        AND (${only}::uuid[] IS NULL OR id = ANY(${only}::uuid[]))
      ORDER BY queue_ticket LIMIT ${limit}
      -- Not SKIP LOCKED: a row another transaction holds (a cancellation) is waited for, never
      -- overtaken by a later ticket. The allocator row's lock already keeps allocators apart.
      FOR UPDATE)
    SELECT q.id::text, q.pnr, q.user_id::text, q.queue_ticket, q.class, q.quota, q.from_seq, q.to_seq, q.allow_waitlist,
           q.fare_paise, q.fare, q.created_at, q.idempotency_key,
           json_agg(json_build_object('id', p.id, 'name', p.name, 'age', p.age, 'gender', p.gender,
                                      'berthPreference', p.berth_preference, 'farePaise', p.fare_paise,
                                      'requestedSeatId', p.requested_seat_id) ORDER BY p.position) AS passengers
    FROM q JOIN booking.passengers p ON p.reservation_id = q.id
    GROUP BY q.id, q.pnr, q.user_id, q.queue_ticket, q.class, q.quota, q.from_seq, q.to_seq, q.allow_waitlist,
             q.fare_paise, q.fare, q.created_at, q.idempotency_key
    ORDER BY q.queue_ticket`;
  return rows.map((r) => ({
    id: r.id,
    pnr: r.pnr,
    userId: r.user_id,
    ticket: r.queue_ticket,
    cls: r.class,
    quota: r.quota,
    fromSeq: r.from_seq,
    toSeq: r.to_seq,
    fromCode: layout.stops[r.from_seq]!.station.code,
    toCode: layout.stops[r.to_seq]!.station.code,
    mask: segmentMask(r.from_seq, r.to_seq),
    allowWaitlist: r.allow_waitlist,
    farePaise: r.fare_paise,
    fare: r.fare,
    createdAt: r.created_at,
    idempotencyKey: r.idempotency_key,
    passengers: r.passengers,
  }));
}

/** Only berths free for some journey of the batch can change hands: those are locked. */
async function lockFreeBerths(
  tx: Tx,
  runId: string,
  requests: LoadedRequest[],
  layout: TrainLayout,
): Promise<Map<number, RunSeat>> {
  const pools = [...new Map(requests.map((r) => [poolOf(r.cls, r.quota), r])).values()];
  const poolClasses = pools.map((p) => p.cls);
  const poolQuotas = pools.map((p) => p.quota);
  const masks = [...new Set(requests.map((r) => r.mask))];
  const rows = await tx.$queryRaw<{ seat_id: number; quota: Quota; occupied_mask: bigint }[]>`
    SELECT seat_id, quota, occupied_mask FROM booking.run_seats
    WHERE run_id = ${runId}::uuid AND NOT rac
      AND (class, quota) IN (
        SELECT * FROM unnest(${poolClasses}::booking."TravelClass"[], ${poolQuotas}::booking."Quota"[])
      )
      AND EXISTS (
        SELECT 1 FROM unnest(${masks.map(String)}::bigint[]) AS m(mask) WHERE occupied_mask & m.mask = 0
      )
    ORDER BY seat_id FOR UPDATE`;
  const seats = new Map<number, RunSeat>();
  for (const s of rows) {
    const info = layout.seats.get(s.seat_id);
    if (info) seats.set(s.seat_id, { ...info, quota: s.quota, occupiedMask: s.occupied_mask });
  }
  return seats;
}

/**
 * The classes whose RAC halves a batch must read: GENERAL pools whose berths may not be enough for
 * the batch's requests (fewer free than asked for, every request counted since those refusing a
 * waitlist take berths too; several journeys, whose free berths differ; or someone already
 * waiting). A rush that still has berths pays nothing for RAC.
 */
export function classesNeedingRac(
  requests: Pick<QueuedRequest, 'cls' | 'quota' | 'mask' | 'passengers'>[],
  seats: Map<number, RunSeat>,
  waitlists: Map<Pool, ClassWaitlist>,
): TravelClass[] {
  const asked = new Map<Pool, { n: number; masks: Set<bigint> }>();
  for (const r of requests) {
    if (r.quota !== 'GENERAL') continue;
    const a = asked.get(poolOf(r.cls, r.quota)) ?? { n: 0, masks: new Set<bigint>() };
    a.n += r.passengers.length;
    a.masks.add(r.mask);
    asked.set(poolOf(r.cls, r.quota), a);
  }
  const free = new Map<Pool, number>();
  for (const s of seats.values()) free.set(poolOf(s.class, s.quota), (free.get(poolOf(s.class, s.quota)) ?? 0) + 1);
  return [...asked]
    .filter(([pool, a]) => {
      const wl = waitlists.get(pool);
      const waiting = wl !== undefined && (wl.masks.length > 0 || wl.racMasks.length > 0);
      return (free.get(pool) ?? 0) < a.n || a.masks.size > 1 || waiting;
    })
    .map(([pool]) => splitPool(pool).cls);
}

/** The free RAC halves of the classes `classesNeedingRac` names, locked. */
async function lockRacSlots(
  tx: Tx,
  runId: string,
  requests: LoadedRequest[],
  seats: Map<number, RunSeat>,
  waitlists: Map<Pool, ClassWaitlist>,
): Promise<Map<Pool, RacSlotState[]>> {
  const classes = classesNeedingRac(requests, seats, waitlists);
  if (classes.length === 0) return new Map();
  const masks = [...new Set(requests.map((r) => r.mask))];
  const rows = await tx.$queryRaw<{ seat_id: number; slot: number; class: TravelClass; occupied_mask: bigint }[]>`
    SELECT seat_id, slot, class, occupied_mask FROM booking.rac_slots
    WHERE run_id = ${runId}::uuid AND class = ANY(${classes}::booking."TravelClass"[])
      AND EXISTS (
        SELECT 1 FROM unnest(${masks.map(String)}::bigint[]) AS m(mask) WHERE occupied_mask & m.mask = 0
      )
    ORDER BY seat_id, slot FOR UPDATE`;
  const slots = new Map<Pool, RacSlotState[]>();
  for (const r of rows) {
    const pool = poolOf(r.class, 'GENERAL');
    const list = slots.get(pool) ?? [];
    list.push({ seatId: r.seat_id, slot: r.slot, occupiedMask: r.occupied_mask });
    slots.set(pool, list);
  }
  return slots;
}

/** Per journey of the batch: whether a newcomer could still get a berth (for cheap refusals). */
function journeysOf(
  requests: LoadedRequest[],
  seats: Map<number, RunSeat>,
  waitlists: Map<Pool, ClassWaitlist>,
): BatchReport['journeys'] {
  return [...new Map(requests.map((r) => [`${r.cls}|${r.quota}|${r.mask}`, r])).values()].map((r) => {
    const wl = waitlists.get(poolOf(r.cls, r.quota))!;
    const open = [...seats.values()].some(
      (s) => s.class === r.cls && s.quota === r.quota && (s.occupiedMask & r.mask) === 0n,
    );
    return {
      cls: r.cls,
      quota: r.quota,
      mask: r.mask,
      blocked: !open || wl.masks.some((m) => (m & r.mask) !== 0n) || wl.racMasks.some((m) => (m & r.mask) !== 0n),
      waiting: wl.waiting,
    };
  });
}
