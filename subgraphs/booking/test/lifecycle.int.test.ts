// The lifecycle's guards against the real PostgreSQL: a move from a status its table does not
// allow changes nothing (reservation and passengers), PNR collisions are caught by the unique
// index, and moves racing on the same reservations leave each one whole (audited afterwards).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, ErrorCode, type Redis } from '@tatkal/common';
import type { BookingDeps } from '../src/context.ts';
import { createBookingDeps } from '../src/deps.ts';
import {
  cancel,
  confirm,
  expireDue,
  IllegalTransition,
  PnrTaken,
  queueRequests,
  refuseAlone,
  release,
} from '../src/domain/lifecycle/index.ts';
import { moveReservation } from '../src/domain/lifecycle/moves.ts';
import { createIntake } from '../src/domain/queue/intake.ts';
import type { QueuedView } from '../src/domain/queue.ts';
import { reserveRecords } from '../src/domain/lifecycle/records.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { REDIS_URL } from '../../../test/support/env.ts';
import { testLogger } from '../../../test/support/logger.ts';
import { createTestRun, doubleBookingAudit, type TestRun } from './fixtures.ts';

let db: TestDatabase;
let redis: Redis;
let deps: BookingDeps;
let run: TestRun;

beforeAll(async () => {
  db = await createTestDatabase('lifecycle');
  redis = createRedis(REDIS_URL);
  deps = createBookingDeps(db.prisma, redis, testLogger, { queueWaitMs: 60_000, txTimeoutMs: 60_000 });
  run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 40 });
});

afterAll(async () => {
  await deps?.reservations.queue.close();
  redis?.disconnect();
  await db?.drop();
});

const book = (passengers = 1, allowWaitlist = true): Promise<QueuedView> =>
  deps.reservations.queue.reserveSeats(
    { userId: randomUUID(), role: 'CUSTOMER', tokenId: randomUUID(), verified: false },
    {
      runId: run.runId,
      from: run.stations[0],
      to: run.stations[3],
      class: 'SLEEPER',
      passengers: Array.from({ length: passengers }, (_, i) => ({
        name: `Rider ${'ABCDEF'[i]}`,
        age: 30,
        gender: 'MALE',
      })),
      allowWaitlist,
    },
    randomUUID(),
  );

/** A reservation's status and its passengers' statuses, as stored. */
async function stored(id: string) {
  const r = await db.prisma.reservation.findUniqueOrThrow({ where: { id }, include: { passengers: true } });
  return { status: r.status, passengers: r.passengers.map((p) => p.status).sort() };
}

describe('moves from a status the table does not allow change nothing', () => {
  it('confirm of a cancelled reservation asks for a refund and leaves it cancelled', async () => {
    const r = await book(2);
    expect(r.status).toBe('HELD');
    await db.prisma.$transaction(async (tx) => {
      const row = await tx.reservation.findUniqueOrThrow({ where: { id: r.id }, include: { passengers: true } });
      await cancel(
        tx,
        deps.reservations,
        row,
        row.passengers.map((p) => p.id),
      );
    });
    expect(await confirm(db.prisma, r.id)).toBe('REFUND_REQUIRED');
    expect(await stored(r.id)).toEqual({ status: 'CANCELLED', passengers: ['CANCELLED', 'CANCELLED'] });
  });

  it('release of a confirmed booking is NOT_HELD; refuse, confirm, rac of it move nothing', async () => {
    const r = await book(1);
    expect(await confirm(db.prisma, r.id)).toBe('CONFIRMED');
    expect(await release(db.prisma, r.id, deps.reservations.settings)).toBe('NOT_HELD');
    expect(await refuseAlone(db.prisma, deps.idempotency, r.id, ErrorCode.TRY_AGAIN)).toBeNull();
    expect(await confirm(db.prisma, r.id)).toBe('ALREADY_CONFIRMED');
    for (const move of ['confirm', 'rac', 'expire', 'reacquire'] as const)
      expect(await db.prisma.$transaction((tx) => moveReservation(tx, r.id, move))).toBe(false);
    expect(await stored(r.id)).toEqual({ status: 'CONFIRMED', passengers: ['CONFIRMED'] });
  });

  it('cancel of a refused reservation throws IllegalTransition and writes nothing', async () => {
    const r = await book(1);
    await db.prisma.$executeRaw`UPDATE booking.reservations SET status = 'REFUSED' WHERE id = ${r.id}::uuid`;
    const before = await db.prisma.bookingOutbox.count();
    await expect(
      db.prisma.$transaction(async (tx) => {
        const row = await tx.reservation.findUniqueOrThrow({ where: { id: r.id }, include: { passengers: true } });
        await cancel(
          tx,
          deps.reservations,
          row,
          row.passengers.map((p) => p.id),
        );
      }),
    ).rejects.toBeInstanceOf(IllegalTransition);
    expect(await db.prisma.bookingOutbox.count()).toBe(before);
    expect((await stored(r.id)).passengers).toEqual(['HELD']);
  });
});

describe('PNRs', () => {
  it('a drawn PNR that is taken is PnrTaken (the unique index), and nothing of the request is written', async () => {
    const taken = await book(1);
    const item = intakeItem(taken.pnr);
    await expect(queueRequests(db.prisma, deps.idempotency, [item], new Date())).rejects.toBeInstanceOf(PnrTaken);
    expect(await db.prisma.reservation.count({ where: { id: item.view.id } })).toBe(0);
    expect(await deps.idempotency.lookupRecord(item.userId, 'reserveSeats', item.idempotency.key)).toBeNull();
  });

  it('the queue draws another PNR and queues the request', async () => {
    const taken = await book(1);
    const intake = createIntake({
      prisma: db.prisma,
      idempotency: deps.idempotency,
      records: reserveRecords(deps.idempotency),
      batchSize: 10,
      now: () => new Date(),
      onWritten: () => {},
    });
    const item = intakeItem(taken.pnr);
    const ticket = await intake.enqueue(item);
    expect(ticket).toBeGreaterThan(0);
    const row = await db.prisma.reservation.findUniqueOrThrow({ where: { id: item.view.id } });
    expect(row.pnr).not.toBe(taken.pnr);
    expect(row.pnr).toMatch(/^[1-9]\d{9}$/);
    expect(row.status).toBe('QUEUED');
  });
});

it('payments racing expiry on the same holds: each ends confirmed (in time or reacquired), berths once', async () => {
  const holds = await Promise.all(Array.from({ length: 12 }, () => book(2)));
  expect(holds.every((h) => h.status === 'HELD')).toBe(true);
  const ids = holds.map((h) => h.id);
  await db.prisma.$executeRaw`
    UPDATE booking.reservations SET hold_expires_at = now() - interval '1 second' WHERE id = ANY(${ids}::uuid[])`;
  const [confirmed] = await Promise.all([
    Promise.all(ids.map((id) => confirm(db.prisma, id))),
    (async () => {
      for (let n = -1; n !== 0; ) n = await expireDue(db.prisma, deps.reservations.settings, 3);
    })(),
  ]);
  for (const [i, id] of ids.entries()) {
    const s = await stored(id);
    // A payment that lost to expiry gets the same berths back (nobody else wanted them).
    if (confirmed[i] === 'CONFIRMED' || confirmed[i] === 'REACQUIRED')
      expect(s).toEqual({ status: 'CONFIRMED', passengers: ['CONFIRMED', 'CONFIRMED'] });
    else throw new Error(`unexpected outcome ${confirmed[i]} for ${id}`);
  }
  const occupied = await db.prisma.seatOccupancy.count({ where: { reservationId: { in: ids } } });
  expect(occupied).toBe(ids.length * 2 * 3); // 2 passengers x 3 segments each
  expect(await doubleBookingAudit(db.prisma, run.runId)).toMatchObject({ overlaps: 0, maskMismatch: 0 });
});

function intakeItem(pnr: string) {
  const view = {
    id: randomUUID(),
    pnr,
    status: 'QUEUED',
    runId: run.runId,
    fromCode: run.stations[0],
    toCode: run.stations[1],
    class: 'SLEEPER' as const,
    quota: 'GENERAL' as const,
    farePaise: 10_000,
    fare: null,
    holdExpiresAt: null,
    createdAt: new Date().toISOString(),
    queueTicket: null,
    refusalCode: null,
    opensAt: null,
    passengers: [
      {
        id: randomUUID(),
        name: 'Late Rider',
        age: 40,
        gender: 'FEMALE' as const,
        berthPreference: null,
        status: 'QUEUED',
        coach: null,
        berth: null,
        berthType: null,
        waitlistNumber: null,
        racNumber: null,
        farePaise: 10_000,
        fare: null,
        refundPaise: null,
      },
    ],
  };
  return {
    view,
    userId: randomUUID(),
    mask: 1n,
    fromSeq: 0,
    toSeq: 1,
    allowWaitlist: false,
    requestedSeatIds: null,
    idempotency: { key: randomUUID(), requestHash: 'h' },
    waitingRoom: null,
  };
}
