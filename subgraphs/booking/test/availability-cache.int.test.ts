// The availability cache (domain/availabilityCache.ts) against the real PostgreSQL and Redis, with
// two booking instances on one database and one Redis: polls within the TTL cost no database read,
// a write on either instance is seen by the other's next read (the run's version in Redis), and a
// write that tells no cache is seen once the TTL has passed (the documented staleness bound). The
// reading instance's cache runs on a clock the test moves: no test here waits for time to pass.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, type Identity, type Redis } from '@tatkal/common';
import { bookingContext, type BookingDeps } from '../src/context.ts';
import { createBookingDeps } from '../src/deps.ts';
import { type AvailabilityCache, createAvailabilityCache } from '../src/domain/availabilityCache.ts';
import { cancelReservation } from '../src/domain/cancel.ts';
import { release } from '../src/domain/lifecycle/index.ts';
import { buildBookingServer } from '../src/server.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { REDIS_URL } from '../../../test/support/env.ts';
import { execute } from '../../../test/support/graphql.ts';
import { testLogger } from '../../../test/support/logger.ts';
import { type CountingPrisma, countingPrisma } from '../../../test/support/queryCount.ts';
import { identity } from '../../../test/support/tokens.ts';
import { createTestRun, type TestRun } from './fixtures.ts';

const TTL_MS = 1_000;
const BERTHS = 8;

let db: TestDatabase;
let redis: Redis;
let deadRedis: Redis;
let counting: CountingPrisma;
/** Two booking instances: `a` writes, `b` reads (on a client that records its statements). */
let a: BookingDeps;
let b: BookingDeps;
/** b's cache clock, in milliseconds. */
let clock = 0;
const { server } = buildBookingServer({ logger: testLogger, production: false });

const AVAILABILITY = `query($id: ID!, $f: String!, $t: String!) {
  availability(runId: $id, from: $f, to: $t, class: SLEEPER) { totalBerths availableBerths statusCode open }
}`;

async function availableOn(d: BookingDeps, run: TestRun, who: Identity | null = null): Promise<number> {
  const res = await execute(
    server,
    AVAILABILITY,
    { id: run.runId, f: run.stations[0], t: run.stations[3] },
    bookingContext(d, { identity: who, requestId: 'test', log: testLogger }),
  );
  expect(res.errors).toBeUndefined();
  expect(res.data!.availability[0].totalBerths).toBe(BERTHS);
  return res.data!.availability[0].availableBerths;
}

/** What `fn` cost b's cache (hits, misses, bypasses) and its database (availability's count statements). */
async function measured(cache: AvailabilityCache, fn: () => Promise<unknown>) {
  const before = { ...cache.stats };
  const statements = await counting.statementsDuring(fn);
  return {
    hit: cache.stats.hit - before.hit,
    miss: cache.stats.miss - before.miss,
    bypass: cache.stats.bypass - before.bypass,
    countReads: statements.filter((s) => s.includes('booking.run_seats')).length,
  };
}

async function hold(run: TestRun, passengers: number) {
  const who = identity(randomUUID());
  const view = await a.reservations.queue.reserveSeats(
    who,
    {
      runId: run.runId,
      from: run.stations[0],
      to: run.stations[3],
      class: 'SLEEPER',
      passengers: Array.from({ length: passengers }, (_, i) => ({
        name: `Cache Passenger ${String.fromCharCode(65 + i)}`,
        age: 30 + i,
        gender: 'MALE' as const,
      })),
    },
    randomUUID(),
  );
  expect(view.status).toBe('HELD');
  return { who, view };
}

beforeAll(async () => {
  db = await createTestDatabase('booking_availability_cache');
  redis = createRedis(REDIS_URL);
  // Nothing listens on port 1: every Redis command fails at once, as when Redis is down.
  deadRedis = createRedis('redis://127.0.0.1:1');
  counting = countingPrisma(db.url);
  const settings = { txMaxWaitMs: 60_000, txTimeoutMs: 60_000, queueWaitMs: 60_000, availabilityCacheMs: TTL_MS };
  a = createBookingDeps(db.prisma, redis, testLogger, settings);
  b = createBookingDeps(counting.prisma, redis, testLogger, settings);
  b.reservations.availability = createAvailabilityCache({ redis, ttlMs: TTL_MS, clock: () => clock });
  await server.start();
});

afterAll(async () => {
  await server.stop();
  await a?.reservations.queue.close();
  await b?.reservations.queue.close();
  redis?.disconnect();
  deadRedis?.disconnect();
  await counting?.disconnect();
  await db?.drop();
});

describe('availability cache', () => {
  it('polls within the TTL with no write are answered from memory: one database read for all', async () => {
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: BERTHS });
    const cache = b.reservations.availability;
    const first = await measured(cache, () => availableOn(b, run));
    expect(first).toEqual({ hit: 0, miss: 1, bypass: 0, countReads: 1 });
    // A poll storm on the same run, journey and quota, by different callers (availability is
    // public: one entry serves them all), at once and one after another.
    const polls = await measured(cache, async () => {
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) => availableOn(b, run, i % 2 ? identity(randomUUID()) : null)),
      );
      for (let i = 0; i < 50; i++) answers.push(await availableOn(b, run));
      expect(answers).toEqual(Array(100).fill(BERTHS));
    });
    expect(polls).toEqual({ hit: 100, miss: 0, bypass: 0, countReads: 0 });
    // Another journey on the same run is its own entry.
    const other = await execute(
      server,
      AVAILABILITY,
      { id: run.runId, f: run.stations[1], t: run.stations[2] },
      bookingContext(b, { identity: null, requestId: 'test', log: testLogger }),
    );
    expect(other.errors).toBeUndefined();
    expect(cache.stats.miss).toBe(2);
  });

  it("a reservation or cancellation on one instance is in the other's next read, well within the TTL", async () => {
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: BERTHS });
    const cache = b.reservations.availability;
    expect(await availableOn(b, run)).toBe(BERTHS);
    expect((await measured(cache, () => availableOn(b, run))).hit).toBe(1);

    // The clock does not move: only the run's version (bumped by a's allocator after its commit)
    // makes b read again.
    const held = await hold(run, 2);
    const afterHold = await measured(cache, async () => expect(await availableOn(b, run)).toBe(BERTHS - 2));
    expect(afterHold).toMatchObject({ hit: 0, miss: 1, countReads: 1 });
    expect((await measured(cache, () => availableOn(b, run))).hit).toBe(1);

    await cancelReservation(a.reservations, held.who, { pnr: held.view.pnr });
    const afterCancel = await measured(cache, async () => expect(await availableOn(b, run)).toBe(BERTHS));
    expect(afterCancel).toMatchObject({ hit: 0, miss: 1, countReads: 1 });
  });

  it('a write that tells no cache is seen once the TTL has passed: the staleness bound', async () => {
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: BERTHS });
    const cache = b.reservations.availability;
    const held = await hold(run, 3);
    expect(await availableOn(b, run)).toBe(BERTHS - 3);

    // Released by the lifecycle directly, as nothing in booking does without telling the cache:
    // within the TTL b may still answer what it read before (at most TTL_MS old) ...
    expect(await release(db.prisma, held.view.id, a.reservations.settings)).toBe('RELEASED');
    const within = await measured(cache, async () => expect(await availableOn(b, run)).toBe(BERTHS - 3));
    expect(within).toMatchObject({ hit: 1, miss: 0, countReads: 0 });
    // ... and once the TTL has passed since that read began, it reads the database again.
    clock += TTL_MS;
    const after = await measured(cache, async () => expect(await availableOn(b, run)).toBe(BERTHS));
    expect(after).toMatchObject({ hit: 0, miss: 1, countReads: 1 });
  });

  it('a write that cannot name its runs (an expiry sweep, a payment release) makes every run read again', async () => {
    const runs = [
      await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: BERTHS }),
      await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: BERTHS }),
    ];
    const cache = b.reservations.availability;
    const held = await hold(runs[0]!, 1);
    for (const run of runs) await availableOn(b, run);
    expect(await release(db.prisma, held.view.id, a.reservations.settings)).toBe('RELEASED');
    // What the booking service's sweeper and payment-event consumer call after such a commit.
    a.reservations.availability.changedAll();
    const after = await measured(cache, async () => {
      expect(await availableOn(b, runs[0]!)).toBe(BERTHS);
      expect(await availableOn(b, runs[1]!)).toBe(BERTHS);
    });
    expect(after).toMatchObject({ hit: 0, miss: 2 });
  });

  it('Redis unreachable: every read goes to the database (no other instance could reach it)', async () => {
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: BERTHS });
    const c = createBookingDeps(db.prisma, deadRedis, testLogger, { availabilityCacheMs: TTL_MS });
    const cache = c.reservations.availability;
    expect(await availableOn(c, run)).toBe(BERTHS);
    await hold(run, 1);
    expect(await availableOn(c, run)).toBe(BERTHS - 1);
    expect(cache.stats).toEqual({ hit: 0, miss: 0, bypass: 2 });
    await c.reservations.queue.close();
  });

  it('AVAILABILITY_CACHE_MS=0 turns it off', async () => {
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: BERTHS });
    const off = createBookingDeps(db.prisma, redis, testLogger, { availabilityCacheMs: 0 });
    expect(await availableOn(off, run)).toBe(BERTHS);
    expect(await availableOn(off, run)).toBe(BERTHS);
    expect(off.reservations.availability.stats).toEqual({ hit: 0, miss: 0, bypass: 2 });
    await off.reservations.queue.close();
  });
});
