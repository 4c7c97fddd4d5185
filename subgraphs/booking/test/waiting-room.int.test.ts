// The Tatkal waiting room (real PostgreSQL and Redis): from 10 minutes before a window opens a
// verified traveller joins and is QUEUED without a place; at the opening everyone waiting is put
// in a random order (pre-opening arrival order predicts nothing), ahead of later arrivals, who
// are first come, first served; a crash before the opening loses no one. Draws come from a seeded
// generator here, so the statistics are the same every run.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, createRedis, type Identity, type Redis } from '@tatkal/common';
import type { BookingDeps } from '../src/context.ts';
import { createBookingDeps } from '../src/deps.ts';
import { istInstant } from '../src/domain/tatkal/windows.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { REDIS_URL } from '../../../test/support/env.ts';
import { testLogger } from '../../../test/support/logger.ts';
import { seededRandom } from '../../../packages/testkit/src/random.ts';
import { identity } from '../../../test/support/tokens.ts';
import { createTestRun, fifoAudit, type TestRun, waitFor } from './fixtures.ts';

let db: TestDatabase;
let redis: Redis;
let deps: BookingDeps;
let now = new Date();

const verified = (): Identity => identity(randomUUID(), 'CUSTOMER', true);
const tatkal = (run: TestRun) => ({
  runId: run.runId,
  from: run.stations[0],
  to: run.stations[3],
  class: 'THIRD_AC' as const,
  quota: 'TATKAL' as const,
  passengers: [{ name: 'Waiting Rider', age: 30, gender: 'FEMALE' as const }],
});
const opening = (run: TestRun) => istInstant(addDays(run.date, -1), 10);
const tatkalRun = () =>
  createTestRun(db.prisma, { cls: 'THIRD_AC', coaches: 1, berthsPerCoach: 72, quotas: { TATKAL: 72 } });

async function tickets(runId: string, ids: string[]) {
  const rows = await db.prisma.reservation.findMany({
    where: { runId, id: { in: ids } },
    select: { id: true, queueTicket: true },
  });
  const byId = new Map(rows.map((r) => [r.id, r.queueTicket]));
  return ids.map((id) => byId.get(id) ?? null);
}

/** Spearman's rank correlation of two lists of distinct numbers. */
function spearman(xs: number[], ys: number[]) {
  const rank = (v: number[]) => {
    const sorted = [...v].sort((a, b) => a - b);
    return v.map((x) => sorted.indexOf(x) + 1);
  };
  const rx = rank(xs);
  const ry = rank(ys);
  const n = xs.length;
  const d2 = rx.reduce((sum, r, i) => sum + (r - ry[i]!) ** 2, 0);
  return 1 - (6 * d2) / (n * (n * n - 1));
}

beforeAll(async () => {
  db = await createTestDatabase('waiting_room');
  redis = createRedis(REDIS_URL);
  deps = createBookingDeps(db.prisma, redis, testLogger, { queueWaitMs: 0, txTimeoutMs: 60_000 }, () => now);
});

afterAll(async () => {
  await deps?.reservations.queue.close();
  redis?.disconnect();
  await db?.drop();
});

describe('joining', () => {
  it('10 minutes before the opening: QUEUED with the opening and no place; earlier: BOOKING_NOT_OPEN', async () => {
    const run = await tatkalRun();
    now = new Date(opening(run).getTime() - 11 * 60_000);
    await expect(deps.reservations.queue.reserveSeats(verified(), tatkal(run), randomUUID())).rejects.toMatchObject({
      extensions: { code: 'BOOKING_NOT_OPEN' },
    });
    now = new Date(opening(run).getTime() - 5 * 60_000);
    const key = randomUUID();
    const who = verified();
    const joined = await deps.reservations.queue.reserveSeats(who, tatkal(run), key);
    expect(joined).toMatchObject({
      status: 'QUEUED',
      queueTicket: null,
      queuePosition: null,
      estimatedWaitSeconds: 300,
    });
    expect(joined.opensAt).toBe(opening(run).toISOString());
    // A retry with the same key is the same reservation, still waiting.
    expect(await deps.reservations.queue.reserveSeats(who, tatkal(run), key)).toMatchObject({
      id: joined.id,
      status: 'QUEUED',
      queuePosition: null,
    });
    // An agent may not wait for the first 30 minutes either.
    await expect(
      deps.reservations.queue.reserveSeats(identity(randomUUID(), 'AGENT', true), tatkal(run), randomUUID()),
    ).rejects.toMatchObject({ extensions: { code: 'AGENT_WINDOW_CLOSED' } });
  });
});

describe('the opening', () => {
  it('orders the waiting room at random: over 20 openings arrival order does not predict position', async () => {
    const rhos: number[] = [];
    const d = createBookingDeps(db.prisma, redis, testLogger, { queueWaitMs: 0 }, () => now, seededRandom(20261207));
    for (let opening_ = 0; opening_ < 20; opening_++) {
      const run = await tatkalRun();
      now = new Date(opening(run).getTime() - 8 * 60_000);
      const joined: string[] = [];
      for (let i = 0; i < 25; i++) {
        now = new Date(now.getTime() + 10_000); // arrivals 10 s apart, the last at 09:56
        joined.push((await d.reservations.queue.reserveSeats(verified(), tatkal(run), randomUUID())).id);
      }
      expect(await tickets(run.runId, joined)).toEqual(joined.map(() => null));
      now = opening(run);
      // Half the openings are admitted by the opening's own admission, half by the first later arrival.
      if (opening_ % 2 === 0) await d.reservations.queue.admitDue();
      const later: string[] = [];
      for (let i = 0; i < 5; i++) {
        now = new Date(now.getTime() + 1_000);
        later.push((await d.reservations.queue.reserveSeats(verified(), tatkal(run), randomUUID())).id);
      }
      const waited = (await tickets(run.runId, joined)) as number[];
      const after = (await tickets(run.runId, later)) as number[];
      // Everyone who waited is ahead of everyone who came later, who are in arrival order.
      expect(Math.max(...waited)).toBeLessThan(Math.min(...after));
      expect(after).toEqual([...after].sort((a, b) => a - b));
      expect(new Set(waited).size).toBe(25);
      rhos.push(
        spearman(
          joined.map((_, i) => i),
          waited,
        ),
      );
      await waitFor('the opening decided', async () =>
        (await db.prisma.reservation.count({ where: { runId: run.runId, status: 'QUEUED' } })) === 0 ? true : null,
      );
      expect((await fifoAudit(db.prisma, run.runId)).inversions).toBe(0);
    }
    const mean = rhos.reduce((a, b) => a + b, 0) / rhos.length;
    // Arrival order would give rho = 1 every time; random order gives a mean near 0 (sd ~ 0.2 / sqrt(20)).
    expect(Math.abs(mean)).toBeLessThan(0.15);
    expect(rhos.filter((r) => r > 0.9)).toEqual([]);
    await d.reservations.queue.close();
    // 600 requests over 20 openings, each waited for: ~28 s alone on the shared 2-core machine, over
    // 60 s in the full suite; every wait inside is for a condition, this bounds the whole.
  }, 240_000);

  it('a crash before the opening loses no one: another instance admits and decides everyone who joined', async () => {
    const run = await tatkalRun();
    const first = createBookingDeps(db.prisma, redis, testLogger, { queueWaitMs: 0 }, () => now);
    now = new Date(opening(run).getTime() - 60_000);
    const joined: string[] = [];
    for (let i = 0; i < 10; i++)
      joined.push((await first.reservations.queue.reserveSeats(verified(), tatkal(run), randomUUID())).id);
    // The instance stops before its opening timer fires (as a crash would).
    await first.reservations.queue.close();
    const second = createBookingDeps(db.prisma, redis, testLogger, { queueWaitMs: 0 }, () => now);
    now = opening(run);
    await second.reservations.queue.admitDue(); // what every instance's sweeper does each tick
    await waitFor('everyone who joined decided', async () => {
      const rows = await db.prisma.reservation.findMany({ where: { id: { in: joined } }, select: { status: true } });
      return rows.every((r) => r.status === 'HELD') ? rows : null;
    });
    expect(await tickets(run.runId, joined)).not.toContain(null);
    await second.reservations.queue.close();
  });
});
