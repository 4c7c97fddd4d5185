// The reservation queue (12306's order queue): a validated request is written as a QUEUED
// reservation with its arrival ticket (group-committed: one statement for every request that
// arrived meanwhile), then waits for the run's allocator (allocator.ts) up to `queueWaitMs`. It
// answers the outcome when it comes in time, otherwise QUEUED with the PNR, a position and an
// estimated wait; `reservation(pnr)` shows the outcome later. Once answered, a request is in
// the database: a crash of this process cannot lose it (a restarted allocator resumes it).
import { randomInt, randomUUID } from 'node:crypto';
import type { PrismaClient } from '@tatkal/db';
import {
  errorOutcome,
  keyReused,
  resultOf,
  successOutcome,
  tryAgain,
  type Idempotency,
  type LeaseManager,
  type Logger,
  type Redis,
  type Stored,
} from '@tatkal/common';
import { createAllocator, type BatchReport } from './allocator.ts';
import type { LayoutCache } from './layout.ts';
import type { Refusals } from './refusals.ts';
import type { ReservationSettings, ReservationView, ReserveInput, ValidRequest } from './types.ts';
import { validateReserve } from './validate.ts';
import { insertQueued, OPERATION, type IntakeItem } from './write.ts';

export interface QueueDeps {
  prisma: PrismaClient;
  redis: Redis | null;
  idempotency: Idempotency;
  layouts: LayoutCache;
  leases: LeaseManager;
  refusals: Refusals;
  settings: ReservationSettings;
  logger: Logger;
  /** Outcome counters (metrics): held, waitlisted, queued, replayed, or an error code in lower case. */
  onOutcome?: (outcome: string) => void;
  onBatch?: (report: BatchReport) => void;
}

/** A view with its place in the queue, as `reserveSeats` and `reservation(pnr)` answer it. */
export type QueuedView = ReservationView & { queuePosition?: number | null; estimatedWaitSeconds?: number | null };

interface Waiter {
  runId: string;
  userId: string;
  key: string;
  since: number;
  settle: (stored: Stored) => void;
  done: Promise<Stored>;
}

interface Pending {
  item: IntakeItem;
  resolve: (ticket: number | null) => void;
  reject: (err: unknown) => void;
}

/** Waiters whose outcome this process's allocator did not bring are looked up this often. */
const POLL_MS = 100;
/** A cached outcome that is only a queued request's marker (see insertByHalves). */
const isPending = (stored: Stored) => stored.ok && (stored.data as ReservationView).status === 'QUEUED';
const newPnr = () => `${randomInt(1, 10)}${String(randomInt(0, 1_000_000_000)).padStart(9, '0')}`;

export function createReservationQueue(deps: QueueDeps) {
  const { prisma, idempotency, settings } = deps;
  const waiters = new Map<string, Waiter>();
  const inFlight = new Map<string, { hash: string; answer: Promise<QueuedView> }>();
  const progress = new Map<string, { done: number; rate: number; at: number }>();
  let pending: Pending[] = [];
  let flushing = false;
  let closed = false;

  const allocator = createAllocator({
    prisma,
    idempotency,
    layouts: deps.layouts,
    leases: deps.leases,
    settings,
    logger: deps.logger,
    onBatch: (report) => {
      for (const d of report.decided) settle(d.request.id, d.stored);
      deps.refusals.publish(report.runId, report.journeys);
      const before = progress.get(report.runId);
      const rate = (report.decided.length / Math.max(report.ms, 1)) * 1000;
      const smoothed = before && Date.now() - before.at < 5_000 ? before.rate * 0.7 + rate * 0.3 : rate;
      progress.set(report.runId, { done: report.doneTicket, rate: smoothed, at: Date.now() });
      deps.redis
        ?.set(`booking:progress:${report.runId}`, `${report.doneTicket}|${smoothed.toFixed(1)}`, 'PX', 60_000)
        .catch(() => {});
      deps.onBatch?.(report);
    },
    onFailed: (id, stored) => settle(id, stored),
  });

  function settle(reservationId: string, stored: Stored) {
    const w = waiters.get(reservationId);
    if (!w) return;
    waiters.delete(reservationId);
    w.settle(stored);
  }

  function waiterFor(reservationId: string, runId: string, userId: string, key: string): Waiter {
    const existing = waiters.get(reservationId);
    if (existing) return existing;
    let settleFn!: (s: Stored) => void;
    const done = new Promise<Stored>((resolve) => (settleFn = resolve));
    const w: Waiter = { runId, userId, key, since: Date.now(), settle: settleFn, done };
    waiters.set(reservationId, w);
    return w;
  }

  // Outcomes decided by another instance's allocator (or a cancellation) reach waiters here; a
  // run whose requests wait too long is kicked (its allocator may have stopped between batches).
  // Runs this process is draining are skipped: its allocator settles their waiters itself.
  const poller = setInterval(() => {
    if (waiters.size === 0) return;
    const now = Date.now();
    const stale = [...waiters.entries()].filter(([, w]) => now - w.since >= POLL_MS && !allocator.isDraining(w.runId));
    if (stale.length === 0) return;
    idempotency
      .finishedRecords(
        OPERATION,
        stale.map(([, w]) => ({ userId: w.userId, key: w.key })),
      )
      .then((found) => {
        for (const [id, w] of stale) {
          const stored = found.get(`${w.userId}|${w.key}`);
          if (stored) settle(id, stored);
        }
        for (const runId of new Set(
          stale.filter(([id, w]) => waiters.has(id) && now - w.since >= 5 * POLL_MS).map(([, w]) => w.runId),
        ))
          allocator.kick(runId);
      })
      .catch((err: unknown) => deps.logger.warn({ err }, 'reservation queue: polling outcomes failed'));
  }, POLL_MS);
  poller.unref();

  /** Writes every request that arrived meanwhile in one statement; a failed statement is retried by halves. */
  function scheduleFlush() {
    if (flushing || pending.length === 0) return;
    flushing = true;
    setImmediate(async () => {
      const batch = pending.slice(0, settings.batchSize);
      pending = pending.slice(batch.length);
      await insertByHalves(batch);
      for (const runId of new Set(batch.map((p) => p.item.view.runId))) allocator.kick(runId);
      flushing = false;
      scheduleFlush();
    });
  }

  async function insertByHalves(batch: Pending[], attempt = 0): Promise<void> {
    try {
      const tickets = await insertQueued(
        prisma,
        idempotency,
        batch.map((p) => p.item),
      );
      // A retry of a queued key must find its reservation, not a refusal from memory: mark the
      // key pending in Redis too (one pipelined write for the batch).
      await Promise.all(
        batch
          .filter((p) => tickets.has(p.item.view.id))
          .map((p) =>
            idempotency.cache(
              p.item.userId,
              OPERATION,
              p.item.idempotency.key,
              p.item.idempotency.requestHash,
              successOutcome(p.item.view),
            ),
          ),
      );
      for (const p of batch) p.resolve(tickets.get(p.item.view.id) ?? null);
    } catch (err) {
      if (batch.length > 1) {
        const half = Math.ceil(batch.length / 2);
        await insertByHalves(batch.slice(0, half));
        await insertByHalves(batch.slice(half));
      } else if (attempt === 0 && /pnr/.test(String((err as Error).message))) {
        // Two random PNRs met: draw another (the only input a request does not choose itself).
        batch[0]!.item.view.pnr = newPnr();
        await insertByHalves(batch, 1);
      } else {
        batch[0]!.reject(err);
      }
    }
  }

  function enqueue(item: IntakeItem): Promise<number | null> {
    if (closed)
      return Promise.reject(
        tryAgain('Booking is restarting; retry with the same idempotency key', { retryAfterMs: 1_000 }),
      );
    return new Promise((resolve, reject) => {
      pending.push({ item, resolve, reject });
      scheduleFlush();
    });
  }

  // The allocator's progress on a run as this process knows it: its own allocator's, else Redis's
  // copy, else the database's; read once per run at a time and kept 100 ms (a rush asks it for
  // every request).
  const progressReads = new Map<string, Promise<{ done: number; rate: number }>>();
  function progressOf(runId: string): Promise<{ done: number; rate: number }> {
    const mine = progress.get(runId);
    if (mine && Date.now() - mine.at < 2_000) return Promise.resolve(mine);
    let read = progressReads.get(runId);
    if (!read) {
      read = (async () => {
        const raw = await deps.redis?.get(`booking:progress:${runId}`).catch(() => null);
        if (raw) {
          const [done, rate] = raw.split('|').map(Number);
          return { done: done!, rate: rate! };
        }
        const rows = await prisma.$queryRaw<
          { done_ticket: number }[]
        >`SELECT done_ticket FROM booking.run_allocators WHERE run_id = ${runId}::uuid`;
        return { done: rows[0]?.done_ticket ?? 0, rate: mine?.rate ?? 0 };
      })();
      progressReads.set(runId, read);
      read
        .finally(() => setTimeout(() => progressReads.delete(runId), 100).unref())
        .catch(() => progressReads.delete(runId));
    }
    return read;
  }

  /** Requests ahead of this ticket (itself included) and the seconds they should take. */
  async function place(
    runId: string,
    ticket: number,
  ): Promise<{ queuePosition: number; estimatedWaitSeconds: number }> {
    const { done, rate } = await progressOf(runId);
    const queuePosition = Math.max(1, ticket - done);
    // Before the first batch no rate is known: a batch a second is the guess.
    return { queuePosition, estimatedWaitSeconds: Math.ceil(queuePosition / (rate > 0 ? rate : settings.batchSize)) };
  }

  function pendingView(valid: ValidRequest, now: Date): ReservationView {
    const n = valid.passengers.length;
    return {
      id: randomUUID(),
      pnr: newPnr(),
      status: 'QUEUED',
      runId: valid.run.id,
      fromCode: valid.from.station.code,
      toCode: valid.to.station.code,
      class: valid.cls,
      farePaise: valid.farePerPassenger * n,
      holdExpiresAt: null,
      createdAt: now.toISOString(),
      queueTicket: null,
      refusalCode: null,
      passengers: valid.passengers.map((p) => ({
        id: randomUUID(),
        name: p.name,
        age: p.age,
        gender: p.gender,
        berthPreference: p.berthPreference ?? null,
        status: 'QUEUED',
        coach: null,
        berth: null,
        berthType: null,
        waitlistNumber: null,
        farePaise: valid.farePerPassenger,
      })),
    };
  }

  /** Waits for the outcome up to the bound (unless the queue ahead is already longer), else QUEUED. */
  async function answer(
    view: ReservationView,
    ticket: number,
    userId: string,
    key: string,
    hash: string,
  ): Promise<QueuedView> {
    const w = waiterFor(view.id, view.runId, userId, key);
    const ahead = await place(view.runId, ticket);
    if (ahead.estimatedWaitSeconds * 1000 <= settings.queueWaitMs) {
      let timer: NodeJS.Timeout | undefined;
      const stored = await Promise.race([
        w.done,
        new Promise<null>((r) => (timer = setTimeout(() => r(null), settings.queueWaitMs))),
      ]);
      clearTimeout(timer);
      if (stored) {
        await idempotency.cache(userId, OPERATION, key, hash, stored);
        deps.onOutcome?.(
          stored.ok
            ? String((stored.data as ReservationView).status).toLowerCase()
            : String(stored.error.extensions.code).toLowerCase(),
        );
        return resultOf<QueuedView>(stored, false);
      }
    }
    deps.onOutcome?.('queued');
    return { ...view, queueTicket: ticket, ...(await place(view.runId, ticket)) };
  }

  /** A request whose key another request already used: its outcome, or its reservation's. */
  async function sameKey(userId: string, key: string, hash: string): Promise<QueuedView | null> {
    const record = await idempotency.lookupRecord(userId, OPERATION, key);
    if (!record) return null; // that request failed and forgot its key: go again
    if (record.request_hash !== hash) throw keyReused();
    deps.onOutcome?.('replayed');
    if (record.completed) {
      await idempotency.cache(userId, OPERATION, key, hash, record.response!);
      return resultOf<QueuedView>(record.response!, true);
    }
    // Still queued: wait for it as the first request does.
    const view = (record.response as { data: ReservationView }).data;
    const rows = await prisma.$queryRaw<
      { queue_ticket: number | null }[]
    >`SELECT queue_ticket FROM booking.reservations WHERE id = ${view.id}::uuid`;
    return answer(view, rows[0]?.queue_ticket ?? 0, userId, key, hash);
  }

  async function reserve(userId: string, input: ReserveInput, key: string, hash: string): Promise<QueuedView> {
    const valid = await validateReserve(deps, input);
    const refusal = await deps.refusals.check({
      runId: valid.run.id,
      cls: valid.cls,
      mask: valid.mask,
      passengers: valid.passengers.length,
      allowWaitlist: valid.allowWaitlist,
      specificBerths: !!valid.seatIds,
    });
    if (refusal) {
      // Remembered in Redis only: no database write for a refusal in a rush.
      await idempotency.cache(userId, OPERATION, key, hash, errorOutcome(refusal));
      deps.onOutcome?.(refusal.code.toLowerCase());
      throw refusal;
    }
    const view = pendingView(valid, new Date());
    const ticket = await enqueue({
      view,
      userId,
      mask: valid.mask,
      fromSeq: valid.from.seq,
      toSeq: valid.to.seq,
      allowWaitlist: valid.allowWaitlist,
      requestedSeatIds: valid.seatIds,
      idempotency: { key, requestHash: hash },
    });
    if (ticket === null) {
      const again = await sameKey(userId, key, hash);
      if (again) return again;
      return reserve(userId, input, key, hash);
    }
    return answer(view, ticket, userId, key, hash);
  }

  return {
    allocator,
    /**
     * reserveSeats: a retry of a request in flight in this process shares its answer; a request
     * with the same key and a different body is IDEMPOTENCY_KEY_REUSED.
     */
    async reserveSeats(userId: string, input: ReserveInput, key: string): Promise<QueuedView> {
      const id = `${userId}|${key}`;
      const { hash, hit } = await idempotency.prepare({ userId, operation: OPERATION, key, request: input });
      const running = inFlight.get(id);
      if (running) {
        if (hash !== running.hash) throw keyReused();
        return running.answer;
      }
      if (hit && !isPending(hit)) {
        deps.onOutcome?.('replayed');
        return resultOf<QueuedView>(hit, true);
      }
      // A key still queued (per Redis): its reservation's outcome, from the database.
      const answer = hit
        ? sameKey(userId, key, hash).then((found) => found ?? reserve(userId, input, key, hash))
        : reserve(userId, input, key, hash);
      inFlight.set(id, { hash, answer });
      try {
        return await answer;
      } finally {
        inFlight.delete(id);
      }
    },
    /** The queue place of a QUEUED reservation (for the Reservation type's fields). */
    place,
    /** Stops taking requests and waits until nothing is being written or allocated here. */
    async close(): Promise<void> {
      closed = true;
      clearInterval(poller);
      while (flushing || pending.length) await new Promise((r) => setTimeout(r, 10));
      await allocator.idle();
    },
  };
}
export type ReservationQueue = ReturnType<typeof createReservationQueue>;
