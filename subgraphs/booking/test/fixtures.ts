// Booking's test fixtures. The contention train (createTestRun) and the double-booking audit live
// in packages/testkit (the benchmarks use them too); the allocation queue's helpers are here.
import pg from 'pg';
import type { PrismaClient } from '@tatkal/db';
import { waitFor as waitForCondition, type WaitOptions } from '../../../test/support/wait.ts';

export { createTestRun, doubleBookingAudit, type TestRun } from '../../../packages/testkit/src/trainRun.ts';

// ───────────────────────── the allocation queue ─────────────────────────

/** test/support/wait.ts's `waitFor`, allowing a minute by default: a queue decides many reservations. */
export const waitFor = <T>(
  what: string,
  check: () => Promise<T | null | undefined | false>,
  opts: WaitOptions = {},
): Promise<T> => waitForCondition(what, check, { timeoutMs: 60_000, ...opts });

/**
 * First come, first served, audited by queue ticket over a run's reservations:
 * - inversions: an earlier request (not for specific berths) whose passengers all still wait (RAC
 *   or WL) while a later one of the same class, with at least as many passengers and an
 *   overlapping journey, has berths for all of its passengers; or REFUSED SOLD_OUT while such a
 *   later one covering its whole journey has berths (a refused A->D says nothing about a later A->B);
 * - waitlistNumbers: the waitlisted passengers' WL numbers per class in ticket order (1..n when
 *   nothing was promoted or cancelled).
 */
export async function fifoAudit(prisma: PrismaClient, runId: string) {
  const inversions = await prisma.$queryRaw<{ n: bigint }[]>`
    WITH q AS MATERIALIZED (
      SELECT r.id, r.queue_ticket, r.class, r.status::text AS status, r.refusal_code,
             int4range(r.from_seq, r.to_seq) AS journey,
             count(p.id) AS n, bool_or(p.requested_seat_id IS NOT NULL) AS specific,
             -- What the passengers travel on (a reservation's own status is its money since RAC):
             -- berths, or still waiting (RAC seats or WL numbers; WAITLISTED also the legacy status).
             bool_and(p.status IN ('HELD', 'CONFIRMED')) AS berthed,
             bool_and(p.status IN ('RAC', 'WAITLISTED')) OR r.status = 'WAITLISTED' AS waiting
      FROM booking.reservations r JOIN booking.passengers p ON p.reservation_id = r.id
      WHERE r.run_id = ${runId}::uuid AND r.queue_ticket IS NOT NULL
      GROUP BY r.id)
    SELECT count(*)::bigint AS n FROM q a
    JOIN q b ON b.class = a.class AND b.queue_ticket > a.queue_ticket
      AND b.berthed AND b.n >= a.n
    WHERE NOT a.specific
      AND ((a.waiting AND a.journey && b.journey)
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
