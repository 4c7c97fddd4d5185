// Limits per person (docs/api.md, "Limits per person") through booking's queue on real PostgreSQL
// and Redis: Tatkal PNRs per account and per address between 10:00 and 12:00 IST, PNRs per
// calendar month (more when identity-verified), unpaid holds at a time; refusals write nothing
// and replay for their key; concurrent requests of one account, over two booking instances, let
// exactly the allowed number through. The clock requests are judged by is the test's.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, addDays, createRedis, type Identity, type Redis } from '@tatkal/common';
import type { Quota } from '@tatkal/db';
import { loadBookingConfig } from '../src/config.ts';
import { bookingContext, type BookingDeps } from '../src/context.ts';
import { createBookingDeps } from '../src/deps.ts';
import { monthOf } from '../src/domain/tatkal/limits.ts';
import { istInstant } from '../src/domain/tatkal/windows.ts';
import { defaultReservationSettings, type ReservationSettings } from '../src/domain/types.ts';
import { buildBookingServer } from '../src/server.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { REDIS_URL } from '../../../test/support/env.ts';
import { errorCodes, execute } from '../../../test/support/graphql.ts';
import { testLogger } from '../../../test/support/logger.ts';
import { identity } from '../../../test/support/tokens.ts';
import { createTestRun, type TestRun } from './fixtures.ts';

let db: TestDatabase;
let redis: Redis;
/** Two booking instances with the default limits (one database, one Redis). */
let deps: BookingDeps;
let other: BookingDeps;
/** The clock reserveSeats judges windows and limits by. */
let now = new Date();
let run: TestRun;
const { server } = buildBookingServer({ logger: testLogger, production: false });
const instances: BookingDeps[] = [];

function instance(overrides: Partial<ReservationSettings> = {}) {
  const d = createBookingDeps(
    db.prisma,
    redis,
    testLogger,
    { queueWaitMs: 60_000, txTimeoutMs: 60_000, ...overrides },
    () => now,
  );
  instances.push(d);
  return d;
}

const customer = (verified = true) => identity(randomUUID(), 'CUSTOMER', verified);
const rider = { name: 'Rider A', age: 35, gender: 'MALE' as const };
const input = (quota: Quota = 'GENERAL', on = run) => ({
  runId: on.runId,
  from: on.stations[0],
  to: on.stations[3],
  class: 'THIRD_AC' as const,
  quota,
  passengers: [rider],
});

/** One reserveSeats: its status, or the refusal's code. */
async function reserve(
  who: Identity,
  opts: { quota?: Quota; ip?: string; key?: string; via?: BookingDeps; on?: TestRun } = {},
): Promise<string> {
  try {
    const view = await (opts.via ?? deps).reservations.queue.reserveSeats(
      who,
      input(opts.quota, opts.on),
      opts.key ?? randomUUID(),
      opts.ip ?? null,
    );
    return view.status;
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
}

const reservationsOf = (userId: string) => db.prisma.reservation.count({ where: { userId } });
const setStatus = (userId: string, from: string, to: string) => db.prisma.$executeRaw`
  UPDATE booking.reservations SET status = ${to}::booking."ReservationStatus"
  WHERE user_id = ${userId}::uuid AND status = ${from}::booking."ReservationStatus"`;
/** In the Tatkal hours: 10:30 IST the day before the journey (Tatkal for AC open since 10:00). */
const tatkalMorning = () => istInstant(addDays(run.date, -1), 10, 30);

beforeAll(async () => {
  db = await createTestDatabase('limits');
  redis = createRedis(REDIS_URL);
  deps = instance();
  other = instance();
  // 4 coaches x 16: 24 Tatkal berths, 40 general; the journey 40 days ahead (month boundaries before it).
  run = await createTestRun(db.prisma, {
    cls: 'THIRD_AC',
    coaches: 4,
    berthsPerCoach: 16,
    daysAhead: 40,
    quotas: { TATKAL: 24 },
  });
  await server.start();
});

afterAll(async () => {
  await server.stop();
  for (const d of instances) await d.reservations.queue.close();
  redis?.disconnect();
  await db?.drop();
});

describe('limits per person', () => {
  it('are configured by defaults and variables', () => {
    expect(defaultReservationSettings).toMatchObject({
      tatkalPnrsPerAccount: 2,
      tatkalPnrsPerAddress: 2,
      monthlyPnrs: 12,
      monthlyPnrsVerified: 24,
      unpaidHoldsPerAccount: 4,
    });
    const config = loadBookingConfig({
      NODE_ENV: 'test',
      DATABASE_URL: db.url,
      REDIS_URL,
      AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
      AUTH_JWKS_URL: 'http://127.0.0.1:1/.well-known/jwks.json',
      TATKAL_PNRS_PER_ACCOUNT: '3',
      UNPAID_HOLDS_PER_ACCOUNT: '0',
    });
    expect(config).toMatchObject({
      TATKAL_PNRS_PER_ACCOUNT: 3,
      TATKAL_PNRS_PER_ADDRESS: 2,
      MONTHLY_PNRS: 12,
      MONTHLY_PNRS_VERIFIED: 24,
      UNPAID_HOLDS_PER_ACCOUNT: 0,
    });
  });

  it('2 Tatkal PNRs per account between 10:00 and 12:00 IST; a refused one is no PNR; none after 12:00', async () => {
    now = tatkalMorning();
    const who = customer();
    expect(await reserve(who, { quota: 'TATKAL' })).toBe('HELD');
    expect(await reserve(who, { quota: 'TATKAL', via: other })).toBe('HELD');
    const key = randomUUID();
    expect(await reserve(who, { quota: 'TATKAL', key })).toBe('TATKAL_LIMIT_REACHED');
    expect(await reservationsOf(who.userId)).toBe(2); // the refusal wrote nothing
    // A retry with the same key replays the refusal, on either instance.
    expect(await reserve(who, { quota: 'TATKAL', key, via: other })).toBe('TATKAL_LIMIT_REACHED');
    // General quota is not a Tatkal PNR.
    expect(await reserve(who, { quota: 'GENERAL' })).toBe('HELD');

    // A PNR that ended REFUSED was not made: it counts no more.
    const [first] = await db.prisma.reservation.findMany({ where: { userId: who.userId, quota: 'TATKAL' } });
    await db.prisma.reservation.update({ where: { id: first!.id }, data: { status: 'REFUSED' } });
    expect(await reserve(who, { quota: 'TATKAL' })).toBe('HELD');
    expect(await reserve(who, { quota: 'TATKAL' })).toBe('TATKAL_LIMIT_REACHED');

    // 12:00 IST: the Tatkal hours are over; the rule counts only within them.
    await setStatus(who.userId, 'HELD', 'CONFIRMED'); // paid: no unpaid holds in the way
    now = istInstant(addDays(run.date, -1), 12, 0);
    expect(await reserve(who, { quota: 'TATKAL' })).toBe('HELD');
    // Until 11:59:59.999 the rule holds for this account; another account has its own two.
    now = new Date(istInstant(addDays(run.date, -1), 12, 0).getTime() - 1);
    expect(await reserve(who, { quota: 'TATKAL' })).toBe('TATKAL_LIMIT_REACHED');
    expect(await reserve(customer(), { quota: 'TATKAL' })).toBe('HELD');
  });

  it('an agent: one Tatkal PNR per run (AGENT_RUN_LIMIT_REACHED), another run or general is fine', async () => {
    now = istInstant(addDays(run.date, -1), 10, 45); // past the agents' first 30 minutes
    const agent = identity(randomUUID(), 'AGENT', true);
    const second = await createTestRun(db.prisma, {
      cls: 'THIRD_AC',
      coaches: 1,
      berthsPerCoach: 8,
      daysAhead: 40,
      quotas: { TATKAL: 4 },
    });
    expect(await reserve(agent, { quota: 'TATKAL' })).toBe('HELD');
    expect(await reserve(agent, { quota: 'TATKAL', via: other })).toBe('AGENT_RUN_LIMIT_REACHED');
    expect(await reserve(agent, { quota: 'PREMIUM_TATKAL' })).toBe('QUOTA_NOT_AVAILABLE');
    expect(await reserve(agent, { quota: 'TATKAL', on: second })).toBe('HELD');
    expect(await reserve(agent, { quota: 'GENERAL' })).toBe('HELD');
    // A customer is not held to it.
    const who = customer();
    expect(await reserve(who, { quota: 'TATKAL', on: second })).toBe('HELD');
    expect(await reserve(who, { quota: 'TATKAL', on: second })).toBe('HELD');
  });

  it('2 Tatkal PNRs per client address over all accounts, the address as the gateway signed it', async () => {
    now = tatkalMorning();
    const ip = `198.51.100.${Math.floor(Math.random() * 250) + 1}`;
    expect(await reserve(customer(), { quota: 'TATKAL', ip })).toBe('HELD');
    // Through the resolver: ctx.clientIp is the gateway-signed address.
    const RESERVE = `mutation($input: ReserveSeatsInput!, $key: String!) {
      reserveSeats(input: $input, idempotencyKey: $key) { status }
    }`;
    const viaGraphql = (who: Identity, clientIp: string) =>
      execute(
        server,
        RESERVE,
        { input: input('TATKAL'), key: randomUUID() },
        bookingContext(deps, { identity: who, requestId: 'test', log: testLogger, clientIp }),
      );
    expect((await viaGraphql(customer(), ip)).data!.reserveSeats.status).toBe('HELD');
    const third = customer();
    const refused = await viaGraphql(third, ip);
    expect(errorCodes(refused)).toEqual(['TATKAL_ADDRESS_LIMIT_REACHED']);
    expect(refused.errors![0]!.extensions!.limit).toBe(2);
    expect(await reservationsOf(third.userId)).toBe(0);
    // The same account from another address; general quota from this one.
    expect((await viaGraphql(third, `${ip}0`)).data!.reserveSeats.status).toBe('HELD');
    expect(await reserve(customer(), { quota: 'GENERAL', ip })).toBe('HELD');
  });

  it('Tatkal requests in the waiting room count at the opening (09:55 is one of 10:00-12:00)', async () => {
    const early = await createTestRun(db.prisma, {
      cls: 'THIRD_AC',
      coaches: 1,
      berthsPerCoach: 16,
      daysAhead: 40,
      quotas: { TATKAL: 8 },
    });
    now = istInstant(addDays(early.date, -1), 9, 55);
    const who = customer();
    expect(await reserve(who, { quota: 'TATKAL', on: early })).toBe('QUEUED');
    expect(await reserve(who, { quota: 'TATKAL', on: early, via: other })).toBe('QUEUED');
    expect(await reserve(who, { quota: 'TATKAL', on: early })).toBe('TATKAL_LIMIT_REACHED');
    expect(await reservationsOf(who.userId)).toBe(2);
  });

  it('PNRs per calendar month (IST): more when identity-verified; a new month counts afresh', async () => {
    // 3 a month, 5 verified, no limit on holds: the month is what is tested.
    const monthly = instance({ monthlyPnrs: 3, monthlyPnrsVerified: 5, unpaidHoldsPerAccount: 0 });
    const first = `${run.date.slice(0, 7)}-01`;
    const boundary = istInstant(first === run.date ? `${addDays(run.date, -1).slice(0, 7)}-01` : first, 0);
    expect(monthOf(boundary).from).toEqual(boundary);
    now = new Date(boundary.getTime() - 60 * 60_000); // 23:00 IST on the month's last day
    const plain = customer(false);
    const verified = customer(true);
    for (let i = 0; i < 3; i++) expect(await reserve(plain, { via: monthly })).toBe('HELD');
    expect(await reserve(plain, { via: monthly })).toBe('MONTHLY_LIMIT_REACHED');
    for (let i = 0; i < 5; i++) expect(await reserve(verified, { via: monthly })).toBe('HELD');
    expect(await reserve(verified, { via: monthly })).toBe('MONTHLY_LIMIT_REACHED');
    expect(await reservationsOf(plain.userId)).toBe(3);
    // Cancelled PNRs were made: they still count this month.
    await setStatus(plain.userId, 'HELD', 'CANCELLED');
    expect(await reserve(plain, { via: monthly })).toBe('MONTHLY_LIMIT_REACHED');
    // 00:00 IST on the 1st: a new month.
    now = boundary;
    expect(await reserve(plain, { via: monthly })).toBe('HELD');
    expect(await reserve(verified, { via: monthly })).toBe('HELD');
  });

  it('4 unpaid holds (HELD and QUEUED) per account at a time; paid, cancelled, expired ones free a place', async () => {
    now = tatkalMorning();
    const who = customer();
    for (let i = 0; i < 4; i++) expect(await reserve(who, { via: i % 2 ? other : deps })).toBe('HELD');
    const key = randomUUID();
    expect(await reserve(who, { key })).toBe('UNPAID_HOLDS_LIMIT_REACHED');
    expect(await reservationsOf(who.userId)).toBe(4);
    const [a, b] = await db.prisma.reservation.findMany({ where: { userId: who.userId }, orderBy: { id: 'asc' } });
    await db.prisma.reservation.update({ where: { id: a!.id }, data: { status: 'CONFIRMED' } }); // paid
    expect(await reserve(who)).toBe('HELD');
    expect(await reserve(who)).toBe('UNPAID_HOLDS_LIMIT_REACHED');
    await db.prisma.reservation.update({ where: { id: b!.id }, data: { status: 'EXPIRED' } });
    expect(await reserve(who)).toBe('HELD');
    // The refused key still answers its refusal (an outcome is final for its key).
    expect(await reserve(who, { key })).toBe('UNPAID_HOLDS_LIMIT_REACHED');
    expect(await reservationsOf(who.userId)).toBe(6);
  });

  it('20 requests of one account at once, over two instances, let exactly the allowed number through', async () => {
    now = tatkalMorning();
    for (const [quota, allowed, code] of [
      ['GENERAL', 4, 'UNPAID_HOLDS_LIMIT_REACHED'],
      ['TATKAL', 2, 'TATKAL_LIMIT_REACHED'],
    ] as const) {
      const who = customer();
      const keys = Array.from({ length: 20 }, () => randomUUID());
      const outcomes = await Promise.all(keys.map((key, i) => reserve(who, { quota, key, via: i % 2 ? other : deps })));
      expect(outcomes.filter((o) => o === 'HELD')).toHaveLength(allowed);
      expect(outcomes.filter((o) => o === code)).toHaveLength(20 - allowed);
      expect(await reservationsOf(who.userId)).toBe(allowed);
      // Retries of the refused requests with their keys replay the refusals; nothing more is written.
      const refusedKeys = keys.filter((_, i) => outcomes[i] === code);
      const retries = await Promise.all(
        refusedKeys.map((key, i) => reserve(who, { quota, key, via: i % 2 ? deps : other })),
      );
      expect(new Set(retries)).toEqual(new Set([code]));
      expect(await reservationsOf(who.userId)).toBe(allowed);
    }
  });
});
