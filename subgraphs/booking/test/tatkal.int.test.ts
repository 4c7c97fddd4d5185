// Quotas and booking windows through the booking subgraph (real PostgreSQL and Redis): berths
// earmarked per quota and served to their quota only, the IST windows (general ARP days ahead at
// 08:00, Tatkal the day before at 10:00 AC / 11:00 non-AC, by the origin's date), who may book
// Tatkal, and every refusal writing nothing. The clock requests are judged by is the test's.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, createRedis, type Identity, type Redis } from '@tatkal/common';
import { bookingContext, type BookingDeps } from '../src/context.ts';
import { createBookingDeps } from '../src/deps.ts';
import { releaseQuotas } from '../src/domain/inventory.ts';
import { promoteStranded } from '../src/domain/lifecycle/index.ts';
import { istInstant } from '../src/domain/tatkal/windows.ts';
import { buildBookingServer } from '../src/server.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { REDIS_URL } from '../../../test/support/env.ts';
import { errorCodes, execute } from '../../../test/support/graphql.ts';
import { testLogger } from '../../../test/support/logger.ts';
import { identity } from '../../../test/support/tokens.ts';
import { createTestRun, doubleBookingAudit, type TestRun } from './fixtures.ts';

let db: TestDatabase;
let redis: Redis;
let deps: BookingDeps;
/** The clock reserveSeats judges windows by. */
let now = new Date();
const { server } = buildBookingServer({ logger: testLogger, production: false });

const RESERVE = `mutation($input: ReserveSeatsInput!, $key: String!) {
  reserveSeats(input: $input, idempotencyKey: $key) {
    id pnr status quota class passengers { status coach berth waitlistNumber }
  }
}`;

const verified = () => identity(randomUUID(), 'CUSTOMER', true);
const rider = (i = 0, gender: 'MALE' | 'FEMALE' = 'MALE', age = 35) => ({ name: `Rider ${'ABCDEFG'[i]}`, age, gender });

function reserve(who: Identity, run: TestRun, extra: Record<string, unknown> = {}) {
  const input = { runId: run.runId, from: run.stations[0], to: run.stations[3], class: 'THIRD_AC', ...extra };
  return execute(server, RESERVE, { input: { passengers: [rider()], ...input }, key: randomUUID() }, ctxOf(who));
}
const ctxOf = (who: Identity) => bookingContext(deps, { identity: who, requestId: 'test', log: testLogger });

/** Nothing of a refused request is written: no reservation, no pending key. */
async function writes() {
  return [
    await db.prisma.reservation.count(),
    await db.prisma.bookingIdempotencyKey.count({ where: { completedAt: null } }),
  ];
}

beforeAll(async () => {
  db = await createTestDatabase('tatkal');
  redis = createRedis(REDIS_URL);
  deps = createBookingDeps(db.prisma, redis, testLogger, { queueWaitMs: 60_000, txTimeoutMs: 60_000 }, () => now);
  await server.start();
});

afterAll(async () => {
  await server.stop();
  await deps?.reservations.queue.close();
  redis?.disconnect();
  await db?.drop();
});

describe('quotas in the inventory', () => {
  let run: TestRun;
  beforeAll(async () => {
    // 2 coaches x 8: 4 TATKAL berths, 2 PREMIUM_TATKAL, 2 LADIES, 2 LOWER_BERTH, 6 GENERAL.
    run = await createTestRun(db.prisma, {
      cls: 'THIRD_AC',
      coaches: 2,
      berthsPerCoach: 8,
      quotas: { TATKAL: 4, PREMIUM_TATKAL: 2, LADIES: 2, LOWER_BERTH: 2 },
    });
    now = istInstant(addDays(run.date, -1), 10, 30); // Tatkal for AC opened at 10:00
  });

  it('earmarks the seed shares of each quota on every run', async () => {
    const rows = await db.prisma.runSeat.groupBy({ by: ['quota'], where: { runId: run.runId }, _count: true });
    expect(Object.fromEntries(rows.map((r) => [r.quota, r._count]))).toEqual({
      GENERAL: 6,
      TATKAL: 4,
      PREMIUM_TATKAL: 2,
      LADIES: 2,
      LOWER_BERTH: 2,
    });
  });

  it('serves each quota from its own berths and waitlists it on its own list', async () => {
    const general = await reserve(verified(), run, { passengers: [0, 1, 2, 3, 4, 5].map((i) => rider(i)) });
    expect(general.data!.reserveSeats.status).toBe('HELD');
    const more = await reserve(verified(), run);
    // GENERAL is full although Tatkal berths are free: GNWL 1 (held until paid, like a berth).
    expect(more.data!.reserveSeats).toMatchObject({ status: 'HELD', quota: 'GENERAL' });
    expect(more.data!.reserveSeats.passengers).toEqual([
      { status: 'WAITLISTED', coach: null, berth: null, waitlistNumber: 1 },
    ]);
    const tatkal = await reserve(verified(), run, { quota: 'TATKAL', passengers: [0, 1, 2, 3].map((i) => rider(i)) });
    expect(tatkal.data!.reserveSeats).toMatchObject({ status: 'HELD', quota: 'TATKAL' });
    const tatkalWl = await reserve(verified(), run, { quota: 'TATKAL' });
    expect(tatkalWl.data!.reserveSeats).toMatchObject({ status: 'HELD', quota: 'TATKAL' });
    // TQWL 1, not WL 2
    expect(tatkalWl.data!.reserveSeats.passengers).toEqual([
      { status: 'WAITLISTED', coach: null, berth: null, waitlistNumber: 1 },
    ]);
    const seats = await db.prisma.$queryRaw<{ quota: string; status: string }[]>`
      SELECT rs.quota::text, r.quota::text AS status FROM booking.passengers p
      JOIN booking.reservations r ON r.id = p.reservation_id
      JOIN booking.run_seats rs ON rs.run_id = r.run_id AND rs.seat_id = p.seat_id
      WHERE r.run_id = ${run.runId}::uuid`;
    // Every seated passenger sits on a berth of the quota they booked.
    expect(seats.length).toBe(10);
    expect(seats.every((s) => s.quota === s.status)).toBe(true);
  });

  it('ladies and lower-berth quotas take only those they are for', async () => {
    const before = await writes();
    const man = await reserve(verified(), run, { quota: 'LADIES', passengers: [rider(0, 'FEMALE'), rider(1, 'MALE')] });
    expect(errorCodes(man)).toEqual(['QUOTA_NOT_ELIGIBLE']);
    const young = await reserve(verified(), run, { quota: 'LOWER_BERTH', passengers: [rider(0, 'MALE', 59)] });
    expect(errorCodes(young)).toEqual(['QUOTA_NOT_ELIGIBLE']);
    const three = await reserve(verified(), run, {
      quota: 'LOWER_BERTH',
      passengers: [rider(0, 'MALE', 70), rider(1, 'FEMALE', 66), rider(2, 'FEMALE', 61)],
    });
    expect(errorCodes(three)).toEqual(['TOO_MANY_PASSENGERS']);
    expect(await writes()).toEqual(before);
    const ok = await reserve(verified(), run, {
      quota: 'LADIES',
      passengers: [rider(0, 'FEMALE', 30), rider(1, 'MALE', 8)],
    });
    expect(ok.data!.reserveSeats).toMatchObject({ status: 'HELD', quota: 'LADIES' });
    const seniors = await reserve(verified(), run, {
      quota: 'LOWER_BERTH',
      passengers: [rider(0, 'MALE', 60), rider(1, 'FEMALE', 45)],
    });
    expect(seniors.data!.reserveSeats.status).toBe('HELD');
  });

  it('availability per quota: berths, free ones, the waitlist and the window', async () => {
    const q = `query($run: ID!, $from: String!, $to: String!, $quota: Quota) {
      availability(runId: $run, from: $from, to: $to, quota: $quota) {
        class quota quotaCode totalBerths availableBerths waitlistLength opensAt open
      }
    }`;
    const of = async (quota?: string) =>
      (
        await execute(
          server,
          q,
          { run: run.runId, from: run.stations[0], to: run.stations[3], quota },
          ctxOf(verified()),
        )
      ).data!.availability;
    expect(await of()).toEqual([
      {
        class: 'THIRD_AC',
        quota: 'GENERAL',
        quotaCode: 'GN',
        totalBerths: 6,
        availableBerths: 0,
        waitlistLength: 1,
        opensAt: istInstant(addDays(run.date, -60), 8).toISOString(),
        open: true,
      },
    ]);
    expect(await of('TATKAL')).toEqual([
      expect.objectContaining({ quotaCode: 'TQ', totalBerths: 4, availableBerths: 0, waitlistLength: 1, open: true }),
    ]);
    expect(await of('PREMIUM_TATKAL')).toEqual([
      expect.objectContaining({
        totalBerths: 2,
        availableBerths: 2,
        opensAt: istInstant(addDays(run.date, -1), 10).toISOString(),
      }),
    ]);
  });

  it('releasing unused quota berths gives them to GENERAL; what was sold stays sold', async () => {
    // Premium Tatkal is untouched so far: 2 free berths, then released to the general pool.
    expect(await releaseQuotas(db.prisma, run.runId)).toBe(10);
    expect(await releaseQuotas(db.prisma, run.runId)).toBe(0);
    // GNWL 1 moves up to a released berth first; then a newcomer gets the last one.
    expect(await promoteStranded(db.prisma, deps.reservations.settings)).toBe(1);
    const general = await reserve(verified(), run);
    expect(general.data!.reserveSeats).toMatchObject({ status: 'HELD', quota: 'GENERAL' });
    expect((await reserve(verified(), run, { allowWaitlist: false })).errors![0]!.extensions!.code).toBe('SOLD_OUT');
    const audit = await doubleBookingAudit(db.prisma, run.runId);
    expect(audit).toMatchObject({ overlaps: 0, maskMismatch: 0 });
    expect(audit.seatedPassengers).toBe(16);
  });
});

describe('booking windows (IST, by the run date at the origin)', () => {
  let ac: TestRun;
  let sleeper: TestRun;
  beforeAll(async () => {
    ac = await createTestRun(db.prisma, { cls: 'THIRD_AC', coaches: 1, berthsPerCoach: 8, quotas: { TATKAL: 4 } });
    sleeper = await createTestRun(db.prisma, { cls: 'SLEEPER', coaches: 1, berthsPerCoach: 8, quotas: { TATKAL: 4 } });
  });

  it('Tatkal in AC opens at 10:00 IST the day before: earlier, BOOKING_NOT_OPEN, nothing written', async () => {
    const eve = addDays(ac.date, -1);
    // 09:49:59, a second before the waiting room (waiting-room.int.test.ts) opens.
    now = new Date(istInstant(eve, 9, 50).getTime() - 1_000);
    const before = await writes();
    const early = await reserve(verified(), ac, { quota: 'TATKAL' });
    expect(errorCodes(early)).toEqual(['BOOKING_NOT_OPEN']);
    expect(early.errors![0]!.extensions!.opensAt).toBe(`${eve}T10:00:00+05:30`);
    expect(await writes()).toEqual(before);
    now = istInstant(eve, 10);
    expect((await reserve(verified(), ac, { quota: 'TATKAL' })).data!.reserveSeats.status).toBe('HELD');
  });

  it('non-AC Tatkal opens at 11:00: at 10:30 it is still closed', async () => {
    const eve = addDays(sleeper.date, -1);
    now = istInstant(eve, 10, 30); // before 10:50, its waiting room
    const early = await reserve(verified(), sleeper, { class: 'SLEEPER', quota: 'TATKAL' });
    expect(early.errors![0]!.extensions).toMatchObject({ code: 'BOOKING_NOT_OPEN', opensAt: `${eve}T11:00:00+05:30` });
    now = istInstant(eve, 11);
    const open = await reserve(verified(), sleeper, { class: 'SLEEPER', quota: 'TATKAL' });
    expect(open.data!.reserveSeats.status).toBe('HELD');
  });

  it('across IST midnight: 00:10 IST on the eve (18:40 UTC the day before) is not yet 10:00', async () => {
    const eve = addDays(ac.date, -1);
    now = istInstant(eve, 0, 10);
    expect(now.toISOString().slice(0, 10)).toBe(addDays(eve, -1)); // UTC still says the day before
    const early = await reserve(verified(), ac, { quota: 'TATKAL' });
    expect(early.errors![0]!.extensions).toMatchObject({ code: 'BOOKING_NOT_OPEN', opensAt: `${eve}T10:00:00+05:30` });
  });

  it("a traveller boarding after midnight uses the origin's date: open from the eve of the origin's date", async () => {
    // The train leaves stop C at 00:05 on the day after the run date; Tatkal still opened on the
    // eve of the run date, so at 09:59 on the run date (before a boarding-date window) it is open.
    now = new Date(istInstant(ac.date, 10).getTime() - 60_000);
    const later = await reserve(verified(), ac, { quota: 'TATKAL', from: ac.stations[2], to: ac.stations[3] });
    expect(later.data!.reserveSeats.status).toBe('HELD');
  });

  it('general opens ARP (60) days before at 08:00 IST', async () => {
    const far = await createTestRun(db.prisma, { cls: 'THIRD_AC', coaches: 1, berthsPerCoach: 8, daysAhead: 70 });
    const opens = addDays(far.date, -60);
    now = new Date(istInstant(opens, 8).getTime() - 1);
    const early = await reserve(verified(), far);
    expect(early.errors![0]!.extensions).toMatchObject({
      code: 'BOOKING_NOT_OPEN',
      opensAt: `${opens}T08:00:00+05:30`,
    });
    now = istInstant(opens, 8);
    expect((await reserve(verified(), far)).data!.reserveSeats.status).toBe('HELD');
  });
});

describe('who may book Tatkal', () => {
  let run: TestRun;
  let eve: string;
  beforeAll(async () => {
    run = await createTestRun(db.prisma, { cls: 'THIRD_AC', coaches: 1, berthsPerCoach: 8, quotas: { TATKAL: 8 } });
    eve = addDays(run.date, -1);
  });

  it('an account that has not verified its identity: IDENTITY_NOT_VERIFIED, nothing written', async () => {
    now = istInstant(eve, 10, 5);
    const before = await writes();
    const res = await reserve(identity(randomUUID()), run, { quota: 'TATKAL' });
    expect(errorCodes(res)).toEqual(['IDENTITY_NOT_VERIFIED']);
    expect(await writes()).toEqual(before);
  });

  it('an agent waits 30 minutes into the window (AGENT_WINDOW_CLOSED with opensAt), then may book', async () => {
    const agent = identity(randomUUID(), 'AGENT', true);
    now = istInstant(eve, 10, 29);
    const early = await reserve(agent, run, { quota: 'TATKAL' });
    expect(early.errors![0]!.extensions).toMatchObject({
      code: 'AGENT_WINDOW_CLOSED',
      opensAt: `${eve}T10:30:00+05:30`,
    });
    now = istInstant(eve, 10, 30);
    expect((await reserve(agent, run, { quota: 'TATKAL' })).data!.reserveSeats.status).toBe('HELD');
  });

  it('at most 4 passengers on a Tatkal PNR, 6 on a general one (TOO_MANY_PASSENGERS with max)', async () => {
    now = istInstant(eve, 10, 45);
    const before = await writes();
    const five = await reserve(verified(), run, { quota: 'TATKAL', passengers: [0, 1, 2, 3, 4].map((i) => rider(i)) });
    expect(five.errors![0]!.extensions).toMatchObject({ code: 'TOO_MANY_PASSENGERS', max: 4 });
    const seven = await reserve(verified(), run, { passengers: [0, 1, 2, 3, 4, 5, 6].map((i) => rider(i)) });
    expect(seven.errors![0]!.extensions).toMatchObject({ code: 'TOO_MANY_PASSENGERS', max: 6 });
    expect(await writes()).toEqual(before);
  });

  it('a class without the quota: QUOTA_NOT_AVAILABLE', async () => {
    now = istInstant(eve, 10, 45);
    const first = await createTestRun(db.prisma, { cls: 'FIRST_AC', coaches: 1, berthsPerCoach: 8 });
    const res = await reserve(verified(), first, { class: 'FIRST_AC', quota: 'TATKAL' });
    expect(errorCodes(res)).toEqual(['QUOTA_NOT_AVAILABLE']);
  });
});
