// The move `cancel` for a cancelled run: every reservation on it that is not final, a bounded
// batch per transaction. Nobody travels, so freed berths promote no one, and a confirmed
// reservation is refunded in full (its active passengers' fares) by its `reservation.cancelled`.
import type { Idempotency } from '@tatkal/common';
import type { PrismaClient } from '@tatkal/db';
import type { ReservationSettings } from '../types.ts';
import { cancel, activePassengers } from './cancel.ts';
import { sources } from './transitions.ts';
import { lockPools } from './promote.ts';

export interface RunBatch {
  /** Reservations this batch cancelled. */
  cancelled: number;
  /** What their `reservation.cancelled` events ask payment to refund. */
  refundPaise: number;
}

/**
 * Cancels up to `limit` reservations of the run that can still be cancelled, in one transaction:
 * their rows locked `FOR UPDATE` in id order (a concurrent canceller of the same run waits, then
 * sees them cancelled and takes the next ones; a row locked by the allocator or a traveller's
 * cancellation is waited for). Each reservation moves once, writing one event: a retried or
 * concurrent run cancellation finds nothing left to do. Returns 0 cancelled when none is left.
 */
export async function cancelOnRun(
  prisma: PrismaClient,
  deps: { idempotency: Idempotency; settings: ReservationSettings },
  runId: string,
  limit: number,
): Promise<RunBatch> {
  return prisma.$transaction(
    async (tx) => {
      const locked = await tx.$queryRaw<{ id: string }[]>`
        SELECT id::text FROM booking.reservations
        WHERE run_id = ${runId}::uuid AND status = ANY(${sources('cancel')}::booking."ReservationStatus"[])
        ORDER BY id LIMIT ${limit} FOR UPDATE`;
      if (locked.length === 0) return { cancelled: 0, refundPaise: 0 };
      const rows = await tx.reservation.findMany({
        where: { id: { in: locked.map((r) => r.id) } },
        include: { passengers: true },
        orderBy: { id: 'asc' },
      });
      // Every pool of the batch at once, in the one order all lockers use (no deadlock with a sweeper).
      await lockPools(tx, runId, [
        ...new Map(rows.map((r) => [`${r.class}|${r.quota}`, { cls: r.class, quota: r.quota }])).values(),
      ]);
      let refundPaise = 0;
      for (const r of rows) {
        const ids = activePassengers(r.passengers).map((p) => p.id);
        const done = await cancel(tx, deps, r, ids, { promote: false, reason: 'RUN_CANCELLED' });
        refundPaise += done.refundPaise;
      }
      return { cancelled: rows.length, refundPaise };
    },
    { maxWait: deps.settings.txMaxWaitMs, timeout: Math.max(deps.settings.txTimeoutMs, 30_000) },
  );
}

/**
 * Cancelled runs (departing from a week ago on) that still have reservations to cancel: a run
 * cancellation cut short by a crash, or a request queued just as the run was cancelled.
 */
export async function cancelledRunsWithActive(prisma: PrismaClient, today: string): Promise<string[]> {
  const rows = await prisma.$queryRaw<{ id: string }[]>`
    SELECT tr.id::text FROM booking.train_runs tr
    WHERE tr.cancelled AND tr.date >= ${today}::date - 7
      AND EXISTS (
        SELECT 1 FROM booking.reservations r
        WHERE r.run_id = tr.id AND r.status = ANY(${sources('cancel')}::booking."ReservationStatus"[]))
    ORDER BY tr.date, tr.id`;
  return rows.map((r) => r.id);
}
