// One allocator per run at a time drains the run's queue in ticket order, a batch per Prisma
// interactive transaction (docs/architecture.md, "The reservation path"):
//   Redis lease (SET NX PX) + fencing token -> BEGIN -> the allocator row FOR UPDATE (fence
//   checked again) -> the batch's QUEUED rows FOR UPDATE -> the run's free berths
//   FOR UPDATE -> decide in memory (allocate.ts) -> one write statement (write.ts) -> COMMIT.
// Redis is an accelerator: without it every booking instance may drain, and the allocator row's
// lock serializes them. A batch that fails for a reason other than contention is retried by
// halves, so one bad request fails alone.
import type { PrismaClient, TravelClass } from '@tatkal/db';
import {
  AppError,
  ErrorCode,
  errorOutcome,
  isRetryableDbError,
  successOutcome,
  tryAgain,
  type Idempotency,
  type LeaseManager,
  type Logger,
  type Stored,
} from '@tatkal/common';
import { allocateBatch, type ClassWaitlist, type Decision, type RunSeat } from './allocate.ts';
import { createInventory, type Tx } from './inventory.ts';
import type { LayoutCache, TrainLayout } from './layout.ts';
import { segmentMask } from './network.ts';
import { transition } from './status.ts';
import type { ReservationSettings, ReservationView } from './types.ts';
import { OPERATION, writeDecisions, type Decided, type LoadedRequest } from './write.ts';

/** A newer allocator holds the run (its fencing token is higher): this one stops. */
class LeaseLost extends Error {}

export interface BatchReport {
  runId: string;
  decided: Decided[];
  doneTicket: number;
  /** Per journey of the batch: no berth a newcomer could get (sold out, or a waitlist ahead). */
  journeys: { cls: TravelClass; mask: bigint; blocked: boolean; waiting: number }[];
  ms: number;
  /** The classes' waitlists after the batch. */
  waitlists: Map<TravelClass, ClassWaitlist>;
}

export interface AllocatorDeps {
  prisma: PrismaClient;
  idempotency: Idempotency;
  layouts: LayoutCache;
  leases: LeaseManager;
  settings: ReservationSettings;
  logger: Logger;
  /** After each committed batch: settle waiters, publish refusal state and progress, metrics. */
  onBatch: (report: BatchReport) => void;
  /** A request that failed alone, for good (its record is forgotten: a retry starts afresh). */
  onFailed: (reservationId: string, stored: Stored) => void;
}

/** The Redis key of a run's allocator lease (tests take it over as another instance would). */
export const allocatorLeaseKey = (runId: string) => `booking:allocator:${runId}`;
/** How often an allocator re-reads who waits (see waitlistsOf). */
const WAITING_REFRESH_MS = 5_000;
/** How long an idle allocator keeps its lease for the next request (other instances wait that long). */
const LINGER_MS = 300;

export function createAllocator(deps: AllocatorDeps) {
  const { prisma, settings } = deps;
  const draining = new Set<string>();
  const again = new Set<string>();
  const wake = new Map<string, (kicked: boolean) => void>();
  const waitingCache = new Map<string, { fence: bigint; at: number; waiting: Waiting }>();
  let closing = false;

  /** A new lease holder bumps the fence; a batch of an older holder then finds it changed. */
  async function takeFence(runId: string): Promise<bigint> {
    const rows = await prisma.$queryRaw<{ fence: bigint }[]>`
      INSERT INTO booking.run_allocators AS a (run_id, fence) VALUES (${runId}::uuid, 1)
      ON CONFLICT (run_id) DO UPDATE SET fence = a.fence + 1, updated_at = now()
      RETURNING fence`;
    return rows[0]!.fence;
  }

  /** The next queued requests in ticket order, locked, with their passengers (one statement). */
  async function load(tx: Tx, runId: string, only: string[] | null) {
    type Row = {
      id: string;
      pnr: string;
      user_id: string;
      queue_ticket: number;
      class: TravelClass;
      from_seq: number;
      to_seq: number;
      allow_waitlist: boolean;
      fare_paise: number;
      created_at: Date;
      idempotency_key: string | null;
      passengers: {
        id: string;
        name: string;
        age: number;
        gender: string;
        berthPreference: LoadedRequest['passengers'][number]['berthPreference'];
        farePaise: number;
        requestedSeatId: number | null;
      }[];
    };
    return tx.$queryRaw<Row[]>`
      WITH q AS (
        SELECT id, pnr, user_id, queue_ticket, class, from_seq, to_seq, allow_waitlist, fare_paise, created_at,
               idempotency_key
        FROM booking.reservations
        WHERE run_id = ${runId}::uuid AND status = 'QUEUED'
          AND (${only}::uuid[] IS NULL OR id = ANY(${only}::uuid[]))
        ORDER BY queue_ticket LIMIT ${settings.batchSize}
        -- Not SKIP LOCKED: a row another transaction holds (a cancellation) is waited for, never
        -- overtaken by a later ticket. The allocator row's lock already keeps allocators apart.
        FOR UPDATE)
      SELECT q.id::text, q.pnr, q.user_id::text, q.queue_ticket, q.class, q.from_seq, q.to_seq, q.allow_waitlist,
             q.fare_paise, q.created_at, q.idempotency_key,
             json_agg(json_build_object('id', p.id, 'name', p.name, 'age', p.age, 'gender', p.gender,
                                        'berthPreference', p.berth_preference, 'farePaise', p.fare_paise,
                                        'requestedSeatId', p.requested_seat_id) ORDER BY p.position) AS passengers
      FROM q JOIN booking.passengers p ON p.reservation_id = q.id
      GROUP BY q.id, q.pnr, q.user_id, q.queue_ticket, q.class, q.from_seq, q.to_seq, q.allow_waitlist, q.fare_paise,
               q.created_at, q.idempotency_key
      ORDER BY q.queue_ticket`;
  }

  /** Decides the next batch (or the given reservations) in one transaction. */
  async function runBatch(runId: string, fence: bigint | null, only: string[] | null): Promise<BatchReport | null> {
    const started = performance.now();
    const run = await deps.layouts.run(runId);
    if (!run) return null;
    const layout = await deps.layouts.layout(run.trainId);
    const report = await prisma.$transaction(
      async (tx): Promise<BatchReport | null> => {
        let allocator = await tx.$queryRaw<
          { fence: bigint }[]
        >`SELECT fence FROM booking.run_allocators WHERE run_id = ${runId}::uuid FOR UPDATE`;
        if (!allocator[0] || !run.inventoryReady) {
          // Not prepared ahead (a run created inside the window): created here, by its only
          // allocator (createInventory does nothing for a run already ready).
          if (await createInventory(tx, [runId])) run.inventoryReady = true;
          allocator = await tx.$queryRaw<
            { fence: bigint }[]
          >`SELECT fence FROM booking.run_allocators WHERE run_id = ${runId}::uuid FOR UPDATE`;
        }
        if (fence !== null && allocator[0]!.fence !== fence) throw new LeaseLost();
        const rows = await load(tx, runId, only);
        if (rows.length === 0) return null;
        const requests: LoadedRequest[] = rows.map((r) => ({
          id: r.id,
          pnr: r.pnr,
          userId: r.user_id,
          ticket: r.queue_ticket,
          cls: r.class,
          fromSeq: r.from_seq,
          toSeq: r.to_seq,
          fromCode: layout.stops[r.from_seq]!.station.code,
          toCode: layout.stops[r.to_seq]!.station.code,
          mask: segmentMask(r.from_seq, r.to_seq),
          allowWaitlist: r.allow_waitlist,
          farePaise: r.fare_paise,
          createdAt: r.created_at,
          idempotencyKey: r.idempotency_key,
          passengers: r.passengers,
        }));
        const classes = [...new Set(requests.map((r) => r.cls))];
        const masks = [...new Set(requests.map((r) => r.mask))];
        // Only berths free for some journey of the batch can change hands: lock those.
        const seatRows = await tx.$queryRaw<{ seat_id: number; occupied_mask: bigint }[]>`
          SELECT seat_id, occupied_mask FROM booking.run_seats
          WHERE run_id = ${runId}::uuid AND class = ANY(${classes}::booking."TravelClass"[])
            AND EXISTS (
              SELECT 1 FROM unnest(${masks.map(String)}::bigint[]) AS m(mask) WHERE occupied_mask & m.mask = 0
            )
          ORDER BY seat_id FOR UPDATE`;
        const seats = new Map<number, RunSeat>();
        for (const s of seatRows) {
          const info = layout.seats.get(s.seat_id);
          if (info) seats.set(s.seat_id, { ...info, occupiedMask: s.occupied_mask });
        }
        const waitlists = await waitlistsOf(tx, runId, fence, classes);
        const decisions = allocateBatch(requests, seats, waitlists, settings.waitlistLimit);
        const now = new Date();
        const decided = requests.map((request, i) => describe(runId, request, decisions[i]!, layout, settings, now));
        const doneTicket = Math.max(...requests.map((r) => r.ticket));
        await writeDecisions(
          tx,
          deps.idempotency,
          runId,
          decided,
          (id) => layout.seats.get(id)!,
          new Map([...waitlists].map(([cls, w]) => [cls, w.last])),
          doneTicket,
          settings.holdTtlMs,
          now,
        );
        const journeys = [...new Map(requests.map((r) => [`${r.cls}|${r.mask}`, r])).values()].map((r) => {
          const wl = waitlists.get(r.cls)!;
          const open = [...seats.values()].some((s) => s.class === r.cls && (s.occupiedMask & r.mask) === 0n);
          return {
            cls: r.cls,
            mask: r.mask,
            blocked: !open || wl.masks.some((m) => (m & r.mask) !== 0n),
            waiting: wl.waiting,
          };
        });
        return { runId, decided, doneTicket, journeys, ms: 0, waitlists };
      },
      { maxWait: settings.txMaxWaitMs, timeout: settings.txTimeoutMs },
    );
    if (report) {
      report.ms = performance.now() - started;
      // Committed: what this batch waitlisted is now part of the run's waitlist.
      if (fence !== null)
        waitingCache.set(runId, {
          fence,
          at: waitingCache.get(runId)?.at ?? Date.now(),
          waiting: new Map([...report.waitlists].map(([c, w]) => [c, { waiting: w.waiting, masks: [...w.masks] }])),
        });
    }
    return report;
  }

  /**
   * The class's waitlist for a batch: the WL counters read fresh, the journeys waiting from this
   * allocator's cache while its fence holds (no other allocator adds to them; promotions and
   * cancellations only remove, which leaves the cache cautious), read again every few seconds.
   * A copy: a batch that rolls back leaves the cache as it was.
   */
  async function waitlistsOf(
    tx: Tx,
    runId: string,
    fence: bigint | null,
    classes: TravelClass[],
  ): Promise<Map<TravelClass, ClassWaitlist>> {
    const counters = await readCounters(tx, runId, classes);
    const cached = waitingCache.get(runId);
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
      if (fence !== null) waitingCache.set(runId, { fence, at: Date.now(), waiting });
      else waitingCache.delete(runId);
    }
    return new Map(
      classes.map((c) => [
        c,
        { last: counters.get(c) ?? 0, waiting: waiting.get(c)!.waiting, masks: [...waiting.get(c)!.masks] },
      ]),
    );
  }

  /** Retries contention (deadlock, time-outs) as a whole; any other failure by halves. */
  async function decide(runId: string, fence: bigint | null): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      try {
        const report = await runBatch(runId, fence, null);
        if (report) deps.onBatch(report);
        return report?.decided.length ?? 0;
      } catch (err) {
        if (err instanceof LeaseLost) throw err;
        if (isRetryableDbError(err) && attempt < 3) continue;
        deps.logger.warn({ err, runId }, 'allocation batch failed; retrying it by halves');
        const ids = await prisma.$queryRaw<{ id: string }[]>`
          SELECT id::text FROM booking.reservations WHERE run_id = ${runId}::uuid AND status = 'QUEUED'
          ORDER BY queue_ticket LIMIT ${settings.batchSize}`;
        return byHalves(
          runId,
          fence,
          ids.map((r) => r.id),
        );
      }
    }
  }

  async function byHalves(runId: string, fence: bigint | null, ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    try {
      const report = await runBatch(runId, fence, ids);
      if (report) deps.onBatch(report);
      return report?.decided.length ?? 0;
    } catch (err) {
      if (err instanceof LeaseLost) throw err;
      if (ids.length === 1) return failAlone(runId, ids[0]!, err);
      const half = Math.ceil(ids.length / 2);
      return (await byHalves(runId, fence, ids.slice(0, half))) + (await byHalves(runId, fence, ids.slice(half)));
    }
  }

  /** The one request that cannot be written: REFUSED with TRY_AGAIN, its key forgotten. */
  async function failAlone(runId: string, id: string, err: unknown): Promise<number> {
    deps.logger.error(
      { err, runId, reservationId: id },
      'a queued request could not be allocated; refused with TRY_AGAIN',
    );
    const rows = await prisma.$queryRaw<{ user_id: string; idempotency_key: string | null }[]>`
      UPDATE booking.reservations
      SET status = ${transition('QUEUED', 'REFUSED')}::booking."ReservationStatus",
          refusal_code = ${ErrorCode.TRY_AGAIN}, updated_at = now()
      WHERE id = ${id}::uuid AND status = 'QUEUED' RETURNING user_id::text, idempotency_key`;
    await prisma.$executeRaw`UPDATE booking.passengers SET status = 'REFUSED' WHERE reservation_id = ${id}::uuid`;
    const row = rows[0];
    if (row?.idempotency_key)
      await deps.idempotency.forget(prisma, OPERATION, [{ userId: row.user_id, key: row.idempotency_key }]);
    deps.onFailed(
      id,
      errorOutcome(
        tryAgain('Your request could not be completed; retry it with the same idempotency key', { retryAfterMs: 500 }),
      ),
    );
    return 1;
  }

  /** Resolves true when the run is kicked within `ms` (work arrived), false otherwise. */
  function kickedWithin(runId: string, ms: number): Promise<boolean> {
    if (closing) return Promise.resolve(false);
    if (again.delete(runId)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => wake.get(runId)?.(false), ms);
      wake.set(runId, (kicked) => {
        clearTimeout(timer);
        wake.delete(runId);
        if (kicked) again.delete(runId);
        resolve(kicked);
      });
    });
  }

  async function drain(runId: string): Promise<void> {
    const lease = await deps.leases.acquire(allocatorLeaseKey(runId));
    if (lease === null) return; // another instance is draining this run
    const fence = lease === 'unavailable' ? null : await takeFence(runId);
    try {
      for (;;) {
        // A partial batch emptied the queue: stop reading until the next kick.
        while ((await decide(runId, fence)) >= settings.batchSize) {
          if (lease !== 'unavailable' && !(await deps.leases.renew(lease))) return;
        }
        // In a rush the next requests come within milliseconds: keep the lease and fence a
        // moment for them rather than taking both again for each small batch.
        if (!(await kickedWithin(runId, LINGER_MS))) return;
        if (lease !== 'unavailable' && !(await deps.leases.renew(lease))) return;
      }
    } catch (err) {
      if (err instanceof LeaseLost) deps.logger.warn({ runId }, 'allocator lease lost to a newer holder; stopping');
      else deps.logger.error({ err, runId }, 'allocator stopped; queued requests wait for the next kick');
    } finally {
      if (lease !== 'unavailable') await deps.leases.release(lease);
    }
  }

  return {
    /** Makes sure the run's queue is being drained (here, or by the instance holding its lease). */
    kick(runId: string): void {
      if (draining.has(runId)) {
        again.add(runId);
        wake.get(runId)?.(true);
        return;
      }
      draining.add(runId);
      void drain(runId).finally(() => {
        draining.delete(runId);
        if (again.delete(runId)) this.kick(runId);
      });
    },
    /** True while this process holds the run's allocator (draining or lingering). */
    isDraining: (runId: string) => draining.has(runId),
    /** Runs with queued requests (after a crash or a lost kick): each is kicked. */
    async resume(): Promise<number> {
      const runs = await prisma.$queryRaw<
        { run_id: string }[]
      >`SELECT DISTINCT run_id::text FROM booking.reservations WHERE status = 'QUEUED'`;
      for (const r of runs) this.kick(r.run_id);
      return runs.length;
    },
    /** Resolves when no run is being drained in this process (tests, shutdown): lingering ends at once. */
    async idle(): Promise<void> {
      closing = true;
      while (draining.size > 0) {
        for (const stop of wake.values()) stop(false);
        await new Promise((r) => setTimeout(r, 10));
      }
      closing = false;
    },
  };
}
export type Allocator = ReturnType<typeof createAllocator>;

/** Journeys waiting per class (their masks) and how many passengers wait. */
type Waiting = Map<TravelClass, { waiting: number; masks: bigint[] }>;

/** The WL counters: read in every batch (WL numbers come from them). One primary-key read. */
async function readCounters(tx: Tx, runId: string, classes: TravelClass[]): Promise<Map<TravelClass, number>> {
  const rows = await tx.$queryRaw<{ class: TravelClass; last: number }[]>`
    SELECT class, last FROM booking.waitlist_counters
    WHERE run_id = ${runId}::uuid AND class = ANY(${classes}::booking."TravelClass"[])`;
  return new Map(rows.map((r) => [r.class, r.last]));
}

/** Who waits, by class: a scan of the run's waitlisted reservations (costly with thousands waiting). */
async function readWaiting(tx: Tx, runId: string, classes: TravelClass[]): Promise<Waiting> {
  const rows = await tx.$queryRaw<{ class: TravelClass; from_seq: number; to_seq: number; n: number }[]>`
    SELECT r.class, r.from_seq, r.to_seq, count(*)::int AS n
    FROM booking.reservations r JOIN booking.passengers p ON p.reservation_id = r.id AND p.status = 'WAITLISTED'
    WHERE r.run_id = ${runId}::uuid AND r.class = ANY(${classes}::booking."TravelClass"[]) AND r.status = 'WAITLISTED'
    GROUP BY r.class, r.from_seq, r.to_seq`;
  const map: Waiting = new Map(classes.map((c) => [c, { waiting: 0, masks: [] }]));
  for (const row of rows) {
    const w = map.get(row.class)!;
    w.waiting += row.n;
    w.masks.push(segmentMask(row.from_seq, row.to_seq));
  }
  return map;
}

/** The view and the stored outcome of one decided request. */
function describe(
  runId: string,
  r: LoadedRequest,
  decision: Decision,
  layout: TrainLayout,
  settings: ReservationSettings,
  now: Date,
): Decided {
  if (decision.status === 'REFUSED') {
    return {
      request: r,
      decision,
      view: null,
      stored: errorOutcome(new AppError(ErrorCode[decision.code], decision.reason)),
    };
  }
  const seatIds = decision.status === 'HELD' ? decision.seatIds : null;
  const view: ReservationView = {
    id: r.id,
    pnr: r.pnr,
    status: decision.status,
    runId,
    fromCode: r.fromCode,
    toCode: r.toCode,
    class: r.cls,
    farePaise: r.farePaise,
    holdExpiresAt: seatIds ? new Date(now.getTime() + settings.holdTtlMs).toISOString() : null,
    createdAt: r.createdAt.toISOString(),
    queueTicket: null,
    refusalCode: null,
    passengers: r.passengers.map((p, i) => {
      const seat = seatIds ? layout.seats.get(seatIds[i]!)! : null;
      return {
        id: p.id,
        name: p.name,
        age: p.age,
        gender: p.gender as ReservationView['passengers'][number]['gender'],
        berthPreference: p.berthPreference,
        status: decision.status,
        coach: seat?.coach ?? null,
        berth: seat?.number ?? null,
        berthType: seat?.berthType ?? null,
        waitlistNumber: decision.status === 'WAITLISTED' ? decision.waitlistNumbers[i]! : null,
        farePaise: p.farePaise,
      };
    }),
  };
  return { request: r, decision, view, stored: successOutcome(view) };
}
