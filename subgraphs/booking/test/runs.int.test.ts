// Runs on a rolling horizon and run cancellation (real PostgreSQL and Redis): the run scheduler
// creates exactly every train's runs of its running days up to ARP + 1 days ahead, once however
// often and however many instances run it; 61 days later (a moved clock) a run still exists and
// can be booked; cancelRun (ADMIN only) cancels every reservation of the run once, in batches,
// frees its berths and asks for a full refund of each confirmed one, also retried or concurrent.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, createRedis, todayInIndia, weekdayOf, type Identity, type Redis } from '@tatkal/common';
import { bookingContext, type BookingDeps } from '../src/context.ts';
import { createBookingDeps } from '../src/deps.ts';
import { createInventory } from '../src/domain/inventory.ts';
import { confirm } from '../src/domain/lifecycle/index.ts';
import { finishCancelledRuns } from '../src/domain/runs/cancel.ts';
import { scheduleRuns } from '../src/domain/runs/scheduler.ts';
import { istInstant } from '../src/domain/tatkal/windows.ts';
import { buildBookingServer } from '../src/server.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { REDIS_URL } from '../../../test/support/env.ts';
import { errorCodes, execute } from '../../../test/support/graphql.ts';
import { testLogger } from '../../../test/support/logger.ts';
import { identity } from '../../../test/support/tokens.ts';
import { createTestRun, doubleBookingAudit, lockAllocatorRow, waitFor, type TestRun } from './fixtures.ts';

const ARP = 60;
let db: TestDatabase;
let redis: Redis;
let deps: BookingDeps;
const { server } = buildBookingServer({ logger: testLogger, production: false });

const CANCEL_RUN = `mutation($runId: ID!, $key: String!) {
  cancelRun(runId: $runId, idempotencyKey: $key) { run { id cancelled } cancelledReservations refundPaise }
}`;
const RESERVE = `mutation($input: ReserveSeatsInput!, $key: String!) {
  reserveSeats(input: $input, idempotencyKey: $key) { id pnr status farePaise passengers { status waitlistNumber } }
}`;

const admin = () => identity(randomUUID(), 'ADMIN');
const customer = () => identity(randomUUID(), 'CUSTOMER');
const ctxOf = (who: Identity, d = deps) => bookingContext(d, { identity: who, requestId: 'test', log: testLogger });
const rider = (i: number) => ({ name: `Rider ${'ABCDEFGHIJ'[i % 10]}`, age: 30 + i, gender: 'MALE' });

const cancelRunAs = (who: Identity, runId: string, key = randomUUID()) =>
  execute(server, CANCEL_RUN, { runId, key }, ctxOf(who));
const reserve = (run: TestRun, passengers = 1, d = deps) =>
  execute(
    server,
    RESERVE,
    {
      input: {
        runId: run.runId,
        from: run.stations[0],
        to: run.stations[3],
        class: 'SLEEPER',
        passengers: Array.from({ length: passengers }, (_, i) => rider(i)),
      },
      key: randomUUID(),
    },
    ctxOf(customer(), d),
  );

/** The runs (train id | date) in [from, to]. */
async function runsBetween(from: string, to: string) {
  const rows = await db.prisma.$queryRaw<{ key: string }[]>`
    SELECT train_id || '|' || to_char(date, 'YYYY-MM-DD') AS key FROM booking.train_runs
    WHERE date BETWEEN ${from}::date AND ${to}::date`;
  return rows.map((r) => r.key).sort();
}

/** Every train's running days in [from, to], by its runsOn (0 = Monday). */
async function expectedRuns(from: string, to: string) {
  const trains = await db.prisma.train.findMany({ select: { id: true, runsOn: true } });
  const keys: string[] = [];
  for (let d = from; d <= to; d = addDays(d, 1))
    for (const t of trains) if (t.runsOn.includes(weekdayOf(d))) keys.push(`${t.id}|${d}`);
  return keys.sort();
}

/** The run's reservation.cancelled outbox rows, by reservation. */
async function cancelledEvents(runId: string) {
  return db.prisma.$queryRaw<{ reservation_id: string; refund: number; reason: string | null }[]>`
    SELECT o.payload->'data'->>'reservationId' AS reservation_id,
           (o.payload->'data'->>'refundPaise')::int AS refund, o.payload->'data'->>'reason' AS reason
    FROM booking.outbox o
    JOIN booking.reservations r ON r.id::text = o.payload->'data'->>'reservationId'
    WHERE o.routing_key = 'reservation.cancelled' AND r.run_id = ${runId}::uuid`;
}

async function promotedEvents(runId: string) {
  const rows = await db.prisma.$queryRaw<{ n: bigint }[]>`
    SELECT count(*)::bigint AS n FROM booking.outbox o
    JOIN booking.reservations r ON r.id::text = o.payload->'data'->>'reservationId'
    WHERE o.routing_key = 'reservation.promoted' AND r.run_id = ${runId}::uuid`;
  return Number(rows[0]!.n);
}

async function occupancy(runId: string) {
  const [rows, masks] = await Promise.all([
    db.prisma.seatOccupancy.count({ where: { runId } }),
    db.prisma.runSeat.count({ where: { runId, occupiedMask: { not: 0n } } }),
  ]);
  return { rows, masks };
}

/**
 * A run with reservations in every cancellable status: HELD and CONFIRMED on berths, HELD and
 * CONFIRMED on the waitlist (a waitlisted ticket is paid for too) (and QUEUED if asked). Returns
 * what cancelRun must refund for each: the fare of every paid one, in full.
 */
async function bookedRun() {
  const run = await createTestRun(db.prisma, { coaches: 2, berthsPerCoach: 4 });
  type Booked = { id: string; status: string; farePaise: number; passengers: { status: string }[] };
  const booked: Booked[] = [];
  for (let i = 0; i < 4; i++) booked.push((await reserve(run, 2)).data!.reserveSeats);
  expect(booked.map((b) => b.status)).toEqual(['HELD', 'HELD', 'HELD', 'HELD']);
  expect(booked.flatMap((b) => b.passengers.map((p) => p.status))).toEqual(Array(8).fill('HELD'));
  for (let i = 0; i < 3; i++) booked.push((await reserve(run, 1)).data!.reserveSeats);
  expect(booked.slice(4).map((b) => b.status)).toEqual(['HELD', 'HELD', 'HELD']);
  expect(booked.slice(4).flatMap((b) => b.passengers)).toEqual([
    { status: 'WAITLISTED', waitlistNumber: 1 },
    { status: 'WAITLISTED', waitlistNumber: 2 },
    { status: 'WAITLISTED', waitlistNumber: 3 },
  ]);
  // Paid: two on berths and one on the waitlist (WL 2).
  const paid = [0, 1, 5];
  for (const i of paid) expect(await confirm(db.prisma, booked[i]!.id)).toBe('CONFIRMED');
  const fares = new Map(booked.map((b, i) => [b.id, paid.includes(i) ? b.farePaise : 0]));
  return { run, fares };
}

/** Every reservation of the run cancelled once, berths free, refunds in full for paid (CONFIRMED) ones only. */
async function expectRunCancelled(runId: string, fares: Map<string, number>) {
  const statuses = await db.prisma.reservation.groupBy({ by: ['status'], where: { runId }, _count: true });
  expect(statuses.map((s) => [s.status, s._count])).toEqual([['CANCELLED', fares.size]]);
  expect(await db.prisma.passenger.count({ where: { reservation: { runId }, status: { not: 'CANCELLED' } } })).toBe(0);
  expect(await occupancy(runId)).toEqual({ rows: 0, masks: 0 });
  expect(await doubleBookingAudit(db.prisma, runId)).toMatchObject({
    overlaps: 0,
    maskMismatch: 0,
    seatedPassengers: 0,
  });
  const events = await cancelledEvents(runId);
  expect(events.map((e) => e.reservation_id).sort()).toEqual([...fares.keys()].sort());
  for (const e of events) {
    expect(e.refund).toBe(fares.get(e.reservation_id));
    expect(e.reason).toBe('RUN_CANCELLED');
  }
  expect(await promotedEvents(runId)).toBe(0);
}

beforeAll(async () => {
  db = await createTestDatabase('runs');
  redis = createRedis(REDIS_URL);
  deps = createBookingDeps(db.prisma, redis, testLogger, { queueWaitMs: 60_000, runCancelBatchSize: 3 });
  await server.start();
});

afterAll(async () => {
  await server.stop();
  await deps?.reservations.queue.close();
  redis?.disconnect();
  await db?.drop();
});

describe('the run scheduler', () => {
  it('creates exactly every train running day up to ARP + 1 days ahead, and again nothing', async () => {
    const today = todayInIndia();
    const horizon = addDays(today, ARP + 1);
    const before = await runsBetween(today, horizon);
    const created = await scheduleRuns(db.prisma, { horizonDays: ARP + 1 });
    const expected = await expectedRuns(today, horizon);
    expect(await runsBetween(today, horizon)).toEqual(expected);
    expect(created).toBe(expected.length - before.length);
    expect(created).toBeGreaterThan(0); // the seed made 60 days; the scheduler adds the rest
    expect(await runsBetween(addDays(horizon, 1), addDays(horizon, 400))).toEqual([]);
    expect(await scheduleRuns(db.prisma, { horizonDays: ARP + 1 })).toBe(0);
    expect(await runsBetween(today, horizon)).toEqual(expected);
  });

  it('creates each run once with several schedulers at once', async () => {
    const later = new Date(Date.now() + 200 * 86_400_000); // a range nobody has scheduled yet
    const from = todayInIndia(later);
    const to = addDays(from, ARP + 1);
    expect(await runsBetween(from, to)).toEqual([]);
    const counts = await Promise.all(
      Array.from({ length: 4 }, () => scheduleRuns(db.prisma, { horizonDays: ARP + 1, now: () => later })),
    );
    const expected = await expectedRuns(from, to);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(expected.length);
    expect(await runsBetween(from, to)).toEqual(expected);
  });

  it('61 days on (a moved clock), a run ARP days ahead exists and can be booked', async () => {
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 4 });
    const today = todayInIndia();
    const day = addDays(today, ARP + 1);
    const moved = istInstant(day, 10, 0); // the GENERAL window of `day + ARP` opened at 08:00
    const target = addDays(day, ARP);
    const train = await db.prisma.train.findUniqueOrThrow({ where: { number: run.trainNumber } });
    const runOn = () =>
      db.prisma.trainRun.findUnique({
        where: { trainId_date: { trainId: train.id, date: new Date(`${target}T00:00:00Z`) } },
      });
    expect(await runOn()).toBeNull();

    expect(await scheduleRuns(db.prisma, { horizonDays: ARP + 1, now: () => moved })).toBeGreaterThan(0);
    const scheduled = await runOn();
    expect(scheduled).toMatchObject({ cancelled: false, inventoryReady: false });
    // What the preparer does for runs within INVENTORY_HORIZON_DAYS (>= ARP + 1) of its clock.
    await db.prisma.$transaction((tx) => createInventory(tx, [scheduled!.id]));

    const movedDeps = createBookingDeps(db.prisma, redis, testLogger, { queueWaitMs: 60_000 }, () => moved);
    try {
      const who = identity(randomUUID(), 'CUSTOMER');
      const input = {
        runId: scheduled!.id,
        from: run.stations[0],
        to: run.stations[3],
        class: 'SLEEPER' as const,
        passengers: [{ name: 'Asha Rao', age: 34, gender: 'FEMALE' as const }],
      };
      const booked = await movedDeps.reservations.queue.reserveSeats(who, input, randomUUID());
      expect(booked.status).toBe('HELD');
      // A day beyond the window (ARP + 1 days ahead of the moved clock) exists but is not open yet.
      const next = await db.prisma.trainRun.findUniqueOrThrow({
        where: { trainId_date: { trainId: train.id, date: new Date(`${addDays(target, 1)}T00:00:00Z`) } },
      });
      await expect(
        movedDeps.reservations.queue.reserveSeats(who, { ...input, runId: next.id }, randomUUID()),
      ).rejects.toMatchObject({ extensions: { code: 'BOOKING_NOT_OPEN' } });
    } finally {
      await movedDeps.reservations.queue.close();
    }
  });
});

describe('cancelRun', () => {
  it('is for admins only', async () => {
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 4 });
    expect(errorCodes(await cancelRunAs(customer(), run.runId))).toEqual(['FORBIDDEN']);
    expect(errorCodes(await cancelRunAs(identity(randomUUID(), 'AGENT'), run.runId))).toEqual(['FORBIDDEN']);
    expect((await db.prisma.trainRun.findUniqueOrThrow({ where: { id: run.runId } })).cancelled).toBe(false);
    expect(errorCodes(await cancelRunAs(admin(), randomUUID()))).toEqual(['NOT_FOUND']);
  });

  it('cancels every reservation once, frees berths, refunds confirmed ones in full; a retry adds nothing', async () => {
    const { run, fares } = await bookedRun();
    // A request still QUEUED: its allocator is held up by a lock on its row.
    const stalled = await lockAllocatorRow(db.url, run.runId);
    const quickDeps = createBookingDeps(db.prisma, redis, testLogger, { queueWaitMs: 0 });
    let queued: { id: string; status: string };
    try {
      await stalled.locked;
      queued = (await reserve(run, 1, quickDeps)).data!.reserveSeats;
      expect(queued.status).toBe('QUEUED');
      fares.set(queued.id, 0);
      const who = admin();
      const key = randomUUID();
      const first = await cancelRunAs(who, run.runId, key);
      expect(first.errors).toBeUndefined();
      const confirmedFares = [...fares.values()].reduce((a, b) => a + b, 0);
      expect(confirmedFares).toBeGreaterThan(0);
      expect(first.data!.cancelRun).toEqual({
        run: { id: run.runId, cancelled: true },
        cancelledReservations: fares.size,
        refundPaise: confirmedFares,
      });
      await expectRunCancelled(run.runId, fares);

      expect((await cancelRunAs(who, run.runId, key)).data).toEqual(first.data); // replayed
      const again = await cancelRunAs(admin(), run.runId);
      expect(again.data!.cancelRun).toMatchObject({ cancelledReservations: 0, refundPaise: 0 });
      await expectRunCancelled(run.runId, fares);
    } finally {
      await stalled.release();
      await quickDeps.reservations.queue.close();
    }
    // The allocator, let go, finds nothing left to decide.
    await waitFor(
      'the queue drained',
      async () => (await db.prisma.reservation.count({ where: { runId: run.runId, status: 'QUEUED' } })) === 0,
    );
    await expectRunCancelled(run.runId, fares);

    const refused = await reserve(run, 1);
    expect(errorCodes(refused)).toEqual(['BAD_USER_INPUT']);
    expect(refused.errors![0]!.message).toMatch(/cancelled/);
  });

  it('two admins at once: each reservation cancelled and refunded once between them', async () => {
    const { run, fares } = await bookedRun();
    const [a, b] = await Promise.all([cancelRunAs(admin(), run.runId), cancelRunAs(admin(), run.runId)]);
    expect(a.errors).toBeUndefined();
    expect(b.errors).toBeUndefined();
    const total = (k: 'cancelledReservations' | 'refundPaise') => a.data!.cancelRun[k] + b.data!.cancelRun[k];
    expect(total('cancelledReservations')).toBe(fares.size);
    expect(total('refundPaise')).toBe([...fares.values()].reduce((x, y) => x + y, 0));
    await expectRunCancelled(run.runId, fares);
  });

  it('the follow-up cancels what reached a cancelled run afterwards, and refuses a departed run', async () => {
    const { run, fares } = await bookedRun();
    await db.prisma.trainRun.update({ where: { id: run.runId }, data: { cancelled: true } }); // a cancelRun cut short
    expect(await finishCancelledRuns(deps.reservations, testLogger)).toBe(fares.size);
    await expectRunCancelled(run.runId, fares);
    expect(await finishCancelledRuns(deps.reservations, testLogger)).toBe(0);

    const past = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 4, daysAhead: -1, prepared: false });
    expect(errorCodes(await cancelRunAs(admin(), past.runId))).toEqual(['INVALID_STATE']);
  });
});
