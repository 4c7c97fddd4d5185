// A purpose-built train for contention tests: four stops A -> B -> C -> D and exactly the berths
// a test asks for, on a run a few days ahead.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { PrismaClient, TravelClass } from '@tatkal/db';
import { addDays, todayInIndia } from '@tatkal/common/dates';
import { berthTypeOf } from '../src/domain/rail.ts';
import { createInventory } from '../src/domain/inventory.ts';
import { waitFor as waitForCondition } from '../../../test/support/wait.ts';

export interface TestRun {
  runId: string;
  trainNumber: string;
  date: string;
  stations: [string, string, string, string];
  coaches: string[];
}

let counter = 0;

/**
 * A run with `coaches` x `berthsPerCoach` berths of one class. Its seat inventory is prepared, as
 * booking's preparer does before a run's window opens, unless `prepared: false`.
 */
export async function createTestRun(
  prisma: PrismaClient,
  opts: { cls?: TravelClass; coaches: number; berthsPerCoach: number; daysAhead?: number; prepared?: boolean },
): Promise<TestRun> {
  const cls = opts.cls ?? 'SLEEPER';
  // Unique within the process (the counter), unlikely to repeat across processes (the random part).
  const tag = `${String(++counter).padStart(3, '0')}${randomUUID().slice(0, 4)}`.toUpperCase();
  const codes = ['A', 'B', 'C', 'D'].map((l) => `T${l}${tag}`) as [string, string, string, string];
  await prisma.station.createMany({
    data: codes.map((code, i) => ({ code, name: `Test Halt ${i} ${tag}`, city: 'Testpur', state: 'Test Pradesh' })),
  });
  const stations = await prisma.station.findMany({ where: { code: { in: codes } } });
  const id = (code: string) => stations.find((s) => s.code === code)!.id;
  const number = `9${tag}`;
  const train = await prisma.train.create({
    data: { number, name: `Contention Express ${tag}`, type: 'SUPERFAST', runsOn: [0, 1, 2, 3, 4, 5, 6] },
  });
  await prisma.trainStop.createMany({
    data: codes.map((code, seq) => ({
      trainId: train.id,
      seq,
      stationId: id(code),
      arrivalMin: seq === 0 ? null : 1200 + seq * 120,
      departureMin: seq === 3 ? null : 1205 + seq * 120,
      distanceKm: seq * 150,
    })),
  });
  const coachCodes: string[] = [];
  for (let c = 1; c <= opts.coaches; c++) {
    const coach = await prisma.coach.create({ data: { trainId: train.id, code: `S${c}`, class: cls, position: c } });
    coachCodes.push(coach.code);
    await prisma.seat.createMany({
      data: Array.from({ length: opts.berthsPerCoach }, (_, i) => ({
        coachId: coach.id,
        number: i + 1,
        berthType: berthTypeOf(cls, i + 1),
      })),
    });
  }
  const date = addDays(todayInIndia(), opts.daysAhead ?? 5);
  const run = await prisma.trainRun.create({ data: { trainId: train.id, date: new Date(`${date}T00:00:00Z`) } });
  if (opts.prepared ?? true) await prisma.$transaction((tx) => createInventory(tx, [run.id]));
  return { runId: run.id, trainNumber: number, date, stations: codes, coaches: coachCodes };
}

/** Zero rows means no segment of any berth is sold twice (beyond the primary key, which forbids it). */
export async function doubleBookingAudit(prisma: PrismaClient, runId: string) {
  // The seated passengers first (a rush leaves thousands of refused and waitlisted ones).
  const overlaps = await prisma.$queryRaw<{ n: bigint }[]>`
    WITH seated AS MATERIALIZED (
      SELECT p.id, p.seat_id, r.from_seq, r.to_seq FROM booking.passengers p
      JOIN booking.reservations r ON r.id = p.reservation_id
      WHERE r.run_id = ${runId}::uuid AND p.status IN ('HELD', 'CONFIRMED'))
    SELECT count(*)::bigint AS n FROM seated a
    JOIN seated b ON b.seat_id = a.seat_id AND b.id > a.id
      AND int4range(a.from_seq, a.to_seq) && int4range(b.from_seq, b.to_seq)`;
  const maskMismatch = await prisma.$queryRaw<{ n: bigint }[]>`
    SELECT count(*)::bigint AS n FROM booking.run_seats rs
    WHERE rs.run_id = ${runId}::uuid AND rs.occupied_mask <> COALESCE((
      SELECT bit_or((1::bigint << o.segment)) FROM booking.seat_occupancy o
      WHERE o.run_id = rs.run_id AND o.seat_id = rs.seat_id), 0)`;
  const held = await prisma.$queryRaw<{ n: bigint }[]>`
    SELECT count(*)::bigint AS n FROM booking.passengers p JOIN booking.reservations r ON r.id = p.reservation_id
    WHERE r.run_id = ${runId}::uuid AND p.status IN ('HELD', 'CONFIRMED')`;
  const distinctSeats = await prisma.$queryRaw<{ n: bigint }[]>`
    SELECT count(DISTINCT p.seat_id)::bigint AS n
    FROM booking.passengers p JOIN booking.reservations r ON r.id = p.reservation_id
    WHERE r.run_id = ${runId}::uuid AND p.status IN ('HELD', 'CONFIRMED')`;
  return {
    overlaps: Number(overlaps[0]!.n),
    maskMismatch: Number(maskMismatch[0]!.n),
    seatedPassengers: Number(held[0]!.n),
    distinctSeats: Number(distinctSeats[0]!.n),
  };
}

// ───────────────────────── the allocation queue ─────────────────────────

/** test/support/wait.ts's `waitFor`, allowing a minute by default: a queue decides many reservations. */
export const waitFor = <T>(
  what: string,
  check: () => Promise<T | null | undefined | false>,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> => waitForCondition(what, check, { timeoutMs: 60_000, ...opts });

/**
 * First come, first served, audited by queue ticket over a run's reservations:
 * - inversions: an earlier request (not for specific berths) WAITLISTED while a later one of the
 *   same class, with at least as many passengers and an overlapping journey, is seated; or REFUSED
 *   SOLD_OUT while such a later one covering its whole journey is seated (a refused A->D says
 *   nothing about a later A->B);
 * - waitlistNumbers: the waitlisted passengers' WL numbers per class in ticket order (1..n when
 *   nothing was promoted or cancelled).
 */
export async function fifoAudit(prisma: PrismaClient, runId: string) {
  const inversions = await prisma.$queryRaw<{ n: bigint }[]>`
    WITH q AS MATERIALIZED (
      SELECT r.id, r.queue_ticket, r.class, r.status::text AS status, r.refusal_code,
             int4range(r.from_seq, r.to_seq) AS journey,
             count(p.id) AS n, bool_or(p.requested_seat_id IS NOT NULL) AS specific
      FROM booking.reservations r JOIN booking.passengers p ON p.reservation_id = r.id
      WHERE r.run_id = ${runId}::uuid AND r.queue_ticket IS NOT NULL
      GROUP BY r.id)
    SELECT count(*)::bigint AS n FROM q a
    JOIN q b ON b.class = a.class AND b.queue_ticket > a.queue_ticket
      AND b.status IN ('HELD', 'CONFIRMED') AND b.n >= a.n
    WHERE NOT a.specific
      AND ((a.status = 'WAITLISTED' AND a.journey && b.journey)
           OR (a.status = 'REFUSED' AND a.refusal_code = 'SOLD_OUT' AND b.journey @> a.journey))`;

  const wl = await prisma.$queryRaw<{ class: string; numbers: number[] }[]>`
    SELECT r.class::text AS class, array_agg(p.waitlist_number ORDER BY r.queue_ticket, p.position) AS numbers
    FROM booking.passengers p JOIN booking.reservations r ON r.id = p.reservation_id
    WHERE r.run_id = ${runId}::uuid AND p.status = 'WAITLISTED'
    GROUP BY r.class`;
  return {
    inversions: Number(inversions[0]!.n),
    waitlistNumbers: Object.fromEntries(wl.map((w) => [w.class, w.numbers])) as Record<string, number[]>,
  };
}

/**
 * A transaction of its own that locks the run's allocator row (booking.run_allocators), as a
 * stalled allocator would: the run's allocator waits for it (taking its fence, or at the start of
 * a batch). `locked` resolves once the lock is held; `release` commits.
 */
export async function lockAllocatorRow(url: string, runId: string) {
  const client = new pg.Client({ connectionString: url, application_name: 'test:allocator-row' });
  // A hold still open when a failed test drops the database is terminated: not an uncaught error.
  client.on('error', () => {});
  await client.connect();
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  await client.query('BEGIN');
  const locked = client
    .query<{ held_fence: string }>(
      'SELECT fence AS held_fence FROM booking.run_allocators WHERE run_id = $1 FOR UPDATE',
      [runId],
    )
    .then((r) => r.rows[0]!.held_fence);
  locked.catch(() => {});
  return {
    pid: rows[0]!.pid,
    locked,
    query: (sql: string, params: unknown[] = []) => client.query(sql, params),
    release: async () => {
      await locked.catch(() => {});
      await client.query('COMMIT');
      await client.end();
    },
  };
}

/** Backends of `database` waiting for a lock while running a statement that contains `text`. */
export async function lockWaiters(prisma: PrismaClient, database: string, text: string) {
  return prisma.$queryRaw<{ pid: number; client_port: number; query: string }[]>`
    SELECT pid, client_port, query FROM pg_stat_activity
    WHERE datname = ${database} AND wait_event_type = 'Lock' AND position(${text} IN query) > 0`;
}
