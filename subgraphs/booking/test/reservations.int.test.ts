// The reservation path against the real PostgreSQL and Redis: contention, segments, idempotency,
// holds and the waitlist. Concurrent requests really run at once (one event loop, many pooled
// connections) and every test audits the database afterwards.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, AppError, createRedis, ErrorCode, todayInIndia, type Identity, type Redis } from '@tatkal/common';
import { bookingContext, type BookingContext, type BookingDeps } from '../src/context.ts';
import { createBookingDeps } from '../src/deps.ts';
import { allocatorLeaseKey } from '../src/domain/allocator/allocator.ts';
import { expireDue, promoteStranded } from '../src/domain/lifecycle/index.ts';
import { buildBookingServer } from '../src/server.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { countingPrisma } from '../../../test/support/queryCount.ts';
import { REDIS_URL } from '../../../test/support/env.ts';
import { errorCodes, execute } from '../../../test/support/graphql.ts';
import { testLogger } from '../../../test/support/logger.ts';
import { identity } from '../../../test/support/tokens.ts';
import { createTestRun, doubleBookingAudit, type TestRun, waitFor } from './fixtures.ts';

let db: TestDatabase;
let redis: Redis;
let deadRedis: Redis;
let deps: BookingDeps;
let depsWithoutRedis: BookingDeps;
const { server } = buildBookingServer({ logger: testLogger, production: false });

const ctx = (who: Identity | null, d: BookingDeps = deps): BookingContext =>
  bookingContext(d, { identity: who, requestId: 'test', log: testLogger });

const RESERVE = `mutation($input: ReserveSeatsInput!, $key: String!) {
  reserveSeats(input: $input, idempotencyKey: $key) {
    id pnr status class farePaise holdExpiresAt
    from { code } to { code }
    passengers { id name status coach berth berthType waitlistNumber farePaise }
  }
}`;

const passenger = (i = 0) => ({
  name: `Passenger ${String.fromCharCode(65 + (i % 26))}`,
  age: 30 + (i % 40),
  gender: i % 2 ? 'FEMALE' : 'MALE',
});

function reserveInput(run: TestRun, extra: Record<string, unknown> = {}) {
  return {
    runId: run.runId,
    from: run.stations[0],
    to: run.stations[3],
    class: 'SLEEPER',
    passengers: [passenger()],
    ...extra,
  };
}

const reserve = (who: Identity, input: Record<string, unknown>, d: BookingDeps = deps, key: string = randomUUID()) =>
  execute(server, RESERVE, { input, key }, ctx(who, d));

beforeAll(async () => {
  db = await createTestDatabase('reservations');
  redis = createRedis(REDIS_URL);
  // Nothing listens on port 1: every Redis command fails at once, as when Redis is down.
  deadRedis = createRedis('redis://127.0.0.1:1');
  // Generous bounds: thousands of requests share one process; every request waits for its
  // outcome (never answered QUEUED here: queue.int.test.ts covers that), no waitlist cap.
  const settings = { txMaxWaitMs: 60_000, txTimeoutMs: 60_000, queueWaitMs: 120_000, waitlistLimit: 100_000 };
  deps = createBookingDeps(db.prisma, redis, testLogger, settings);
  depsWithoutRedis = createBookingDeps(db.prisma, deadRedis, testLogger, settings);
  await server.start();
});

afterAll(async () => {
  await server.stop();
  redis?.disconnect();
  deadRedis?.disconnect();
  await db?.drop();
});

async function contendForOneBerth(d: BookingDeps, requests: number, rounds: number) {
  const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: rounds });
  for (let round = 1; round <= rounds; round++) {
    const input = reserveInput(run, { berths: [{ coach: 'S1', berth: round }] });
    const results = await Promise.all(
      Array.from({ length: requests }, () => reserve(identity(randomUUID()), input, d)),
    );
    const winners = results.filter((r) => !r.errors);
    const codes = results.flatMap((r) => errorCodes(r));
    // The outcome counts go in the message: a failure says what happened instead.
    const seen = JSON.stringify(
      Object.fromEntries([...new Set(codes)].map((c) => [c, codes.filter((x) => x === c).length])),
    );
    expect(winners, `round ${round}: ${winners.length} won, refusals ${seen}`).toHaveLength(1);
    expect(winners[0]!.data!.reserveSeats.passengers[0]).toMatchObject({ coach: 'S1', berth: round, status: 'HELD' });
    expect(new Set(codes), `round ${round}: refusals ${seen}`).toEqual(new Set(['SEAT_UNAVAILABLE']));
    expect(codes).toHaveLength(requests - 1);
  }
  const audit = await doubleBookingAudit(db.prisma, run.runId);
  expect(audit).toEqual({ overlaps: 0, maskMismatch: 0, seatedPassengers: rounds, distinctSeats: rounds });
  // Every request got a PNR in the queue: one HELD per round, the others REFUSED with the same code.
  const byStatus = await db.prisma.reservation.groupBy({
    by: ['status', 'refusalCode'],
    where: { runId: run.runId },
    _count: true,
  });
  expect(byStatus.map((g) => [g.status, g.refusalCode, g._count]).sort()).toEqual(
    [
      ['HELD', null, rounds],
      ['REFUSED', 'SEAT_UNAVAILABLE', (requests - 1) * rounds],
    ].sort(),
  );
}

async function autoAllocationRush(d: BookingDeps) {
  const run = await createTestRun(db.prisma, { coaches: 4, berthsPerCoach: 75 });
  const requests = Array.from({ length: 2000 }, (_, i) => ({
    allowWaitlist: i % 2 === 0,
    who: identity(randomUUID()),
  }));
  const results = await Promise.all(
    requests.map((r, i) =>
      reserve(r.who, reserveInput(run, { allowWaitlist: r.allowWaitlist, passengers: [passenger(i)] }), d),
    ),
  );
  let held = 0;
  results.forEach((res, i) => {
    if (res.errors) {
      // Refused only when the request asked not to be waitlisted.
      expect(errorCodes(res)).toEqual(['SOLD_OUT']);
      expect(requests[i]!.allowWaitlist).toBe(false);
      return;
    }
    // Every answer is a hold (unpaid); its passenger says whether on a berth or on the waitlist.
    const { status, passengers } = res.data!.reserveSeats;
    expect(status).toBe('HELD');
    const [p] = passengers;
    if (p.status === 'HELD') {
      expect(p).toMatchObject({ coach: expect.stringMatching(/^S\d$/), waitlistNumber: null });
      held++;
    } else {
      expect(p).toMatchObject({ status: 'WAITLISTED', coach: null, waitlistNumber: expect.any(Number) });
      expect(requests[i]!.allowWaitlist).toBe(true);
    }
  });
  expect(held).toBe(300);
  const audit = await doubleBookingAudit(db.prisma, run.runId);
  expect(audit).toEqual({ overlaps: 0, maskMismatch: 0, seatedPassengers: 300, distinctSeats: 300 });
  // Waitlist numbers are handed out once each, 1..n without gaps.
  const wl = await db.prisma.passenger.findMany({
    where: { reservation: { runId: run.runId }, status: 'WAITLISTED' },
    select: { waitlistNumber: true },
    orderBy: { waitlistNumber: 'asc' },
  });
  expect(wl.map((p) => p.waitlistNumber)).toEqual(wl.map((_, i) => i + 1));
}

describe('Tatkal contention', () => {
  it('500 concurrent requests for one specific berth: exactly one wins, 10 times over', async () => {
    await contendForOneBerth(deps, 500, 10);
  }, 300_000);

  it('2,000 concurrent auto-allocations for 300 berths: exactly 300 held, none twice', async () => {
    await autoAllocationRush(deps);
  }, 300_000);

  it('with Redis down, one specific berth is still sold once, 10 times over', async () => {
    await contendForOneBerth(depsWithoutRedis, 500, 10);
  }, 300_000);

  it('with Redis down, 2,000 auto-allocations still give exactly 300 berths', async () => {
    await autoAllocationRush(depsWithoutRedis);
  }, 300_000);
});

describe('segment inventory', () => {
  it('sells one berth for A->C and again for C->D; A->C and B->D conflict', async () => {
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 8 });
    const [a, b, c, d] = run.stations;
    const berth = [{ coach: 'S1', berth: 3 }];
    const ac = await reserve(identity(randomUUID()), reserveInput(run, { from: a, to: c, berths: berth }));
    expect(ac.errors).toBeUndefined();
    const cd = await reserve(identity(randomUUID()), reserveInput(run, { from: c, to: d, berths: berth }));
    expect(cd.errors).toBeUndefined();
    const bd = await reserve(identity(randomUUID()), reserveInput(run, { from: b, to: d, berths: berth }));
    expect(errorCodes(bd)).toEqual(['SEAT_UNAVAILABLE']);
    const audit = await doubleBookingAudit(db.prisma, run.runId);
    expect(audit).toMatchObject({ overlaps: 0, maskMismatch: 0, seatedPassengers: 2, distinctSeats: 1 });
    // Availability counts the berth as taken for B->C but free for A->B? No: A->C covers A->B too.
    const avail = await execute(
      server,
      `query($id: ID!, $f: String!, $t: String!) { availability(runId: $id, from: $f, to: $t) { availableBerths } }`,
      { id: run.runId, f: a, t: b },
      ctx(null),
    );
    expect(avail.data!.availability[0].availableBerths).toBe(7);
  });

  it('the database refuses a double booking even from a path that skips every check', async () => {
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 2 });
    const who = identity(randomUUID());
    const first = await reserve(who, reserveInput(run, { berths: [{ coach: 'S1', berth: 1 }] }));
    const seatId = (
      await db.prisma.passenger.findFirstOrThrow({ where: { id: first.data!.reserveSeats.passengers[0].id } })
    ).seatId!;
    await expect(
      db.prisma.seatOccupancy.create({
        data: { runId: run.runId, seatId, segment: 1, passengerId: randomUUID(), reservationId: randomUUID() },
      }),
    ).rejects.toMatchObject({ code: 'P2002' });
  });
});

describe('auto-allocation', () => {
  it('keeps a group of four in one coach and honours berth preferences', async () => {
    const run = await createTestRun(db.prisma, { coaches: 3, berthsPerCoach: 16 });
    const passengers = [
      { ...passenger(0), berthPreference: 'LB' },
      { ...passenger(1), berthPreference: 'UB' },
      { ...passenger(2), berthPreference: 'SL' },
      passenger(3),
    ];
    const res = await reserve(identity(randomUUID()), reserveInput(run, { passengers }));
    expect(res.errors).toBeUndefined();
    const seated = res.data!.reserveSeats.passengers;
    expect(new Set(seated.map((p: { coach: string }) => p.coach)).size).toBe(1);
    expect(seated.slice(0, 3).map((p: { berthType: string }) => p.berthType)).toEqual(['LB', 'UB', 'SL']);
    expect(res.data!.reserveSeats.farePaise).toBe(4 * seated[0].farePaise);
  });
});

describe('idempotency', () => {
  it('20 concurrent retries with one key make one reservation and identical responses', async () => {
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 10 });
    const who = identity(randomUUID());
    const key = randomUUID();
    const input = reserveInput(run);
    const results = await Promise.all(Array.from({ length: 20 }, () => reserve(who, input, deps, key)));
    const bodies = new Set(results.map((r) => JSON.stringify(r)));
    expect(bodies.size).toBe(1);
    expect(results[0]!.errors).toBeUndefined();
    expect(await db.prisma.reservation.count({ where: { runId: run.runId } })).toBe(1);
  });

  it('one key sent at once with two different requests: one reservation, other IDEMPOTENCY_KEY_REUSED', async () => {
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 10 });
    const who = identity(randomUUID());
    const key = randomUUID();
    // Both run their work (nothing is claimed first); the key's primary key lets one commit.
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        reserve(who, reserveInput(run, { passengers: [passenger(i % 2)] }), deps, key),
      ),
    );
    const ok = results.filter((r) => !r.errors);
    const winner = JSON.stringify(ok[0]);
    expect(ok.every((r) => JSON.stringify(r) === winner)).toBe(true);
    const refused = results.filter((r) => r.errors);
    expect(refused.flatMap(errorCodes).every((c) => c === 'IDEMPOTENCY_KEY_REUSED')).toBe(true);
    // The winner's request is one of the two; each request that differs from it is refused.
    const winnerName = ok[0]!.data!.reserveSeats.passengers[0].name;
    expect(ok).toHaveLength(results.filter((_, i) => passenger(i % 2).name === winnerName).length);
    expect(await db.prisma.reservation.count({ where: { runId: run.runId } })).toBe(1);
    expect(await db.prisma.bookingIdempotencyKey.count({ where: { key } })).toBe(1);
    expect(await doubleBookingAudit(db.prisma, run.runId)).toMatchObject({
      overlaps: 0,
      maskMismatch: 0,
      seatedPassengers: 1,
    });
  });

  it('refuses the same key with a different request, and replays a domain error as it was', async () => {
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 4 });
    const who = identity(randomUUID());
    const key = randomUUID();
    expect((await reserve(who, reserveInput(run), deps, key)).errors).toBeUndefined();
    const reused = await reserve(who, reserveInput(run, { passengers: [passenger(5)] }), deps, key);
    expect(errorCodes(reused)).toEqual(['IDEMPOTENCY_KEY_REUSED']);

    // Berth 2 taken by someone else; our first attempt fails with SEAT_UNAVAILABLE ...
    await reserve(identity(randomUUID()), reserveInput(run, { berths: [{ coach: 'S1', berth: 2 }] }));
    const failKey = randomUUID();
    const input = reserveInput(run, { berths: [{ coach: 'S1', berth: 2 }] });
    const first = await reserve(who, input, deps, failKey);
    expect(errorCodes(first)).toEqual(['SEAT_UNAVAILABLE']);
    // ... and stays that way for a retry, even after the berth is freed.
    await db.prisma.$executeRaw`UPDATE booking.run_seats SET occupied_mask = 0 WHERE run_id = ${run.runId}::uuid`;
    const retry = await reserve(who, input, deps, failKey);
    expect(retry.errors![0]!.message).toBe(first.errors![0]!.message);
    expect(errorCodes(retry)).toEqual(['SEAT_UNAVAILABLE']);
  });

  it('the same key is independent per user, and a failed validation stores nothing', async () => {
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 4 });
    const key = randomUUID();
    const who = identity(randomUUID());
    const bad = await reserve(who, reserveInput(run, { passengers: [] }), deps, key);
    expect(errorCodes(bad)).toEqual(['BAD_USER_INPUT']);
    expect(await db.prisma.bookingIdempotencyKey.count({ where: { key } })).toBe(0);
    // The corrected request with the same key goes through; another user's same key too.
    expect((await reserve(who, reserveInput(run), deps, key)).errors).toBeUndefined();
    expect((await reserve(identity(randomUUID()), reserveInput(run), deps, key)).errors).toBeUndefined();
    expect(await db.prisma.reservation.count({ where: { runId: run.runId } })).toBe(2);
  });

  it('answers a retry of a reservation decided within the wait from its record once, then from Redis', async () => {
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 2 });
    const who = identity(randomUUID());
    const key = randomUUID();
    const first = await reserve(who, reserveInput(run), deps, key);
    expect(first.errors).toBeUndefined();
    const cached = async () =>
      JSON.parse((await redis.get(`idem:booking:${who.userId}:reserveSeats:${key}`))!) as {
        stored: { data: { status: string } };
      };
    // The answer is not cached a second time: Redis still has the key as the intake queued it.
    expect((await cached()).stored.data.status).toBe('QUEUED');
    expect(JSON.stringify(await reserve(who, reserveInput(run), deps, key))).toBe(JSON.stringify(first));
    // The retry read the record and cached its outcome for the next one.
    expect((await cached()).stored.data.status).toBe('HELD');
    expect(JSON.stringify(await reserve(who, reserveInput(run), deps, key))).toBe(JSON.stringify(first));
  });

  it("records the response in the reservation's own transaction: the database replays it byte for byte", async () => {
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 1 });
    const who = identity(randomUUID());
    for (const extra of [{}, { passengers: [passenger(1), passenger(2)] }]) {
      const key = randomUUID();
      const first = await reserve(who, reserveInput(run, extra), deps, key);
      expect(first.errors).toBeUndefined();
      const view = (first.data as { reserveSeats: { id: string } }).reserveSeats;
      // The key was completed by the same commit that wrote the reservation.
      // (Rows written by one transaction share its xmin.)
      const [row] = await db.prisma.$queryRaw<
        { completed_at: Date | null; same_tx: boolean; response: { ok: boolean; data: { id: string } } }[]
      >`
        SELECT k.completed_at, k.xmin::text = r.xmin::text AS same_tx, k.response
        FROM booking.idempotency_keys k JOIN booking.reservations r ON r.id = ${view.id}::uuid
        WHERE k.user_id = ${who.userId} AND k.key = ${key}`;
      expect(row!.completed_at).not.toBeNull();
      expect(row!.same_tx).toBe(true);
      expect(row!.response).toMatchObject({ ok: true, data: { id: view.id } });
      // Without the Redis copy, the replay comes from PostgreSQL and is the same.
      expect(await redis.del(`idem:booking:${who.userId}:reserveSeats:${key}`)).toBe(1);
      expect(JSON.stringify(await reserve(who, reserveInput(run, extra), deps, key))).toBe(JSON.stringify(first));
    }
    // The first took the only berth; the group of two was waitlisted (held unpaid on WL 1 and 2).
    expect(
      (
        await db.prisma.reservation.findMany({
          where: { runId: run.runId },
          orderBy: { createdAt: 'asc' },
          include: { passengers: { orderBy: { position: 'asc' } } },
        })
      ).map((r) => [r.status, r.passengers.map((p) => [p.status, p.waitlistNumber])]),
    ).toEqual([
      ['HELD', [['HELD', null]]],
      [
        'HELD',
        [
          ['WAITLISTED', 1],
          ['WAITLISTED', 2],
        ],
      ],
    ]);
  });

  it('a rush costs a few statements per batch, not per request', async () => {
    const counting = countingPrisma(db.url);
    try {
      const countingDeps = createBookingDeps(counting.prisma, redis, testLogger, {
        queueWaitMs: 120_000,
        waitlistLimit: 100_000,
      });
      const run = await createTestRun(db.prisma, { coaches: 2, berthsPerCoach: 30 });
      const flat = (sqls: string[]) => sqls.map((sql) => sql.trim().replace(/\s+/g, ' '));
      // Only the reservation's own fields: no station or run lookups for the answer.
      const reserveStatus = (d: BookingDeps) =>
        execute(
          server,
          `mutation($input: ReserveSeatsInput!, $key: String!) {
            reserveSeats(input: $input, idempotencyKey: $key) { status }
          }`,
          { input: reserveInput(run), key: randomUUID() },
          ctx(identity(randomUUID()), d),
        );
      await reserveStatus(countingDeps); // caches the train's layout
      // The warm-up's allocator lingers for a next request (LINGER_MS), then lets its lease go:
      // whether the next one finds it lingering depended on the machine's speed. Wait until it is
      // gone, so the request below always takes a fresh lease (its fence, one read of the waiting
      // journeys) and counts the same on any machine.
      await waitFor(
        "the warm-up's allocator to let its lease go",
        async () => (await redis.exists(allocatorLeaseKey(run.runId))) === 0,
        { intervalMs: 20 },
      );
      // One request alone: its intake statement, then one allocation transaction.
      const one = flat(await counting.statementsDuring(() => reserveStatus(countingDeps)));
      expect(one.filter((sql) => sql.startsWith('WITH input AS'))).toHaveLength(1);
      expect(one.filter((sql) => sql.startsWith('WITH r AS'))).toHaveLength(1);
      expect(one.filter((sql) => sql.startsWith('INSERT INTO booking.run_allocators'))).toHaveLength(1);
      // 11 statements when the allocator lingers (measured), + its fence and the waiting read.
      expect(one.length, one.map((sql) => sql.slice(0, 60)).join('\n')).toBeLessThanOrEqual(13);
      // 200 at once: a handful of intake statements and batches, whatever the number of requests.
      const rush = flat(
        await counting.statementsDuring(() =>
          Promise.all(Array.from({ length: 200 }, () => reserveStatus(countingDeps))),
        ),
      );
      const intakes = rush.filter((sql) => sql.startsWith('WITH input AS')).length;
      const batches = rush.filter((sql) => sql.startsWith('WITH r AS')).length;
      expect(intakes).toBeGreaterThanOrEqual(1);
      expect(batches).toBeGreaterThanOrEqual(1);
      expect(rush.length, rush.map((sql) => sql.slice(0, 50)).join('\n')).toBeLessThan(60);
      // All 202 held (unpaid): 60 passengers on berths, 142 on the waitlist.
      expect(await db.prisma.reservation.count({ where: { runId: run.runId, status: 'HELD' } })).toBe(202);
      const passengers = await db.prisma.passenger.groupBy({
        by: ['status'],
        where: { reservation: { runId: run.runId } },
        _count: true,
      });
      expect(Object.fromEntries(passengers.map((g) => [g.status, g._count]))).toEqual({ HELD: 60, WAITLISTED: 142 });
    } finally {
      await counting.disconnect();
    }
  });

  it('a response recorded in a transaction that then rolls back is not kept', async () => {
    const userId = randomUUID();
    const key = randomUUID();
    const attempt = deps.idempotency.run({ userId, operation: 'test', key, request: { a: 1 } }, (complete) =>
      db.prisma.$transaction(async (tx) => {
        await complete(tx, { written: true });
        throw new AppError(ErrorCode.SOLD_OUT, 'Nothing left');
      }),
    );
    await expect(attempt).rejects.toMatchObject({ code: 'SOLD_OUT' });
    const rows = await db.prisma.$queryRaw<
      { response: unknown }[]
    >`SELECT response FROM booking.idempotency_keys WHERE user_id = ${userId} AND key = ${key}`;
    expect(rows.map((r) => r.response)).toEqual([
      { ok: false, error: { message: 'Nothing left', extensions: { code: 'SOLD_OUT' } } },
    ]);
  });

  it('rejects an empty or 300-character key before doing anything', async () => {
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 2 });
    for (const key of ['', 'x'.repeat(300), 'has space']) {
      const res = await reserve(identity(randomUUID()), reserveInput(run), deps, key);
      expect(errorCodes(res)).toEqual(['BAD_USER_INPUT']);
    }
    expect(await db.prisma.reservation.count({ where: { runId: run.runId } })).toBe(0);
  });
});

describe('holds and the waitlist', () => {
  const passengerStatus = async (reservationId: string) =>
    (await db.prisma.passenger.findFirstOrThrow({ where: { reservationId } })).status;
  it('an expired hold frees its berths and the waitlist is promoted in order', async () => {
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 2 });
    const holders = [identity(randomUUID()), identity(randomUUID())];
    // One after the other, so the first hold is the older one.
    const held = [];
    for (const [i, w] of holders.entries())
      held.push(await reserve(w, reserveInput(run, { passengers: [passenger(i)] })));
    expect(held.map((h) => h.data!.reserveSeats.status)).toEqual(['HELD', 'HELD']);
    const wl1 = await reserve(identity(randomUUID()), reserveInput(run, { passengers: [passenger(2)] }));
    const wl2 = await reserve(identity(randomUUID()), reserveInput(run, { passengers: [passenger(3)] }));
    // Held (unpaid) like a berth, its passenger on the waitlist.
    expect(wl1.data!.reserveSeats).toMatchObject({
      status: 'HELD',
      passengers: [{ status: 'WAITLISTED', waitlistNumber: 1, coach: null }],
    });
    expect(wl1.data!.reserveSeats.holdExpiresAt).not.toBeNull();
    expect(wl2.data!.reserveSeats).toMatchObject({
      status: 'HELD',
      passengers: [{ status: 'WAITLISTED', waitlistNumber: 2, coach: null }],
    });
    // A group gets consecutive numbers, stored and announced as answered.
    const group = await reserve(
      identity(randomUUID()),
      reserveInput(run, { passengers: [passenger(4), passenger(5), passenger(6)] }),
    );
    expect(group.data!.reserveSeats.passengers.map((p: { waitlistNumber: number }) => p.waitlistNumber)).toEqual([
      3, 4, 5,
    ]);
    const stored = await db.prisma.passenger.findMany({
      where: { reservationId: group.data!.reserveSeats.id },
      orderBy: { position: 'asc' },
    });
    expect(stored.map((p) => p.waitlistNumber)).toEqual([3, 4, 5]);
    // A waitlisted request is announced held, with its WL numbers (no reservation.waitlisted).
    expect(await db.prisma.bookingOutbox.count({ where: { routingKey: 'reservation.waitlisted' } })).toBe(0);
    const events = (await db.prisma.bookingOutbox.findMany({ where: { routingKey: 'reservation.held' } })).filter(
      (e) => (e.payload as { data: { waitlist?: number[] } }).data.waitlist,
    );
    const announced = events
      .map((e) => e.payload as { data: { pnr: string; waitlist: number[] } })
      .find((e) => e.data.pnr === group.data!.reserveSeats.pnr);
    expect(announced!.data.waitlist).toEqual([3, 4, 5]);
    expect(
      events
        .map((e) => e.payload as { data: { pnr: string; waitlist: number[] } })
        .find((e) => e.data.pnr === wl1.data!.reserveSeats.pnr)!.data.waitlist,
    ).toEqual([1]);

    const expiring = held[0]!.data!.reserveSeats;
    await db.prisma.reservation.update({
      where: { id: expiring.id },
      data: { holdExpiresAt: new Date(Date.now() - 1000) },
    });
    expect(await expireDue(db.prisma, deps.reservations.settings)).toBe(1);

    const byId = async (id: string) =>
      db.prisma.reservation.findUniqueOrThrow({ where: { id }, include: { passengers: true } });
    const after = await Promise.all([held[0]!, held[1]!, wl1, wl2].map((r) => byId(r.data!.reserveSeats.id)));
    // WL 1's passenger, first in order, moved to a berth; WL 2 still waits; the reservations keep
    // their status (unpaid: HELD). The row keeps the WL number it was booked with (the API shows
    // waitlistNumber only while WAITLISTED).
    expect(after.map((r) => [r.status, r.passengers[0]!.status, r.passengers[0]!.waitlistNumber])).toEqual([
      ['EXPIRED', 'CANCELLED', null],
      ['HELD', 'HELD', null],
      ['HELD', 'HELD', 1],
      ['HELD', 'WAITLISTED', 2],
    ]);
    // WL 1 got exactly the berth the expired hold had.
    expect(after[2]!.passengers[0]!.seatId).toBe(after[0]!.passengers[0]!.seatId);
    // ... and keeps the hold it had (no fresh time to pay).
    expect(after[2]!.holdExpiresAt!.toISOString()).toBe(wl1.data!.reserveSeats.holdExpiresAt);
    const promotedEvent = (
      await db.prisma.bookingOutbox.findMany({ where: { routingKey: 'reservation.promoted' } })
    ).map((e) => (e.payload as { data: { reservationId: string; passengers: unknown[] } }).data);
    expect(promotedEvent).toEqual([
      expect.objectContaining({
        reservationId: after[2]!.id,
        passengers: [expect.objectContaining({ id: after[2]!.passengers[0]!.id, to: 'BERTH' })],
      }),
    ]);
    expect(await doubleBookingAudit(db.prisma, run.runId)).toMatchObject({
      overlaps: 0,
      maskMismatch: 0,
      seatedPassengers: 2,
    });
  });

  it('the sweeper promotes a waitlisting committed after the berth was freed, on runs not yet departed', async () => {
    // One berth, held; a waitlisting behind it; then the berth freed by a transaction that
    // promoted nobody (it ran before the waitlisting committed).
    const strand = async () => {
      const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 1 });
      const held = await reserve(identity(randomUUID()), reserveInput(run));
      const waiting = await reserve(identity(randomUUID()), reserveInput(run));
      expect(waiting.data!.reserveSeats).toMatchObject({ status: 'HELD', passengers: [{ status: 'WAITLISTED' }] });
      // Nothing to promote while the only berth is held.
      await promoteStranded(db.prisma, deps.reservations.settings);
      expect(await passengerStatus(waiting.data!.reserveSeats.id)).toBe('WAITLISTED');
      const heldId = held.data!.reserveSeats.id;
      await db.prisma.$transaction([
        db.prisma.seatOccupancy.deleteMany({ where: { reservationId: heldId } }),
        db.prisma.$executeRaw`UPDATE booking.run_seats SET occupied_mask = 0 WHERE run_id = ${run.runId}::uuid`,
        db.prisma.passenger.updateMany({ where: { reservationId: heldId }, data: { status: 'CANCELLED' } }),
        db.prisma.reservation.update({ where: { id: heldId }, data: { status: 'CANCELLED' } }),
      ]);
      return { run, waiting };
    };
    // A run that has departed keeps its waitlist as it is.
    const departed = await strand();
    await db.prisma.trainRun.update({
      where: { id: departed.run.runId },
      data: { date: new Date(Date.now() - 3 * 86_400_000) },
    });
    await promoteStranded(db.prisma, deps.reservations.settings);
    expect(await passengerStatus(departed.waiting.data!.reserveSeats.id)).toBe('WAITLISTED');

    const { run, waiting } = await strand();
    expect(await promoteStranded(db.prisma, deps.reservations.settings)).toBeGreaterThanOrEqual(1);
    const promoted = await db.prisma.reservation.findUniqueOrThrow({
      where: { id: waiting.data!.reserveSeats.id },
      include: { passengers: true },
    });
    expect([promoted.status, promoted.passengers[0]!.status]).toEqual(['HELD', 'HELD']);
    expect(promoted.passengers[0]!.berthNumber).toBe(1);
    expect(await doubleBookingAudit(db.prisma, run.runId)).toEqual({
      overlaps: 0,
      maskMismatch: 0,
      seatedPassengers: 1,
      distinctSeats: 1,
    });
  });

  it('several sweepers at once expire each hold exactly once', async () => {
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 40 });
    const held = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        reserve(identity(randomUUID()), reserveInput(run, { passengers: [passenger(i)] })),
      ),
    );
    const ids = held.map((h) => h.data!.reserveSeats.id);
    await db.prisma.reservation.updateMany({
      where: { id: { in: ids } },
      data: { holdExpiresAt: new Date(Date.now() - 1000) },
    });
    // Four sweepers racing, batches of 5: SKIP LOCKED hands each hold to exactly one of them.
    const counts = await Promise.all(
      Array.from({ length: 4 }, async () => {
        let total = 0;
        for (let n = -1; n !== 0; total += n) n = await expireDue(db.prisma, deps.reservations.settings, 5);
        return total;
      }),
    );
    expect(counts.reduce((a, b) => a + b, 0)).toBe(30);
    expect(await db.prisma.reservation.count({ where: { id: { in: ids }, status: 'EXPIRED' } })).toBe(30);
    const events = await db.prisma.$queryRaw<{ n: bigint }[]>`
      SELECT count(*)::bigint AS n FROM booking.outbox
      WHERE routing_key = 'reservation.expired' AND payload->'data'->>'reservationId' = ANY(${ids}::text[])`;
    expect(Number(events[0]!.n)).toBe(30);
    expect(await doubleBookingAudit(db.prisma, run.runId)).toEqual({
      overlaps: 0,
      maskMismatch: 0,
      seatedPassengers: 0,
      distinctSeats: 0,
    });
  });

  it('cancelling one passenger frees that berth only and promotes the waitlist', async () => {
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 2 });
    const owner = identity(randomUUID());
    const pair = await reserve(owner, reserveInput(run, { passengers: [passenger(0), passenger(1)] }));
    const waiting = await reserve(identity(randomUUID()), reserveInput(run));
    expect(waiting.data!.reserveSeats).toMatchObject({ status: 'HELD', passengers: [{ status: 'WAITLISTED' }] });
    const { pnr, passengers } = pair.data!.reserveSeats;
    const CANCEL = `mutation($pnr: String!, $ids: [ID!], $key: String!) {
      cancelReservation(pnr: $pnr, passengerIds: $ids, idempotencyKey: $key) { status passengers { status } }
    }`;
    const stranger = await execute(
      server,
      CANCEL,
      { pnr, ids: [passengers[1].id], key: randomUUID() },
      ctx(identity(randomUUID())),
    );
    // Another user's PNR is answered as a missing one.
    expect(errorCodes(stranger)).toEqual(['NOT_FOUND']);
    const res = await execute(server, CANCEL, { pnr, ids: [passengers[1].id], key: randomUUID() }, ctx(owner));
    expect(res.errors).toBeUndefined();
    expect(res.data!.cancelReservation).toEqual({
      status: 'HELD',
      passengers: [{ status: 'HELD' }, { status: 'CANCELLED' }],
    });
    const promoted = await db.prisma.reservation.findUniqueOrThrow({
      where: { id: waiting.data!.reserveSeats.id },
      include: { passengers: true },
    });
    // Its passenger got the freed berth; the reservation stays HELD (unpaid).
    expect([promoted.status, promoted.passengers[0]!.status]).toEqual(['HELD', 'HELD']);
    expect(promoted.passengers[0]!.seatId).toBe(
      (await db.prisma.passenger.findUniqueOrThrow({ where: { id: passengers[1].id } })).seatId,
    );
    expect(await doubleBookingAudit(db.prisma, run.runId)).toMatchObject({
      overlaps: 0,
      maskMismatch: 0,
      seatedPassengers: 2,
    });
    const outbox = await db.prisma.bookingOutbox.findMany({
      where: { routingKey: { in: ['reservation.cancelled', 'reservation.promoted'] } },
    });
    expect(outbox.map((o) => o.routingKey).sort()).toEqual(
      expect.arrayContaining(['reservation.cancelled', 'reservation.promoted']),
    );
  });
});

describe('bad input: a documented error and nothing written', () => {
  let run: TestRun;
  beforeAll(async () => {
    run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 8 });
  });

  const cases: [string, (r: TestRun) => Record<string, unknown>][] = [
    ['no passengers', (r) => reserveInput(r, { passengers: [] })],
    ['an absurd age', (r) => reserveInput(r, { passengers: [{ ...passenger(), age: 300 }] })],
    ['a zero age', (r) => reserveInput(r, { passengers: [{ ...passenger(), age: 0 }] })],
    ['an empty name', (r) => reserveInput(r, { passengers: [{ ...passenger(), name: '  ' }] })],
    [
      'SQL in a name',
      (r) => reserveInput(r, { passengers: [{ ...passenger(), name: "Robert'); DROP TABLE booking.seats;--" }] }),
    ],
    ['an unknown station', (r) => reserveInput(r, { from: 'NOWHERE' })],
    ['from after to', (r) => reserveInput(r, { from: r.stations[3], to: r.stations[0] })],
    [
      'duplicate berths',
      (r) =>
        reserveInput(r, {
          passengers: [passenger(0), passenger(1)],
          berths: [
            { coach: 'S1', berth: 1 },
            { coach: 's1', berth: 1 },
          ],
        }),
    ],
    ['a berth that does not exist', (r) => reserveInput(r, { berths: [{ coach: 'S1', berth: 99 }] })],
    ['a coach of another class', (r) => reserveInput(r, { class: 'THIRD_AC', berths: [{ coach: 'S1', berth: 1 }] })],
    [
      'an unknown train',
      () => ({
        trainNumber: '00000',
        date: addDays(todayInIndia(), 3),
        from: 'NDLS',
        to: 'MMCT',
        class: 'SLEEPER',
        passengers: [passenger()],
      }),
    ],
    [
      'a date beyond the booking window',
      (r) => ({ ...reserveInput(r), runId: undefined, trainNumber: r.trainNumber, date: addDays(todayInIndia(), 90) }),
    ],
    ['a malformed run id', (r) => reserveInput(r, { runId: 'x' })],
  ];

  it.each(cases)('%s -> BAD_USER_INPUT', async (_label, build) => {
    const before = await db.prisma.reservation.count();
    const res = await reserve(identity(randomUUID()), build(run));
    expect(errorCodes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.errors![0]!.message.length).toBeGreaterThan(10);
    expect(await db.prisma.reservation.count()).toBe(before);
    expect(await db.prisma.bookingIdempotencyKey.count({ where: { completedAt: null } })).toBe(0);
  });

  it('a run that already departed -> BAD_USER_INPUT', async () => {
    const past = await db.prisma.trainRun.create({
      data: {
        trainId: (await db.prisma.trainRun.findUniqueOrThrow({ where: { id: run.runId } })).trainId,
        date: new Date(`${addDays(todayInIndia(), -2)}T00:00:00Z`),
      },
    });
    const res = await reserve(identity(randomUUID()), reserveInput(run, { runId: past.id }));
    expect(errorCodes(res)).toEqual(['BAD_USER_INPUT']);
  });

  it("anonymous -> UNAUTHENTICATED; another user's PNR answers as a missing one", async () => {
    const anon = await execute(server, RESERVE, { input: reserveInput(run), key: randomUUID() }, ctx(null));
    expect(errorCodes(anon)).toEqual(['UNAUTHENTICATED']);
    const owner = identity(randomUUID());
    const mine = await reserve(owner, reserveInput(run));
    const q = `query($pnr: String!) { reservation(pnr: $pnr) { pnr passengers { name } } }`;
    const other = await execute(server, q, { pnr: mine.data!.reserveSeats.pnr }, ctx(identity(randomUUID())));
    const missing = await execute(server, q, { pnr: '1000000000' }, ctx(identity(randomUUID())));
    expect(errorCodes(other)).toEqual(['NOT_FOUND']);
    expect(other.data?.reservation ?? null).toBeNull();
    // The same message too: nothing tells a stranger's PNR from an unused one.
    expect(other.errors![0]!.message.replace(/\d{10}/, 'PNR')).toBe(
      missing.errors![0]!.message.replace(/\d{10}/, 'PNR'),
    );
    const own = await execute(server, q, { pnr: mine.data!.reserveSeats.pnr }, ctx(owner));
    expect(own.data!.reservation.pnr).toBe(mine.data!.reserveSeats.pnr);
    const admin = await execute(server, q, { pnr: mine.data!.reserveSeats.pnr }, ctx(identity(randomUUID(), 'ADMIN')));
    expect(admin.data!.reservation.pnr).toBe(mine.data!.reserveSeats.pnr);
  });
});

describe('reads', () => {
  it('myReservations pages newest first and Reservation resolves by id for its owner only', async () => {
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 8 });
    const owner = identity(randomUUID());
    const made: string[] = [];
    for (let i = 0; i < 3; i++)
      made.push((await reserve(owner, reserveInput(run, { passengers: [passenger(i)] }))).data!.reserveSeats.id);
    const page1 = await execute(server, `{ myReservations(first: 2) { nodes { id } nextCursor } }`, {}, ctx(owner));
    expect(page1.data!.myReservations.nodes.map((n: { id: string }) => n.id)).toEqual([made[2], made[1]]);
    const page2 = await execute(
      server,
      `query($a: String) { myReservations(first: 2, after: $a) { nodes { id } nextCursor } }`,
      { a: page1.data!.myReservations.nextCursor },
      ctx(owner),
    );
    expect(page2.data!.myReservations).toEqual({ nodes: [{ id: made[0] }], nextCursor: null });
    const ENT = `query($r: [_Any!]!) { _entities(representations: $r) { ... on Reservation { id status } } }`;
    const own = await execute(server, ENT, { r: [{ __typename: 'Reservation', id: made[0] }] }, ctx(owner));
    expect(own.data!._entities).toEqual([{ id: made[0], status: 'HELD' }]);
    const other = await execute(
      server,
      ENT,
      { r: [{ __typename: 'Reservation', id: made[0] }] },
      ctx(identity(randomUUID())),
    );
    expect(other.data!._entities).toEqual([null]);
    const user = await execute(
      server,
      `query($r: [_Any!]!) {
        _entities(representations: $r) { ... on User { reservations(first: 5) { nodes { id } } } }
      }`,
      { r: [{ __typename: 'User', id: owner.userId }] },
      ctx(owner),
    );
    expect(user.data!._entities[0].reservations.nodes).toHaveLength(3);
  });

  it('seatMap shows which berths are free for a journey', async () => {
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 8 });
    await reserve(
      identity(randomUUID()),
      reserveInput(run, { from: run.stations[0], to: run.stations[1], berths: [{ coach: 'S1', berth: 5 }] }),
    );
    const q = `query($id: ID!, $f: String!, $t: String!) {
      seatMap(runId: $id, coach: "S1", from: $f, to: $t) { coach class berths { berth berthType available } }
    }`;

    const ab = await execute(server, q, { id: run.runId, f: run.stations[0], t: run.stations[1] }, ctx(null));
    expect(ab.data!.seatMap.berths.find((b: { berth: number }) => b.berth === 5)).toEqual({
      berth: 5,
      berthType: 'MB',
      available: false,
    });
    const cd = await execute(server, q, { id: run.runId, f: run.stations[2], t: run.stations[3] }, ctx(null));
    expect(cd.data!.seatMap.berths.every((b: { available: boolean }) => b.available)).toBe(true);
  });
});
