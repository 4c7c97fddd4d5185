// RAC against the real PostgreSQL and Redis (docs/api.md, "RAC"): a class fills its berths, then
// its RAC half berths, then the waitlist, as availability's status code shows; then many paid berth
// holders cancel at once through three booking instances (their own Prisma clients and
// allocators), and every freed berth goes to the earliest RAC passenger, whose half berth goes to
// the earliest waitlisted one, each passenger promoted once. The database refuses a third
// passenger on a half berth whatever the code does.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, type Identity, type Redis } from '@tatkal/common';
import { createPrisma, type PrismaClient } from '@tatkal/db';
import { racAudit } from '../../../packages/testkit/src/trainRun.ts';
import { bookingContext, type BookingDeps } from '../src/context.ts';
import { createBookingDeps } from '../src/deps.ts';
import { cancelReservation } from '../src/domain/cancel.ts';
import { confirm, release } from '../src/domain/lifecycle/index.ts';
import type { QueuedView } from '../src/domain/queue.ts';
import { buildBookingServer } from '../src/server.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { REDIS_URL } from '../../../test/support/env.ts';
import { execute } from '../../../test/support/graphql.ts';
import { testLogger } from '../../../test/support/logger.ts';
import { identity } from '../../../test/support/tokens.ts';
import { createTestRun, doubleBookingAudit, lockWaiters, type TestRun, waitFor } from './fixtures.ts';

let db: TestDatabase;
let redis: Redis;
const clients: PrismaClient[] = [];
/** Three booking instances: each its own connection pool, allocator and caches. */
const instances: BookingDeps[] = [];
const { server } = buildBookingServer({ logger: testLogger, production: false });

const settings = {
  txMaxWaitMs: 60_000,
  txTimeoutMs: 60_000,
  queueWaitMs: 60_000,
  // Limits per person are another test's concern.
  monthlyPnrs: 0,
  monthlyPnrsVerified: 0,
  unpaidHoldsPerAccount: 0,
};

beforeAll(async () => {
  db = await createTestDatabase('rac');
  redis = createRedis(REDIS_URL);
  for (let i = 0; i < 3; i++) {
    const prisma = i === 0 ? db.prisma : createPrisma(db.url, { max: 10, applicationName: `test:rac-${i}` });
    clients.push(prisma);
    instances.push(createBookingDeps(prisma, redis, testLogger, settings));
  }
  await server.start();
});

afterAll(async () => {
  await server.stop();
  await Promise.all(clients.slice(1).map((c) => c.$disconnect()));
  redis?.disconnect();
  await db?.drop();
});

const passenger = (i: number) => ({
  name: `Rac Passenger ${String.fromCharCode(65 + (i % 26))}`,
  age: 20 + (i % 50),
  gender: 'FEMALE' as const,
});

interface Booked {
  who: Identity;
  view: QueuedView;
}

async function book(run: TestRun, n = 1, d: BookingDeps = instances[0]!): Promise<Booked> {
  const who = identity(randomUUID());
  const view = await d.reservations.queue.reserveSeats(
    who,
    {
      runId: run.runId,
      from: run.stations[0],
      to: run.stations[3],
      class: 'SLEEPER',
      passengers: Array.from({ length: n }, (_, i) => passenger(i)),
    },
    randomUUID(),
  );
  return { who, view };
}

async function availability(run: TestRun) {
  const res = await execute(
    server,
    `query($id: ID!, $f: String!, $t: String!) {
      availability(runId: $id, from: $f, to: $t, class: SLEEPER) {
        statusCode availableBerths racLength racAvailable waitlistLength
      }
    }`,
    { id: run.runId, f: run.stations[0], t: run.stations[3] },
    bookingContext(instances[0]!, { identity: null, requestId: 'test', log: testLogger }),
  );
  expect(res.errors).toBeUndefined();
  return res.data!.availability[0] as {
    statusCode: string;
    availableBerths: number;
    racLength: number;
    racAvailable: number;
    waitlistLength: number;
  };
}

const passengersOf = (ids: string[]) =>
  db.prisma.passenger.findMany({ where: { reservationId: { in: ids } }, orderBy: { position: 'asc' } });

describe('RAC: berths, then RAC, then WL; concurrent cancellations promote in order', () => {
  // Two sleeper coaches of 16: side lowers 7 and 15 of each are RAC berths (2 x 2 x 2 = 8 halves),
  // the other 14 of each coach are sold as berths (28).
  const BERTHS = 28;
  const HALVES = 8;
  const WL_SINGLES = 10;
  const CANCELLED = 10;
  let run: TestRun;
  const holders: Booked[] = [];
  const rac: Booked[] = [];
  const wl: Booked[] = [];
  let group: Booked;

  it('fills berths, then RAC half berths, then the waitlist, as the status code says', async () => {
    run = await createTestRun(db.prisma, { cls: 'SLEEPER', coaches: 2, berthsPerCoach: 16, racBerths: 2 });
    expect(await availability(run)).toEqual({
      statusCode: `AVAILABLE ${BERTHS}`,
      availableBerths: BERTHS,
      racLength: 0,
      racAvailable: HALVES,
      waitlistLength: 0,
    });
    // One at a time: the order of arrival is the order of berths, RAC and WL numbers.
    for (let i = 0; i < BERTHS; i++) {
      const b = await book(run);
      expect(b.view.status).toBe('HELD');
      expect(b.view.passengers[0]).toMatchObject({ status: 'HELD', racNumber: null, waitlistNumber: null });
      expect(b.view.passengers[0]!.berthType).not.toBe('SL');
      holders.push(b);
      if (i === BERTHS - 2) expect((await availability(run)).statusCode).toBe('AVAILABLE 1');
    }
    expect(await availability(run)).toMatchObject({ statusCode: 'RAC 1', availableBerths: 0, racAvailable: HALVES });

    for (let i = 0; i < HALVES; i++) {
      const b = await book(run);
      // The reservation is held (unpaid) like any other; its passenger is on RAC.
      expect(b.view.status).toBe('HELD');
      expect(b.view.passengers[0]).toMatchObject({
        status: 'RAC',
        racNumber: i + 1,
        waitlistNumber: null,
        berthType: 'SL',
      });
      expect([7, 15]).toContain(b.view.passengers[0]!.berth);
      rac.push(b);
      expect(await availability(run)).toMatchObject({
        statusCode: i === HALVES - 1 ? 'WL 1' : `RAC ${i + 2}`,
        racLength: i + 1,
        racAvailable: HALVES - i - 1,
      });
    }
    // Two RAC passengers per side lower berth, never more.
    const racSeats = (await passengersOf(rac.map((b) => b.view.id))).map((p) => `${p.seatId}/${p.racSlot}`);
    expect(new Set(racSeats).size).toBe(HALVES);

    for (let i = 0; i < WL_SINGLES; i++) {
      const b = await book(run);
      expect(b.view.status).toBe('HELD');
      expect(b.view.passengers[0]).toMatchObject({
        status: 'WAITLISTED',
        waitlistNumber: i + 1,
        racNumber: null,
        coach: null,
      });
      wl.push(b);
    }
    group = await book(run, 2);
    expect(group.view.passengers.map((p) => [p.status, p.waitlistNumber])).toEqual([
      ['WAITLISTED', WL_SINGLES + 1],
      ['WAITLISTED', WL_SINGLES + 2],
    ]);
    expect(await availability(run)).toMatchObject({
      statusCode: `WL ${WL_SINGLES + 3}`,
      availableBerths: 0,
      racLength: HALVES,
      racAvailable: 0,
      waitlistLength: WL_SINGLES + 2,
    });
    expect(await racAudit(db.prisma, run.runId)).toEqual({ racOverShared: 0, racMaskMismatch: 0, racSoldAsBerth: 0 });
  }, 240_000);

  it('pays: berth holders are CONFIRMED, RAC and WL passengers keep their places', async () => {
    // All paid but one RAC and one WL PNR (unpaid holds: promoted passengers of theirs stay HELD).
    const unpaid = new Set([rac[1]!.view.id, wl[0]!.view.id]);
    const paying = [...holders, ...rac, ...wl, group].filter((b) => !unpaid.has(b.view.id));
    const outcomes = await Promise.all(paying.map((b, i) => confirm(clients[i % clients.length]!, b.view.id)));
    expect(new Set(outcomes)).toEqual(new Set(['CONFIRMED']));
    const after = await passengersOf([...holders, ...rac, ...wl, group].map((b) => b.view.id));
    const statusOf = (b: Booked) => after.filter((p) => p.reservationId === b.view.id).map((p) => p.status);
    for (const h of holders) expect(statusOf(h)).toEqual(['CONFIRMED']);
    for (const r of rac) expect(statusOf(r)).toEqual(['RAC']);
    for (const w of wl) expect(statusOf(w)).toEqual(['WAITLISTED']);
    const reservations = await db.prisma.reservation.findMany({ where: { runId: run.runId } });
    expect(reservations.filter((r) => r.status === 'CONFIRMED')).toHaveLength(paying.length);
    expect(
      reservations
        .filter((r) => r.status === 'HELD')
        .map((r) => r.id)
        .sort(),
    ).toEqual([...unpaid].sort());
  });

  it(`${CANCELLED} berth holders cancel at once via three instances: RAC -> berth, WL -> RAC, in order`, async () => {
    const promotedBefore = await db.prisma.bookingOutbox.count({ where: { routingKey: 'reservation.promoted' } });
    // Every other berth holder, so the freed berths are spread over both coaches.
    const leaving = holders.filter((_, i) => i % 2 === 0).slice(0, CANCELLED);
    const freed = (await passengersOf(leaving.map((b) => b.view.id))).map((p) => p.seatId!);
    const results = await Promise.allSettled(
      leaving.map((b, i) =>
        cancelReservation(instances[i % instances.length]!.reservations, b.who, { pnr: b.view.pnr }),
      ),
    );
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    expect(failures).toEqual([]);
    for (const r of results) expect((r as PromiseFulfilledResult<{ status: string }>).value.status).toBe('CANCELLED');

    const byId = new Map((await passengersOf([...rac, ...wl, group].map((b) => b.view.id))).map((p) => [p.id, p]));
    const only = (b: Booked) => byId.get(b.view.passengers[0]!.id)!;
    const events = await db.prisma.bookingOutbox.findMany({
      where: { routingKey: 'reservation.promoted' },
      orderBy: { createdAt: 'asc' },
    });
    expect(events.length).toBeGreaterThan(promotedBefore);
    type Move = { id: string; to: 'BERTH' | 'RAC'; racNumber: number | null };
    const promotions = events.flatMap((e) => (e.payload as { data: { passengers: Move[] } }).data.passengers);
    const racNumberGiven = new Map(promotions.filter((m) => m.to === 'RAC').map((m) => [m.id, m.racNumber]));
    // RAC 1..8 each got a berth (one of those freed), in order: every RAC passenger was before every WL one.
    rac.forEach((b, i) => {
      const p = only(b);
      expect(p.status, `RAC ${i + 1}`).toBe(i === 1 ? 'HELD' : 'CONFIRMED');
      expect(p.racSlot).toBeNull();
      expect(p.berthType).not.toBe('SL');
      expect(freed).toContain(p.seatId);
    });
    // WL 1..10 moved to the RAC halves those left, with RAC numbers 9..18 in WL order; the two
    // freed berths left after the first RAC passengers went to the earliest of them (RAC 9, 10).
    const movedUp = CANCELLED - HALVES;
    wl.forEach((b, i) => {
      const p = only(b);
      // The RAC number each got on the way up (a passenger on a berth has none any more).
      expect(racNumberGiven.get(p.id), `WL ${i + 1}`).toBe(HALVES + i + 1);
      if (i < movedUp) {
        expect(p.racNumber).toBeNull();
        expect(p.status, `WL ${i + 1}`).toBe(i === 0 ? 'HELD' : 'CONFIRMED');
        expect(p.racSlot).toBeNull();
        expect(freed).toContain(p.seatId);
      } else {
        expect(p.status, `WL ${i + 1}`).toBe('RAC');
        expect(p.berthType).toBe('SL');
        expect(p.racSlot).not.toBeNull();
        expect(p.racNumber).toBe(HALVES + i + 1);
      }
    });
    // The group waits on: WL 11 and 12.
    expect(group.view.passengers.map((p) => [byId.get(p.id)!.status, byId.get(p.id)!.waitlistNumber])).toEqual([
      ['WAITLISTED', WL_SINGLES + 1],
      ['WAITLISTED', WL_SINGLES + 2],
    ]);
    // Every freed berth has exactly one new passenger, and every half one RAC passenger.
    const berthTakers = [...rac, ...wl.slice(0, movedUp)].map((b) => only(b).seatId);
    expect(berthTakers.sort()).toEqual([...freed].sort());
    const halves = wl.slice(movedUp).map((b) => `${only(b).seatId}/${only(b).racSlot}`);
    expect(new Set(halves).size).toBe(HALVES);

    // Each promotion announced once: RAC 1..8 and WL 1, 2 to a berth; WL 1..10 to RAC.
    const moves = promotions.map((m) => `${m.id}>${m.to}`);
    expect(new Set(moves).size, 'no passenger promoted the same way twice').toBe(moves.length);
    const expected = [
      ...rac.map((b) => `${only(b).id}>BERTH`),
      ...wl.map((b) => `${only(b).id}>RAC`),
      ...wl.slice(0, movedUp).map((b) => `${only(b).id}>BERTH`),
    ];
    expect(moves.sort()).toEqual(expected.sort());

    // A confirmed general sleeper ticket cancelled more than 48 h ahead: the fare less ₹120 (no GST).
    const cancelled = await passengersOf(leaving.map((b) => b.view.id));
    for (const p of cancelled) {
      expect(p.status).toBe('CANCELLED');
      expect(p.refundPaise).toBe(p.farePaise - 12_000);
    }
    const refunds = await db.prisma.bookingOutbox.findMany({ where: { routingKey: 'reservation.cancelled' } });
    expect(refunds.map((e) => (e.payload as { data: { refundPaise: number } }).data.refundPaise).sort()).toEqual(
      cancelled.map((p) => p.farePaise - 12_000).sort(),
    );

    expect(await racAudit(db.prisma, run.runId)).toEqual({ racOverShared: 0, racMaskMismatch: 0, racSoldAsBerth: 0 });
    expect(await doubleBookingAudit(db.prisma, run.runId)).toEqual({
      overlaps: 0,
      maskMismatch: 0,
      seatedPassengers: BERTHS,
      distinctSeats: BERTHS,
    });
    // The status code is the place a booking now would take (IRCTC's current status): behind the
    // two still waiting; its WL number is the next one issued (IRCTC's booking status).
    expect(await availability(run)).toMatchObject({
      statusCode: 'WL 3',
      availableBerths: 0,
      racLength: HALVES,
      racAvailable: 0,
      waitlistLength: 2,
    });
    const late = await book(run);
    expect(late.view.passengers[0]).toMatchObject({ status: 'WAITLISTED', waitlistNumber: WL_SINGLES + 3 });
    expect((await availability(run)).statusCode).toBe('WL 4');
  }, 120_000);

  it('the database refuses a third RAC passenger on a half berth, and a third half', async () => {
    const taken = await db.prisma.$queryRaw<{ seat_id: number; slot: number; segment: number }[]>`
      SELECT seat_id, slot::int, segment FROM booking.rac_occupancy WHERE run_id = ${run.runId}::uuid LIMIT 1`;
    expect(taken).toHaveLength(1);
    const { seat_id: seatId, slot, segment } = taken[0]!;
    await expect(
      db.prisma.$executeRaw`
        INSERT INTO booking.rac_occupancy (run_id, seat_id, slot, segment, passenger_id, reservation_id)
        VALUES (${run.runId}::uuid, ${seatId}, ${slot}::smallint, ${segment}, gen_random_uuid(), gen_random_uuid())`,
    ).rejects.toThrow(/rac_occupancy_pkey|unique|duplicate/i);
    await expect(
      db.prisma.$executeRaw`
        INSERT INTO booking.rac_slots (run_id, seat_id, slot, class)
        VALUES (${run.runId}::uuid, ${seatId}, 3::smallint, 'SLEEPER')`,
    ).rejects.toThrow(/rac_slots_slot_check|check/i);
    // Nor a half that does not exist (slot 3 has no rac_slots row to belong to).
    await expect(
      db.prisma.$executeRaw`
        INSERT INTO booking.rac_occupancy (run_id, seat_id, slot, segment, passenger_id, reservation_id)
        VALUES (${run.runId}::uuid, ${seatId}, 3::smallint, ${segment}, gen_random_uuid(), gen_random_uuid())`,
    ).rejects.toThrow(/foreign key|rac_occupancy_run_id_seat_id_slot_fkey/i);
    expect(await racAudit(db.prisma, run.runId)).toEqual({ racOverShared: 0, racMaskMismatch: 0, racSoldAsBerth: 0 });
  });
});

describe('a PNR ending while a promotion moves its own RAC passenger', () => {
  // RAC 1's PNR ends (its traveller cancels it; or, unpaid, its payment fails) while a berth
  // holder's cancellation promotes RAC 1 to a berth: the berth must not stay sold to nobody.
  it.each([
    ['its cancellation', 'paid'],
    ['its payment failing', 'unpaid'],
  ] as const)(
    '%s, read before the promotion committed, still frees the berth given (%s)',
    async (_what, paid) => {
      // Seven berths, one RAC berth: 7 holders, RAC 1, RAC 2, WL 1, all paid (RAC 1 unless 'unpaid').
      const run = await createTestRun(db.prisma, { cls: 'SLEEPER', coaches: 1, berthsPerCoach: 8, racBerths: 1 });
      const holders: Booked[] = [];
      for (let i = 0; i < 7; i++) holders.push(await book(run));
      const [rac1, rac2, wl1] = [await book(run), await book(run), await book(run)];
      expect([rac1, rac2, wl1].map((b) => b.view.passengers[0]!.status)).toEqual(['RAC', 'RAC', 'WAITLISTED']);
      for (const b of [...holders, rac1, rac2, wl1])
        if (b !== rac1 || paid === 'paid') expect(await confirm(db.prisma, b.view.id)).toBe('CONFIRMED');

      // The pool's counter row held elsewhere: a berth holder's cancellation, then RAC 1's PNR's end,
      // both lock their PNR and queue for the pool in that order.
      const lock = await lockPool(run.runId);
      const waiting = (n: number) =>
        waitFor(`${n} cancellations waiting for the pool`, async () => {
          const w = await lockWaiters(db.prisma, db.name, 'FROM booking.waitlist_counters w');
          return w.length >= n;
        });
      const first = cancelReservation(instances[0]!.reservations, holders[0]!.who, { pnr: holders[0]!.view.pnr });
      first.catch(() => {});
      await waiting(1);
      const second =
        paid === 'paid'
          ? cancelReservation(instances[1]!.reservations, rac1.who, { pnr: rac1.view.pnr }).then((v) => v.status)
          : release(clients[1]!, rac1.view.id, instances[1]!.reservations.settings);
      second.catch(() => {});
      await waiting(2);
      await lock.release();
      const done = await Promise.allSettled([first.then((v) => v.status), second]);
      expect(done.map((d) => (d.status === 'fulfilled' ? d.value : String(d.reason)))).toEqual([
        'CANCELLED',
        paid === 'paid' ? 'CANCELLED' : 'RELEASED',
      ]);

      // Whichever ran first: RAC 1 ends cancelled holding nothing, RAC 2 on a berth, WL 1 on RAC.
      const named: [Booked, string][] = [
        ...holders.map((h, i): [Booked, string] => [h, `holder ${i + 1}`]),
        [rac1, 'RAC 1'],
        [rac2, 'RAC 2'],
        [wl1, 'WL 1'],
      ];
      const label = new Map(named.map(([b, name]) => [b.view.passengers[0]!.id, name]));
      const leaked = await db.prisma.$queryRaw<{ passenger_id: string; status: string; place: string; n: number }[]>`
      SELECT o.passenger_id::text, p.status::text, 'berth' AS place, count(*)::int AS n
      FROM booking.seat_occupancy o JOIN booking.passengers p ON p.id = o.passenger_id
      WHERE o.run_id = ${run.runId}::uuid AND p.status NOT IN ('HELD', 'CONFIRMED') GROUP BY 1, 2
      UNION ALL
      SELECT o.passenger_id::text, p.status::text, 'RAC half', count(*)::int
      FROM booking.rac_occupancy o JOIN booking.passengers p ON p.id = o.passenger_id
      WHERE o.run_id = ${run.runId}::uuid AND p.status <> 'RAC' GROUP BY 1, 2`;
      // Nothing held by a passenger who is not on it (a cancelled one's berth stays sold for ever).
      expect(
        leaked.map((l) => `${label.get(l.passenger_id) ?? l.passenger_id} (${l.status}) holds a ${l.place} x${l.n}`),
      ).toEqual([]);
      const byId = new Map((await passengersOf([rac1, rac2, wl1].map((b) => b.view.id))).map((p) => [p.id, p]));
      const only = (b: Booked) => byId.get(b.view.passengers[0]!.id)!;
      expect(only(rac1)).toMatchObject({ status: 'CANCELLED' });
      expect(only(rac2)).toMatchObject({ status: 'CONFIRMED', racSlot: null });
      expect(only(wl1)).toMatchObject({ status: 'RAC', berthNumber: 7 });
      expect(await doubleBookingAudit(db.prisma, run.runId)).toEqual({
        overlaps: 0,
        maskMismatch: 0,
        seatedPassengers: 7,
        distinctSeats: 7,
      });
      expect(await racAudit(db.prisma, run.runId)).toEqual({ racOverShared: 0, racMaskMismatch: 0, racSoldAsBerth: 0 });
      // Every berth is taken (nobody waits for one any more but WL 1, on RAC).
      expect(await availability(run)).toMatchObject({ availableBerths: 0, racLength: 1, racAvailable: 1 });
    },
    120_000,
  );
});

describe('cancellations and new bookings at once, through three instances', () => {
  it('newcomers join the waitlist behind everyone; the freed berths still go to RAC 1..4, in order', async () => {
    // 14 berths, 4 RAC halves; 14 holders, RAC 1-4, WL 1-8, all paid.
    const run = await createTestRun(db.prisma, { cls: 'SLEEPER', coaches: 1, berthsPerCoach: 16, racBerths: 2 });
    const holders: Booked[] = [];
    for (let i = 0; i < 14; i++) holders.push(await book(run));
    const waiting: Booked[] = [];
    for (let i = 0; i < 12; i++) waiting.push(await book(run));
    const [rac, wl] = [waiting.slice(0, 4), waiting.slice(4)];
    expect(rac.map((b) => b.view.passengers[0]!.racNumber)).toEqual([1, 2, 3, 4]);
    expect(wl.map((b) => b.view.passengers[0]!.waitlistNumber)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    await Promise.all([...holders, ...waiting].map((b) => confirm(db.prisma, b.view.id)));

    const leaving = holders.slice(0, 4);
    const [cancelled, newcomers] = await Promise.all([
      Promise.all(leaving.map((b, i) => cancelReservation(instances[i % 3]!.reservations, b.who, { pnr: b.view.pnr }))),
      Promise.all(Array.from({ length: 6 }, (_, i) => book(run, 1, instances[(i % 2) + 1]))),
    ]);
    expect(cancelled.map((c) => c.status)).toEqual(Array(4).fill('CANCELLED'));
    // Someone waited all along: no newcomer got a berth or an RAC half; their WL numbers follow.
    expect(newcomers.map((b) => b.view.passengers[0]!.status)).toEqual(Array(6).fill('WAITLISTED'));
    expect(newcomers.map((b) => b.view.passengers[0]!.waitlistNumber).sort((x, y) => x! - y!)).toEqual([
      9, 10, 11, 12, 13, 14,
    ]);
    const byId = new Map((await passengersOf(waiting.map((b) => b.view.id))).map((p) => [p.id, p]));
    const now = (b: Booked) => byId.get(b.view.passengers[0]!.id)!;
    expect(rac.map((b) => [now(b).status, now(b).racSlot])).toEqual(Array(4).fill(['CONFIRMED', null]));
    expect(wl.map((b) => [now(b).status, now(b).racNumber])).toEqual([
      ['RAC', 5],
      ['RAC', 6],
      ['RAC', 7],
      ['RAC', 8],
      ['WAITLISTED', null],
      ['WAITLISTED', null],
      ['WAITLISTED', null],
      ['WAITLISTED', null],
    ]);
    expect(await doubleBookingAudit(db.prisma, run.runId)).toEqual({
      overlaps: 0,
      maskMismatch: 0,
      seatedPassengers: 14,
      distinctSeats: 14,
    });
    expect(await racAudit(db.prisma, run.runId)).toEqual({ racOverShared: 0, racMaskMismatch: 0, racSoldAsBerth: 0 });
  }, 120_000);
});

/** A transaction of its own holding a run's GENERAL sleeper pool row (as a long promotion would). */
async function lockPool(runId: string) {
  const client = new pg.Client({ connectionString: db.url, application_name: 'test:pool-lock' });
  client.on('error', () => {});
  await client.connect();
  await client.query('BEGIN');
  await client.query(
    `SELECT last FROM booking.waitlist_counters
     WHERE run_id = $1 AND class = 'SLEEPER' AND quota = 'GENERAL' FOR UPDATE`,
    [runId],
  );
  return {
    release: async () => {
      await client.query('COMMIT');
      await client.end();
    },
  };
}
