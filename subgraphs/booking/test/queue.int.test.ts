// The reservation queue against the real PostgreSQL and Redis (in process, through the GraphQL
// server): QUEUED answers and their outcomes, first come first served under a rush, the waitlist
// limit and cheap refusals, cancelling a queued request, inventory preparation, and the
// allocator's fence. Every test audits the database afterwards.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createRedis, type Identity, type Redis } from '@tatkal/common';
import { bookingContext, type BookingContext, type BookingDeps } from '../src/context.ts';
import { createBookingDeps } from '../src/deps.ts';
import { prepareInventory } from '../src/domain/inventory.ts';
import { allocatorLeaseKey } from '../src/domain/allocator/allocator.ts';
import type { ReservationSettings } from '../src/domain/types.ts';
import { buildBookingServer } from '../src/server.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { REDIS_URL } from '../../../test/support/env.ts';
import { errorCodes, execute } from '../../../test/support/graphql.ts';
import { testLogger } from '../../../test/support/logger.ts';
import { seededRandom } from '../../../packages/testkit/src/random.ts';
import { countingPrisma, type CountingPrisma } from '../../../test/support/queryCount.ts';
import { identity } from '../../../test/support/tokens.ts';
import {
  createTestRun,
  doubleBookingAudit,
  fifoAudit,
  lockAllocatorRow,
  lockWaiters,
  waitFor,
  type TestRun,
} from './fixtures.ts';

let db: TestDatabase;
let redis: Redis;
const { server } = buildBookingServer({ logger: testLogger, production: false });

// Generous transaction bounds: many requests share one process on a busy machine.
const BOUNDS = { txMaxWaitMs: 60_000, txTimeoutMs: 60_000 };
const depsWith = (overrides: Partial<ReservationSettings>, prisma = db.prisma, logger = testLogger) =>
  createBookingDeps(prisma, redis, logger, { ...BOUNDS, ...overrides });
const ctx = (who: Identity | null, d: BookingDeps): BookingContext =>
  bookingContext(d, { identity: who, requestId: 'test', log: testLogger });

const FIELDS =
  'id pnr status queuePosition estimatedWaitSeconds refusalCode passengers { id status coach berth waitlistNumber }';
const RESERVE = `mutation($input: ReserveSeatsInput!, $key: String!) {
  reserveSeats(input: $input, idempotencyKey: $key) { ${FIELDS} }
}`;
const RESERVATION = `query($pnr: String!) { reservation(pnr: $pnr) { ${FIELDS} } }`;
const CANCEL = `mutation($pnr: String!, $ids: [ID!], $key: String!) {
  cancelReservation(pnr: $pnr, passengerIds: $ids, idempotencyKey: $key) { id pnr status passengers { status } }
}`;

interface View {
  id: string;
  pnr: string;
  status: string;
  queuePosition: number | null;
  estimatedWaitSeconds: number | null;
  refusalCode: string | null;
  passengers: {
    id: string;
    status: string;
    coach: string | null;
    berth: number | null;
    waitlistNumber: number | null;
  }[];
}

const passenger = (i = 0) => ({
  name: `Queued ${String.fromCharCode(65 + (i % 26))}`,
  age: 20 + (i % 50),
  gender: i % 2 ? 'FEMALE' : 'MALE',
});
const reserveInput = (run: TestRun, n = 1, extra: Record<string, unknown> = {}) => ({
  runId: run.runId,
  from: run.stations[0],
  to: run.stations[3],
  class: 'SLEEPER',
  passengers: Array.from({ length: n }, (_, i) => passenger(i)),
  ...extra,
});

async function reserve(d: BookingDeps, who: Identity, input: Record<string, unknown>, key: string = randomUUID()) {
  const res = await execute(server, RESERVE, { input, key }, ctx(who, d));
  return { res, view: res.data?.reserveSeats as View | undefined };
}

async function reservation(d: BookingDeps, who: Identity, pnr: string): Promise<View> {
  const res = await execute(server, RESERVATION, { pnr }, ctx(who, d));
  expect(res.errors).toBeUndefined();
  return res.data!.reservation as View;
}

/** Polls reservation(pnr) for each until none is QUEUED; returns the final views. */
async function outcomes(d: BookingDeps, made: { who: Identity; pnr: string }[], timeoutMs = 120_000): Promise<View[]> {
  return waitFor(
    `${made.length} queued reservations to be decided`,
    async () => {
      const views = await Promise.all(made.map((m) => reservation(d, m.who, m.pnr)));
      return views.every((v) => v.status !== 'QUEUED') && views;
    },
    { timeoutMs, intervalMs: 200 },
  );
}

/**
 * A decided request's outcome: the reservation's status (its money: HELD until paid, for berths and
 * WL numbers alike) and what its passengers got, e.g. 'HELD/HELD' (berths) or 'HELD/WAITLISTED'.
 */
const outcomeOf = (r: { status: string; passengers: { status: string }[] }) =>
  `${r.status}/${[...new Set(r.passengers.map((p) => p.status))].join('+')}`;
const BERTHS = 'HELD/HELD';
const WL = 'HELD/WAITLISTED';

const statusesByTicket = async (runId: string) =>
  (
    await db.prisma.reservation.findMany({
      where: { runId },
      orderBy: { queueTicket: 'asc' },
      select: { status: true, passengers: { select: { status: true } } },
    })
  ).map(outcomeOf);

/** A seeded PRNG: the same "random" rush every run. */
const prng = seededRandom;

beforeAll(async () => {
  db = await createTestDatabase('queue');
  redis = createRedis(REDIS_URL);
  await server.start();
});

afterAll(async () => {
  await server.stop();
  redis?.disconnect();
  await db?.drop();
});

describe('QUEUED answers', () => {
  it('queueWaitMs 0: QUEUED with PNR and place; reservation(pnr) shows the outcome; retries keep the PNR', async () => {
    const d = depsWith({ queueWaitMs: 0 });
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 10 });
    // Nothing is decided while the test holds the allocator's row: every request is still queued.
    const lock = await lockAllocatorRow(db.url, run.runId);
    await lock.locked;
    const made: { who: Identity; key: string; input: Record<string, unknown>; first: View }[] = [];
    try {
      const requests = Array.from({ length: 20 }, (_, i) => ({
        who: identity(randomUUID()),
        key: randomUUID(),
        input: reserveInput(run, 1, { passengers: [passenger(i)] }),
      }));
      const answers = await Promise.all(requests.map((r) => reserve(d, r.who, r.input, r.key)));
      answers.forEach(({ res, view }, i) => {
        expect(res.errors).toBeUndefined();
        expect(view).toMatchObject({
          status: 'QUEUED',
          refusalCode: null,
          passengers: [{ status: 'QUEUED', coach: null, berth: null, waitlistNumber: null }],
        });
        expect(view!.pnr).toMatch(/^\d{10}$/);
        expect(view!.queuePosition).toBeGreaterThanOrEqual(1);
        expect(view!.estimatedWaitSeconds).toBeGreaterThanOrEqual(0);
        made.push({ ...requests[i]!, first: view! });
      });
      // Nothing decided yet: the places are the arrival tickets 1..20, one each.
      expect(made.map((m) => m.first.queuePosition).sort((a, b) => a! - b!)).toEqual(
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      expect(new Set(made.map((m) => m.first.pnr)).size).toBe(20);

      // A retry while queued: the same reservation and place, nothing new written.
      const retried = await Promise.all(made.map((m) => reserve(d, m.who, m.input, m.key)));
      retried.forEach(({ res, view }, i) => {
        expect(res.errors).toBeUndefined();
        expect(view).toMatchObject({
          id: made[i]!.first.id,
          pnr: made[i]!.first.pnr,
          status: 'QUEUED',
          queuePosition: made[i]!.first.queuePosition,
        });
      });
      // reservation(pnr) shows the same place while queued.
      const polled = await reservation(d, made[0]!.who, made[0]!.first.pnr);
      expect(polled).toMatchObject({ status: 'QUEUED', queuePosition: made[0]!.first.queuePosition });
      expect(await db.prisma.reservation.count({ where: { runId: run.runId } })).toBe(20);
      expect(await db.prisma.reservation.count({ where: { runId: run.runId, status: 'QUEUED' } })).toBe(20);
    } finally {
      await lock.release();
    }

    const final = await outcomes(
      d,
      made.map((m) => ({ who: m.who, pnr: m.first.pnr })),
    );
    for (const v of final) {
      expect([BERTHS, WL]).toContain(outcomeOf(v));
      expect(v.queuePosition).toBeNull();
      expect(v.estimatedWaitSeconds).toBeNull();
    }
    // First come, first served: tickets 1-10 hold the 10 berths, 11-20 are WL 1-10.
    expect(await statusesByTicket(run.runId)).toEqual([...Array(10).fill(BERTHS), ...Array(10).fill(WL)]);
    // A retry after the outcome replays it: same reservation, its outcome, still one row each.
    const after = await Promise.all(made.map((m) => reserve(d, m.who, m.input, m.key)));
    after.forEach(({ res, view }, i) => {
      expect(res.errors).toBeUndefined();
      expect(view).toMatchObject({ id: made[i]!.first.id, pnr: made[i]!.first.pnr, status: final[i]!.status });
      expect(view!.passengers).toEqual(final[i]!.passengers);
    });
    expect(await db.prisma.reservation.count({ where: { runId: run.runId } })).toBe(20);
    expect(await doubleBookingAudit(db.prisma, run.runId)).toEqual({
      overlaps: 0,
      maskMismatch: 0,
      seatedPassengers: 10,
      distinctSeats: 10,
    });
    expect(await fifoAudit(db.prisma, run.runId)).toEqual({
      inversions: 0,
      waitlistNumbers: { SLEEPER: Array.from({ length: 10 }, (_, i) => i + 1) },
    });
  }, 180_000);

  it('a retry of a queued request after its journey sold out replays its outcome, not a refusal', async () => {
    const d = depsWith({ queueWaitMs: 0 });
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 2 });
    // Two requests that do not want the waitlist take the last two berths; both are answered QUEUED.
    const first = {
      who: identity(randomUUID()),
      key: randomUUID(),
      input: reserveInput(run, 1, { allowWaitlist: false }),
    };
    const second = {
      who: identity(randomUUID()),
      key: randomUUID(),
      input: reserveInput(run, 1, { allowWaitlist: false, passengers: [passenger(1)] }),
    };
    const queued = [];
    for (const r of [first, second]) queued.push((await reserve(d, r.who, r.input, r.key)).view!);
    expect(queued.map((v) => v.status)).toEqual(['QUEUED', 'QUEUED']);
    await waitFor(
      'both to be decided',
      async () => (await db.prisma.reservation.count({ where: { runId: run.runId, status: 'QUEUED' } })) === 0,
      { intervalMs: 20 },
    );
    expect(await statusesByTicket(run.runId)).toEqual([BERTHS, BERTHS]);
    // The client of the second did not get its QUEUED answer and retries with the same key, while
    // the journey is published as sold out: its own outcome (HELD) is what it must get back.
    const retry = await reserve(d, second.who, second.input, second.key);
    expect(errorCodes(retry.res)).toEqual([]);
    expect(retry.view).toMatchObject({ id: queued[1]!.id, pnr: queued[1]!.pnr, status: 'HELD' });
    expect(await reservation(d, second.who, queued[1]!.pnr)).toMatchObject({ status: 'HELD' });
  }, 120_000);

  it('a retry whose key Redis never learned (its process died after the write) gets its hold', async () => {
    // Found by the chaos run (seed 25): the leaseholder was killed between the intake's statement
    // and its Redis marker; the client's retry on the other instance was refused from memory while
    // the resumed queue held a berth for it, a hold nobody was told of.
    const d = depsWith({ queueWaitMs: 0 });
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 1 });
    const who = identity(randomUUID());
    const key = randomUUID();
    const input = reserveInput(run, 1, { allowWaitlist: false });
    const first = (await reserve(d, who, input, key)).view!;
    expect(first.status).toBe('QUEUED');
    await waitFor(
      'the request to be decided',
      async () => (await db.prisma.reservation.count({ where: { runId: run.runId, status: 'QUEUED' } })) === 0,
      { intervalMs: 20 },
    );
    // The run is published sold out: another traveller is refused from memory.
    expect(errorCodes((await reserve(d, identity(randomUUID()), input)).res)).toEqual(['SOLD_OUT']);
    // What the dead process never wrote: its key's marker in Redis.
    const markers = await redis.keys(`idem:booking:${who.userId}:*`);
    expect(markers).toHaveLength(1);
    await redis.del(...markers);

    const retry = await reserve(d, who, input, key);
    expect(errorCodes(retry.res)).toEqual([]);
    expect(retry.view).toMatchObject({ id: first.id, pnr: first.pnr, status: 'HELD' });
    expect(await db.prisma.reservation.count({ where: { userId: who.userId } })).toBe(1);
    // The retry put the outcome back in Redis: the next one is answered from there.
    expect(await redis.exists(markers[0]!)).toBe(1);
  }, 120_000);
});

describe('first come, first served', () => {
  it('300 concurrent requests, 1-4 passengers, 100 berths: in ticket order, no inversion, WL 1..n', async () => {
    // Small batches: the rush is decided over many transactions.
    const d = depsWith({ queueWaitMs: 120_000, batchSize: 16, waitlistLimit: 100_000 });
    const run = await createTestRun(db.prisma, { coaches: 4, berthsPerCoach: 25 });
    const random = prng(11);
    const sizes = Array.from({ length: 300 }, () => 1 + Math.floor(random() * 4));
    const results = await Promise.all(sizes.map((n) => reserve(d, identity(randomUUID()), reserveInput(run, n))));
    for (const { res, view } of results) {
      expect(res.errors).toBeUndefined();
      expect([BERTHS, WL]).toContain(outcomeOf(view!));
    }

    const rows = await db.prisma.reservation.findMany({
      where: { runId: run.runId },
      orderBy: { queueTicket: 'asc' },
      include: { passengers: true },
    });
    expect(rows).toHaveLength(300);
    expect(rows.map((r) => r.queueTicket)).toEqual(rows.map((_, i) => i + 1));
    // One journey, one class: the holds are a prefix of the tickets, the waitlist the rest.
    const firstWaiting = rows.findIndex((r) => outcomeOf(r) === WL);
    expect(firstWaiting).toBeGreaterThan(0);
    expect(rows.slice(0, firstWaiting).every((r) => outcomeOf(r) === BERTHS)).toBe(true);
    expect(rows.slice(firstWaiting).every((r) => outcomeOf(r) === WL)).toBe(true);
    // ... and the first group waitlisted did not fit in what was left.
    const seated = rows.slice(0, firstWaiting).reduce((sum, r) => sum + r.passengers.length, 0);
    expect(rows[firstWaiting]!.passengers.length).toBeGreaterThan(100 - seated);
    // The answers said what the database says.
    const answered = new Map(results.map(({ view }) => [view!.id, outcomeOf(view!)]));
    for (const r of rows) expect(answered.get(r.id)).toBe(outcomeOf(r));

    const fifo = await fifoAudit(db.prisma, run.runId);
    expect(fifo.inversions).toBe(0);
    const waiting = rows.slice(firstWaiting).reduce((sum, r) => sum + r.passengers.length, 0);
    expect(fifo.waitlistNumbers).toEqual({ SLEEPER: Array.from({ length: waiting }, (_, i) => i + 1) });
    expect(await doubleBookingAudit(db.prisma, run.runId)).toEqual({
      overlaps: 0,
      maskMismatch: 0,
      seatedPassengers: seated,
      distinctSeats: seated,
    });
  }, 300_000);
});

describe('the waitlist limit and cheap refusals', () => {
  let counting: CountingPrisma;
  beforeAll(() => {
    counting = countingPrisma(db.url);
  });
  afterAll(async () => {
    await counting?.disconnect();
  });

  it('waitlistLimit 10: at most 10 waitlisted, then SOLD_OUT; later refusals read a key, write nothing', async () => {
    const d = depsWith({ queueWaitMs: 120_000, waitlistLimit: 10 }, counting.prisma);
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 20 });
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        reserve(d, identity(randomUUID()), reserveInput(run, 1, { passengers: [passenger(i)] })),
      ),
    );
    const outcome = results.map(({ res, view }) => (view ? outcomeOf(view) : errorCodes(res).join(',')));
    const counts: Record<string, number> = {};
    for (const o of outcome) counts[o] = (counts[o] ?? 0) + 1;
    expect(counts).toEqual({ [BERTHS]: 20, [WL]: 10, SOLD_OUT: 30 });

    const byStatus = await db.prisma.reservation.groupBy({
      by: ['status', 'refusalCode'],
      where: { runId: run.runId },
      _count: true,
    });
    const rows = Object.fromEntries(
      byStatus.map((g) => [`${g.status}${g.refusalCode ? `/${g.refusalCode}` : ''}`, g._count]),
    );
    // Refused by the allocator (a REFUSED row) or before the queue (no row): 30 either way.
    // Held: 20 on berths and 10 on the waitlist.
    expect(rows.HELD).toBe(30);
    expect(Object.keys(rows).sort()).toEqual(
      ['HELD', ...(rows['REFUSED/SOLD_OUT'] ? ['REFUSED/SOLD_OUT'] : [])].sort(),
    );
    const passengers = await db.prisma.passenger.groupBy({
      by: ['status'],
      where: { reservation: { runId: run.runId, status: 'HELD' } },
      _count: true,
    });
    expect(Object.fromEntries(passengers.map((g) => [g.status, g._count]))).toEqual({ HELD: 20, WAITLISTED: 10 });
    expect(await fifoAudit(db.prisma, run.runId)).toEqual({
      inversions: 0,
      waitlistNumbers: { SLEEPER: Array.from({ length: 10 }, (_, i) => i + 1) },
    });
    expect(await doubleBookingAudit(db.prisma, run.runId)).toEqual({
      overlaps: 0,
      maskMismatch: 0,
      seatedPassengers: 20,
      distinctSeats: 20,
    });

    // Once the published state lapses, a request goes to the queue again: the allocator refuses
    // it (a REFUSED row) and publishes the journey's state afresh.
    const journeys = `booking:journeys:${run.runId}:SLEEPER:GENERAL`;
    await waitFor('the published journey state to lapse', async () => (await redis.exists(journeys)) === 0, {
      timeoutMs: 10_000,
    });
    const primer = identity(randomUUID());
    expect(errorCodes((await reserve(d, primer, reserveInput(run))).res)).toEqual(['SOLD_OUT']);
    expect(
      await db.prisma.reservation.findMany({
        where: { userId: primer.userId },
        select: { status: true, refusalCode: true },
      }),
    ).toEqual([{ status: 'REFUSED', refusalCode: 'SOLD_OUT' }]);
    // The next requests are refused from what was published.
    expect(errorCodes((await reserve(d, identity(randomUUID()), reserveInput(run))).res)).toEqual(['SOLD_OUT']);
    const refused = identity(randomUUID());
    const key = randomUUID();
    let answer: Awaited<ReturnType<typeof reserve>> | undefined;
    const statements = await counting.statementsDuring(async () => {
      answer = await reserve(d, refused, reserveInput(run), key);
    });
    expect(errorCodes(answer!.res)).toEqual(['SOLD_OUT']);
    // One read (was this key's request written before? "a retry whose key Redis never learned"), nothing written.
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatch(/^SELECT k\.user_id, k\.key, k\.request_hash,.* FROM "booking"\."idempotency_keys"/s);
    expect(await db.prisma.reservation.count({ where: { userId: refused.userId } })).toBe(0);
    expect(await db.prisma.bookingIdempotencyKey.count({ where: { userId: refused.userId } })).toBe(0);
    // A retry replays the refusal (from Redis), still without a row.
    expect(errorCodes((await reserve(d, refused, reserveInput(run), key)).res)).toEqual(['SOLD_OUT']);
    expect(await db.prisma.reservation.count({ where: { userId: refused.userId } })).toBe(0);
    // Refusals at once share their reads: fewer statements than refusals, every one a read.
    let burst: Awaited<ReturnType<typeof reserve>>[] = [];
    const reads = await counting.statementsDuring(async () => {
      burst = await Promise.all(
        Array.from({ length: 30 }, () => reserve(d, identity(randomUUID()), reserveInput(run))),
      );
    });
    expect(burst.map((b) => errorCodes(b.res).join())).toEqual(Array(30).fill('SOLD_OUT'));
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.length).toBeLessThan(30);
    expect(reads.every((q) => q.startsWith('SELECT k.user_id, k.key, k.request_hash'))).toBe(true);
  }, 300_000);
});

describe('cancelling a queued reservation', () => {
  it('a QUEUED reservation is cancelled whole; the allocator skips it, its key replays the cancellation', async () => {
    const d = depsWith({ queueWaitMs: 0 });
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 2 });
    const owner = identity(randomUUID());
    const other = identity(randomUUID());
    const key = randomUUID();
    const input = reserveInput(run, 2);
    const lock = await lockAllocatorRow(db.url, run.runId);
    await lock.locked;
    let queued: View;
    let behind: View;
    try {
      queued = (await reserve(d, owner, input, key)).view!;
      behind = (await reserve(d, other, reserveInput(run))).view!;
      expect([queued.status, behind.status]).toEqual(['QUEUED', 'QUEUED']);
      // Waiting for the allocator: it is blocked on its row, not done.
      await waitFor(
        'the allocator to wait for its row',
        async () => (await lockWaiters(db.prisma, db.name, 'booking.run_allocators')).length > 0,
      );

      const part = await execute(
        server,
        CANCEL,
        { pnr: queued.pnr, ids: [queued.passengers[0]!.id], key: randomUUID() },
        ctx(owner, d),
      );
      expect(errorCodes(part)).toEqual(['INVALID_STATE']);
      const stranger = await execute(server, CANCEL, { pnr: queued.pnr, ids: null, key: randomUUID() }, ctx(other, d));
      expect(errorCodes(stranger)).toEqual(['NOT_FOUND']);
      const cancelled = await execute(server, CANCEL, { pnr: queued.pnr, ids: null, key: randomUUID() }, ctx(owner, d));
      expect(cancelled.errors).toBeUndefined();
      expect(cancelled.data!.cancelReservation).toEqual({
        id: queued.id,
        pnr: queued.pnr,
        status: 'CANCELLED',
        passengers: [{ status: 'CANCELLED' }, { status: 'CANCELLED' }],
      });
      expect(
        await db.prisma.reservation.findUniqueOrThrow({ where: { id: behind.id }, select: { status: true } }),
      ).toEqual({ status: 'QUEUED' });
    } finally {
      await lock.release();
    }

    // The allocator drains past it: the request behind gets berth 1, which the cancelled group would have had.
    const [decided] = await outcomes(d, [{ who: other, pnr: behind.pnr }]);
    expect(decided).toMatchObject({ status: 'HELD', passengers: [{ status: 'HELD', coach: 'S1', berth: 1 }] });
    const gone = await db.prisma.reservation.findUniqueOrThrow({
      where: { id: queued.id },
      include: { passengers: true },
    });
    expect(gone.status).toBe('CANCELLED');
    expect(gone.passengers.map((p) => [p.status, p.seatId, p.waitlistNumber])).toEqual([
      ['CANCELLED', null, null],
      ['CANCELLED', null, null],
    ]);
    expect(await db.prisma.seatOccupancy.count({ where: { reservationId: queued.id } })).toBe(0);
    expect((await db.prisma.runAllocator.findUniqueOrThrow({ where: { runId: run.runId } })).doneTicket).toBe(2);

    // Its reserveSeats key replays the cancellation: the same PNR, no second reservation.
    const retry = await reserve(d, owner, input, key);
    expect(retry.res.errors).toBeUndefined();
    expect(retry.view).toMatchObject({ id: queued.id, pnr: queued.pnr, status: 'CANCELLED' });
    expect(await db.prisma.reservation.count({ where: { userId: owner.userId } })).toBe(1);
    expect(await doubleBookingAudit(db.prisma, run.runId)).toEqual({
      overlaps: 0,
      maskMismatch: 0,
      seatedPassengers: 1,
      distinctSeats: 1,
    });
  }, 120_000);
});

describe('seat inventory', () => {
  const inventoryOf = async (runId: string) => ({
    ready: (await db.prisma.trainRun.findUniqueOrThrow({ where: { id: runId } })).inventoryReady,
    seats: await db.prisma.runSeat.count({ where: { runId } }),
    queue: await db.prisma.runQueue.count({ where: { runId } }),
    allocator: await db.prisma.runAllocator.count({ where: { runId } }),
  });

  it('prepareInventory prepares the runs within the horizon, and not those beyond it', async () => {
    const within = await createTestRun(db.prisma, { coaches: 2, berthsPerCoach: 6, daysAhead: 1, prepared: false });
    const beyond = await createTestRun(db.prisma, { coaches: 2, berthsPerCoach: 6, daysAhead: 3, prepared: false });
    expect(await inventoryOf(within.runId)).toEqual({ ready: false, seats: 0, queue: 0, allocator: 0 });
    // As the preparer does: a few runs per call until none is due (the seed's runs of these days too).
    for (let n = -1; n !== 0; ) n = await prepareInventory(db.prisma, { horizonDays: 1, maxRuns: 50 });
    expect(await inventoryOf(within.runId)).toEqual({ ready: true, seats: 12, queue: 1, allocator: 1 });
    expect(await inventoryOf(beyond.runId)).toEqual({ ready: false, seats: 0, queue: 0, allocator: 0 });
    // Idempotent: nothing left to do, nothing created twice.
    expect(await prepareInventory(db.prisma, { horizonDays: 1, maxRuns: 50 })).toBe(0);
    expect(await inventoryOf(within.runId)).toEqual({ ready: true, seats: 12, queue: 1, allocator: 1 });
  }, 300_000);

  it('a run never prepared still books: its inventory is created on the way', async () => {
    const d = depsWith({ queueWaitMs: 120_000 });
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 4, daysAhead: 20, prepared: false });
    const { res, view } = await reserve(d, identity(randomUUID()), reserveInput(run, 2));
    expect(res.errors).toBeUndefined();
    // The allocator created the run's berths before deciding (not an allocator row alone).
    expect(await inventoryOf(run.runId)).toEqual({ ready: true, seats: 4, queue: 1, allocator: 1 });
    expect(view).toMatchObject({
      status: 'HELD',
      passengers: [
        { status: 'HELD', coach: 'S1' },
        { status: 'HELD', coach: 'S1' },
      ],
    });
    expect(await doubleBookingAudit(db.prisma, run.runId)).toEqual({
      overlaps: 0,
      maskMismatch: 0,
      seatedPassengers: 2,
      distinctSeats: 2,
    });
  }, 120_000);
});

describe('the allocator fence', () => {
  it('an allocator whose fence was bumped stops without writing; the next kick finishes the queue', async () => {
    const lines: string[] = [];
    const logger = createLogger('test', 'warn', { write: (line: string) => void lines.push(line) });
    const d = depsWith({ queueWaitMs: 0, batchSize: 5 }, db.prisma, logger);
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 10 });
    const waiting = (text: string) => lockWaiters(db.prisma, db.name, text);
    const TAKE_FENCE = 'INSERT INTO booking.run_allocators AS a';
    const BATCH = 'SELECT fence FROM booking.run_allocators';
    const HELD_BY_TEST = 'SELECT fence AS held_fence';

    // 1. The test holds the allocator row: 20 requests queue up, the allocator waits to take its fence.
    const first = await lockAllocatorRow(db.url, run.runId);
    const before = BigInt(await first.locked);
    const made = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const who = identity(randomUUID());
        const { view } = await reserve(d, who, reserveInput(run, 1, { passengers: [passenger(i)] }));
        expect(view!.status).toBe('QUEUED');
        return { who, pnr: view!.pnr };
      }),
    );
    await waitFor('the allocator to take its fence', async () => (await waiting(TAKE_FENCE)).length === 1);
    // 2. A second hold queues up behind it; releasing the first lets the allocator take fence + 1,
    //    then the second hold has the row and the allocator's batch waits for it. (Usually its
    //    first batch; on a busy machine the batch, sent as the fence is taken, can beat the
    //    waiting hold to the row and decide itself, under a fence still valid: then the next one.)
    const second = await lockAllocatorRow(db.url, run.runId);
    await waitFor('the second hold to queue', async () =>
      (await waiting(HELD_BY_TEST)).some((w) => w.pid === second.pid),
    );
    await first.release();
    expect(BigInt(await second.locked)).toBe(before + 1n);
    await waitFor("the allocator's batch to wait for its row", async () => (await waiting(BATCH)).length === 1);
    // Stable while the allocator waits: what it decided under its valid fence.
    const decidedBefore = await db.prisma.reservation.count({ where: { runId: run.runId, status: { not: 'QUEUED' } } });
    const occupiedBefore = await db.prisma.seatOccupancy.count({ where: { runId: run.runId } });
    // 3. Another instance takes over: the lease (which keeps this process from draining again while
    //    we look) and a newer fence in the row, as its takeFence would write it.
    const lease = allocatorLeaseKey(run.runId);
    expect(await redis.set(lease, 'held-by-test', 'PX', 120_000)).toBe('OK');
    await second.query('UPDATE booking.run_allocators SET fence = fence + 1 WHERE run_id = $1', [run.runId]);
    await second.release();
    // 4. The batch saw the new fence and gave up, writing nothing.
    try {
      await waitFor('the allocator to report its lost lease', async () =>
        lines.some((l) => l.includes('allocator lease lost to a newer holder')),
      );
      expect(await db.prisma.reservation.count({ where: { runId: run.runId, status: 'QUEUED' } })).toBe(
        20 - decidedBefore,
      );
      expect(await db.prisma.seatOccupancy.count({ where: { runId: run.runId } })).toBe(occupiedBefore);
      expect(await db.prisma.runAllocator.findUniqueOrThrow({ where: { runId: run.runId } })).toMatchObject({
        fence: before + 2n,
        doneTicket: decidedBefore,
      });
      // Its lease is not ours to delete any more: the newer holder's key is left alone.
      expect(await redis.get(lease)).toBe('held-by-test');
    } finally {
      await redis.del(lease);
    }

    // 5. The next kick (a new lease, a new fence) decides every request, once.
    d.reservations.queue.allocator.kick(run.runId);
    await outcomes(d, made);
    expect(await statusesByTicket(run.runId)).toEqual([...Array(10).fill(BERTHS), ...Array(10).fill(WL)]);
    const allocator = await db.prisma.runAllocator.findUniqueOrThrow({ where: { runId: run.runId } });
    expect(allocator.fence).toBeGreaterThan(before + 2n);
    expect(allocator.doneTicket).toBe(20);
    expect(lines.filter((l) => l.includes('allocator lease lost'))).toHaveLength(1);
    expect(await doubleBookingAudit(db.prisma, run.runId)).toEqual({
      overlaps: 0,
      maskMismatch: 0,
      seatedPassengers: 10,
      distinctSeats: 10,
    });
    expect(await fifoAudit(db.prisma, run.runId)).toEqual({
      inversions: 0,
      waitlistNumbers: { SLEEPER: Array.from({ length: 10 }, (_, i) => i + 1) },
    });
  }, 180_000);
});

describe('first come, first served with a queued row locked elsewhere', () => {
  it('a queued request whose row another transaction holds (a cancel that then fails) is not overtaken', async () => {
    const d = depsWith({ queueWaitMs: 0 });
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 2 });
    const allocatorRow = await lockAllocatorRow(db.url, run.runId);
    await allocatorRow.locked;
    const made: { who: Identity; pnr: string; id: string }[] = [];
    // Tickets 1, 2, 3, one passenger each, for 2 berths.
    for (let i = 0; i < 3; i++) {
      const who = identity(randomUUID());
      const { view } = await reserve(d, who, reserveInput(run, 1, { passengers: [passenger(i)] }));
      expect(view!.status).toBe('QUEUED');
      made.push({ who, pnr: view!.pnr, id: view!.id });
    }
    // Ticket 1's row held as cancelReservation holds it (SELECT ... FOR UPDATE), by a transaction
    // that will roll back (e.g. a partial cancel of a queued group: INVALID_STATE).
    const pgClient = new pg.Client({ connectionString: db.url });
    await pgClient.connect();
    try {
      await pgClient.query('BEGIN');
      await pgClient.query('SELECT id FROM booking.reservations WHERE id = $1 FOR UPDATE', [made[0]!.id]);
      await allocatorRow.release();
      // The allocator either waits for ticket 1's row, or (skipping it) decides tickets 2 and 3.
      await waitFor('the allocator to wait for ticket 1 or to decide past it', async () => {
        if ((await lockWaiters(db.prisma, db.name, 'FROM booking.reservations')).length > 0) return true;
        return (
          (await db.prisma.reservation.count({
            where: { id: { in: [made[1]!.id, made[2]!.id] }, status: { not: 'QUEUED' } },
          })) === 2
        );
      });
      await pgClient.query('ROLLBACK');
    } finally {
      await pgClient.end();
    }
    d.reservations.queue.allocator.kick(run.runId);
    await outcomes(d, made);
    // Ticket 1 came first: it has a berth, ticket 3 waits.
    expect(await statusesByTicket(run.runId)).toEqual([BERTHS, BERTHS, WL]);
    expect((await fifoAudit(db.prisma, run.runId)).inversions).toBe(0);
    expect(await doubleBookingAudit(db.prisma, run.runId)).toEqual({
      overlaps: 0,
      maskMismatch: 0,
      seatedPassengers: 2,
      distinctSeats: 2,
    });
  }, 120_000);
});
