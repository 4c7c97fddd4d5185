// The reservation queue (12306's order queue): a validated request is written as a QUEUED
// reservation with its arrival ticket (group-committed: queue/intake.ts), then waits for the
// run's allocator (allocator/) up to `queueWaitMs`. It answers the outcome when it comes in time,
// otherwise QUEUED with the PNR, a position and an estimated wait; `reservation(pnr)` shows the
// outcome later. Once answered, a request is in the database: a crash of this process cannot
// lose it (a restarted allocator resumes it).
import { randomInt, randomUUID } from 'node:crypto';
import type { PrismaClient } from '@tatkal/db';
import {
  errorOutcome,
  keyReused,
  resultOf,
  type Identity,
  type Idempotency,
  type LeaseManager,
  type Logger,
  type Redis,
  type Stored,
  tryAgain,
} from '@tatkal/common';
import { type Allocator, type BatchReport, createAllocator } from './allocator/allocator.ts';
import type { LayoutCache } from './layout.ts';
import { admitWaiting, passengerTarget, type ReserveRecords, reserveRecords, target } from './lifecycle/index.ts';
import { createIntake, type Intake, newPnr } from './queue/intake.ts';
import { createProgress, type QueuePlace, type QueueProgress } from './queue/progress.ts';
import { createWaiters, type Waiters } from './queue/waiters.ts';
import type { Refusals } from './refusals.ts';
import { checkLimits } from './tatkal/limits.ts';
import type { ReservationSettings, ReservationView, ReserveInput, ValidRequest } from './types.ts';
import { validateReserve } from './validate.ts';

export interface QueueDeps {
  prisma: PrismaClient;
  redis: Redis | null;
  idempotency: Idempotency;
  layouts: LayoutCache;
  leases: LeaseManager;
  refusals: Refusals;
  settings: ReservationSettings;
  logger: Logger;
  /** The clock requests are judged by (booking windows); tests move it. */
  now?: () => Date;
  /** Waiting-room draws in [0, 1): a CSPRNG unless a test seeds its own. */
  random?: () => number;
  /** Outcome counters (metrics): held, waitlisted, queued, replayed, or an error code in lower case. */
  onOutcome?: (outcome: string) => void;
  onBatch?: (report: BatchReport) => void;
}

/** A view with its place in the queue, as `reserveSeats` and `reservation(pnr)` answer it. */
export type QueuedView = ReservationView & { queuePosition?: number | null; estimatedWaitSeconds?: number | null };

/** A cached outcome that is only a queued request's marker (see queue/intake.ts). */
const isPending = (stored: Stored) => stored.ok && (stored.data as ReservationView).status === target('queue');
const outcomeName = (stored: Stored) =>
  (stored.ok ? String((stored.data as ReservationView).status) : String(stored.error.extensions.code)).toLowerCase();

/** A queue's parts: what each step of a request below works with. */
interface Queue {
  deps: QueueDeps;
  records: ReserveRecords;
  progress: QueueProgress;
  waiters: Waiters;
  intake: Intake;
  allocator: Allocator;
  /** Requests in flight in this process, by user and key: a retry shares the answer. */
  inFlight: Map<string, { hash: string; answer: Promise<QueuedView> }>;
  /** Timers admitting a run's waiting room at its opening, by run and opening. */
  openings: Map<string, NodeJS.Timeout>;
  now: () => Date;
  random: () => number;
  closed: boolean;
}

/** A draw in [0, 1) from the operating system's CSPRNG: nobody can predict or choose it. */
const secureRandom = () => randomInt(2 ** 47) / 2 ** 47;

export function createReservationQueue(deps: QueueDeps) {
  const records = reserveRecords(deps.idempotency);
  const progress = createProgress(deps.prisma, deps.redis, deps.settings.batchSize);
  const allocator = createAllocator({
    prisma: deps.prisma,
    idempotency: deps.idempotency,
    layouts: deps.layouts,
    leases: deps.leases,
    settings: deps.settings,
    logger: deps.logger,
    onBatch: (report) => {
      // First: what observes a committed batch (availability's version) sees it before any outcome is told.
      deps.onBatch?.(report);
      for (const d of report.decided) waiters.settle(d.request.id, d.stored);
      deps.refusals.publish(report.runId, report.journeys);
      progress.record(report);
    },
    onFailed: (id, stored) => waiters.settle(id, stored),
  });
  const waiters = createWaiters({ records, progress, allocator: () => allocator, logger: deps.logger });
  const intake = createIntake({
    prisma: deps.prisma,
    idempotency: deps.idempotency,
    records,
    batchSize: deps.settings.batchSize,
    now: () => q.now(),
    onWritten: (runIds) => {
      for (const runId of runIds) allocator.kick(runId);
    },
  });
  const q: Queue = {
    deps,
    records,
    progress,
    waiters,
    intake,
    allocator,
    inFlight: new Map(),
    openings: new Map(),
    now: deps.now ?? (() => new Date()),
    random: deps.random ?? secureRandom,
    closed: false,
  };
  return {
    allocator,
    /** `clientIp`: the caller's address as the gateway signed it (the limits per address count it). */
    reserveSeats: (identity: Identity, input: ReserveInput, key: string, clientIp: string | null = null) =>
      reserveSeats(q, identity, input, key, clientIp),
    /** The queue place of a QUEUED reservation (for the Reservation type's fields). */
    place: progress.place,
    /** Admits every waiting room that has opened (the sweeper; tests) and kicks their runs. */
    admitDue: () => admit(q, null),
    /** Stops taking requests and waits until nothing is being written or allocated here. */
    async close(): Promise<void> {
      q.closed = true;
      for (const timer of q.openings.values()) clearTimeout(timer);
      waiters.stop();
      await intake.drained();
      await allocator.idle();
    },
  };
}
export type ReservationQueue = ReturnType<typeof createReservationQueue>;

/**
 * reserveSeats: a retry of a request in flight in this process shares its answer; a request with
 * the same key and a different body is IDEMPOTENCY_KEY_REUSED.
 */
async function reserveSeats(
  q: Queue,
  identity: Identity,
  input: ReserveInput,
  key: string,
  clientIp: string | null,
): Promise<QueuedView> {
  const { userId } = identity;
  const id = `${userId}|${key}`;
  const { hash, hit } = await q.records.prepare(userId, key, input);
  const running = q.inFlight.get(id);
  if (running) {
    if (hash !== running.hash) throw keyReused();
    return running.answer;
  }
  if (hit && !isPending(hit)) {
    q.deps.onOutcome?.('replayed');
    return resultOf<QueuedView>(hit, true);
  }
  // A key still queued (per Redis): its reservation's outcome, from the database.
  const answer = hit
    ? sameKey(q, userId, key, hash).then((found) => found ?? reserve(q, identity, input, key, hash, clientIp))
    : reserve(q, identity, input, key, hash, clientIp);
  q.inFlight.set(id, { hash, answer });
  try {
    return await answer;
  } finally {
    q.inFlight.delete(id);
  }
}

/** A new request: validated, refused from memory when it cannot be served, else queued. */
async function reserve(
  q: Queue,
  identity: Identity,
  input: ReserveInput,
  key: string,
  hash: string,
  clientIp: string | null,
): Promise<QueuedView> {
  const { userId } = identity;
  const valid = await validateReserve(q.deps, input, identity, q.now());
  const refusal = await q.deps.refusals.check({
    runId: valid.run.id,
    cls: valid.cls,
    quota: valid.quota,
    mask: valid.mask,
    passengers: valid.passengers.length,
    allowWaitlist: valid.allowWaitlist,
    specificBerths: !!valid.seatIds,
  });
  if (refusal) {
    // A retry of a request the database has gets that request's outcome, never a refusal from
    // memory: Redis may not know its key (the process died between the queue write and the
    // marker, or Redis lost it). One read, batched with the moment's other refusals.
    const earlier = await sameKey(q, userId, key, hash);
    if (earlier) return earlier;
    // Remembered in Redis only: no database write for a refusal in a rush.
    await q.records.cache(userId, key, hash, errorOutcome(refusal));
    q.deps.onOutcome?.(refusal.code.toLowerCase());
    throw refusal;
  }
  if (q.closed) throw tryAgain('Booking is restarting; retry with the same idempotency key', { retryAfterMs: 1_000 });
  await checkLimits(q.deps, q.records, identity, clientIp, valid, key, hash, q.now());
  const view = pendingView(valid, new Date());
  const ticket = await q.intake.enqueue({
    view,
    userId,
    mask: valid.mask,
    fromSeq: valid.from.seq,
    toSeq: valid.to.seq,
    allowWaitlist: valid.allowWaitlist,
    requestedSeatIds: valid.seatIds,
    idempotency: { key, requestHash: hash },
    waitingRoom: valid.waitingRoomOpensAt ? { opensAt: valid.waitingRoomOpensAt, draw: q.random() } : null,
  });
  // Another request took the key meanwhile: its outcome, or (it failed and forgot it) go again.
  if (ticket === undefined)
    return (await sameKey(q, userId, key, hash)) ?? reserve(q, identity, input, key, hash, clientIp);
  if (ticket === null) return joinedWaitingRoom(q, view, valid.waitingRoomOpensAt!);
  return answer(q, view, ticket, userId, key);
}

/** A request whose key another request already used: its outcome, or its reservation's. */
async function sameKey(q: Queue, userId: string, key: string, hash: string): Promise<QueuedView | null> {
  const record = await q.records.lookup(userId, key);
  if (!record) return null; // that request failed and forgot its key: go again
  if (record.request_hash !== hash) throw keyReused();
  q.deps.onOutcome?.('replayed');
  if (record.completed) {
    await q.records.cache(userId, key, hash, record.response!);
    return resultOf<QueuedView>(record.response!, true);
  }
  // Still queued: wait for it as the first request does.
  const view = (record.response as { data: ReservationView }).data;
  const rows = await q.deps.prisma.$queryRaw<{ queue_ticket: number | null; opens_at: Date | null }[]>`
    SELECT queue_ticket, opens_at FROM booking.reservations WHERE id = ${view.id}::uuid`;
  const row = rows[0];
  if (row && row.queue_ticket === null && row.opens_at) return waitingRoomView(q, view, row.opens_at);
  return answer(q, view, row?.queue_ticket ?? 0, userId, key);
}

/** Waits for the outcome up to the bound (unless the queue ahead is already longer), else QUEUED. */
async function answer(
  q: Queue,
  view: ReservationView,
  ticket: number,
  userId: string,
  key: string,
): Promise<QueuedView> {
  const w = q.waiters.waiterFor(view.id, { runId: view.runId, ticket, userId, key });
  let ahead: QueuePlace = await q.progress.place(view.runId, ticket);
  if (ahead.estimatedWaitSeconds * 1000 <= q.deps.settings.queueWaitMs) {
    const stored = await outcomeWithin(w.done, q.deps.settings.queueWaitMs);
    if (stored) {
      // Not cached here (one Redis write less per attempt): the intake cached the key as queued,
      // so a retry reads the outcome from its record once (sameKey), which caches it, as after QUEUED.
      q.deps.onOutcome?.(outcomeName(stored));
      return resultOf<QueuedView>(stored, false);
    }
    ahead = await q.progress.place(view.runId, ticket); // it moved while we waited
  }
  q.deps.onOutcome?.('queued');
  return { ...view, queueTicket: ticket, ...ahead };
}

/** In the waiting room: QUEUED without a place until the opening, which is timed here. */
async function joinedWaitingRoom(q: Queue, view: ReservationView, opensAt: Date): Promise<QueuedView> {
  q.deps.onOutcome?.('waiting_room');
  const key = `${view.runId}|${opensAt.getTime()}`;
  if (!q.openings.has(key)) {
    const timer = setTimeout(
      () => {
        q.openings.delete(key);
        void admit(q, [view.runId]);
      },
      Math.max(0, opensAt.getTime() - q.now().getTime()),
    );
    timer.unref();
    q.openings.set(key, timer);
  }
  // The window opened while this request was being written: admit it now (later arrivals will).
  if (q.now() >= opensAt) await admit(q, [view.runId]);
  return waitingRoomView(q, view, opensAt);
}

function waitingRoomView(q: Queue, view: ReservationView, opensAt: Date): QueuedView {
  const untilOpening = Math.max(0, Math.ceil((opensAt.getTime() - q.now().getTime()) / 1000));
  return {
    ...view,
    opensAt: opensAt.toISOString(),
    queueTicket: null,
    queuePosition: null,
    estimatedWaitSeconds: untilOpening,
  };
}

/** Tickets for the waiting rooms opened by now (of `runIds`, or all); their runs' allocators are kicked. */
async function admit(q: Queue, runIds: string[] | null): Promise<string[]> {
  try {
    const runs = await admitWaiting(q.deps.prisma, runIds, q.now());
    for (const runId of runs) q.allocator.kick(runId);
    return runs;
  } catch (err) {
    // The sweeper admits again (and any intake for the run after the opening does).
    q.deps.logger.error({ err, runIds }, 'admitting a waiting room failed');
    return [];
  }
}

/** Resolves the outcome if it comes within `ms`, else null. */
async function outcomeWithin(done: Promise<Stored>, ms: number): Promise<Stored | null> {
  let timer: NodeJS.Timeout | undefined;
  const stored = await Promise.race([done, new Promise<null>((r) => (timer = setTimeout(() => r(null), ms)))]);
  clearTimeout(timer);
  return stored;
}

/** A queued request's view before any decision: ids and the PNR are chosen here. */
function pendingView(valid: ValidRequest, now: Date): ReservationView {
  return {
    id: randomUUID(),
    pnr: newPnr(),
    status: target('queue'),
    runId: valid.run.id,
    fromCode: valid.from.station.code,
    toCode: valid.to.station.code,
    class: valid.cls,
    quota: valid.quota,
    farePaise: valid.farePerPassenger * valid.passengers.length,
    fare: valid.fare,
    holdExpiresAt: null,
    createdAt: now.toISOString(),
    queueTicket: null,
    refusalCode: null,
    opensAt: valid.waitingRoomOpensAt?.toISOString() ?? null,
    passengers: valid.passengers.map((p) => ({
      id: randomUUID(),
      name: p.name,
      age: p.age,
      gender: p.gender,
      berthPreference: p.berthPreference ?? null,
      status: passengerTarget('queue'),
      coach: null,
      berth: null,
      berthType: null,
      waitlistNumber: null,
      racNumber: null,
      farePaise: valid.farePerPassenger,
      fare: valid.fare,
      refundPaise: null,
    })),
  };
}
