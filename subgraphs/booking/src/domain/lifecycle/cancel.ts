// The move `cancel`: some or all passengers of a locked reservation; all of them cancel the
// reservation. A queued request withdrawn before the allocator decided it completes its
// reserveSeats record with the cancellation.
import { successOutcome, type Idempotency } from '@tatkal/common';
import { Prisma, type Passenger, type Reservation } from '@tatkal/db';
import { writeOutbox } from '../events.ts';
import type { Tx } from '../inventory.ts';
import type { ReservationSettings } from '../types.ts';
import { loadView } from '../views.ts';
import { freeBerths } from './hold.ts';
import { movePassengers, moveReservation } from './moves.ts';
import { lockPools, promote } from './promote.ts';
import { RESERVE_OPERATION } from './records.ts';
import { assertMove, IllegalTransition, passengerSources, ReservationStatus, target } from './transitions.ts';

/** The passengers a cancellation can still reach. */
export const activePassengers = <P extends Pick<Passenger, 'status'>>(passengers: P[]) =>
  passengers.filter((p) => passengerSources('cancel').includes(p.status));

/**
 * Cancels `passengerIds` (active passengers of `r`, whose row the caller locked), frees their
 * berths and RAC halves, writes `reservation.cancelled` with the refund and promotes the pool
 * (unless `promote: false`: a cancelled run has nobody to promote). `refunds` gives each
 * passenger's refund (the rule table, fares/refunds.ts); without it a paid reservation is
 * refunded in full (a cancelled run) and an unpaid one nothing. Returns the refund the event asks for.
 */
export async function cancel(
  tx: Tx,
  deps: { idempotency: Idempotency; settings: ReservationSettings },
  locked: Reservation & { passengers: Passenger[] },
  passengerIds: string[],
  opts: { promote?: boolean; reason?: 'RUN_CANCELLED' | 'CHART_WAITLISTED'; refunds?: Map<string, number> } = {},
): Promise<{ refundPaise: number }> {
  assertMove('cancel', locked.status);
  // The passengers as they are under the pool's lock: a promotion may have moved one since the
  // caller read them (callers that price refunds lock the pool before reading: cancel.ts).
  await lockPools(tx, locked.runId, [{ cls: locked.class, quota: locked.quota }]);
  const r = { ...locked, passengers: await tx.passenger.findMany({ where: { reservationId: locked.id } }) };
  const active = activePassengers(r.passengers);
  const cancelled = active.filter((p) => passengerIds.includes(p.id));
  await freeBerths(tx, r, cancelled);
  const allGone = cancelled.length === active.length;
  if (allGone) {
    if (!(await moveReservation(tx, r.id, 'cancel', { set: Prisma.sql`cancelled_at = now()` })))
      throw new IllegalTransition('cancel', r.status.toLowerCase());
  } else {
    await movePassengers(tx, r.id, 'cancel', passengerIds);
  }
  if (r.status === ReservationStatus.QUEUED && r.idempotencyKey) {
    const view = (await loadView(tx, { id: r.id }))!;
    await deps.idempotency.complete(tx, RESERVE_OPERATION, [
      { userId: r.userId, key: r.idempotencyKey, stored: successOutcome(view) },
    ]);
  }
  const paid = r.status === target('confirm');
  const refundOf = (p: Passenger) => (paid ? (opts.refunds?.get(p.id) ?? p.farePaise) : 0);
  const refundPaise = cancelled.reduce((sum, p) => sum + refundOf(p), 0);
  if (paid) {
    await tx.$executeRaw`
      UPDATE booking.passengers p SET refund_paise = d.refund
      FROM unnest(${cancelled.map((p) => p.id)}::uuid[], ${cancelled.map(refundOf)}::int[]) AS d(id, refund)
      WHERE p.id = d.id`;
  }
  await writeOutbox(tx, 'reservation.cancelled', r, {
    userId: r.userId,
    passengerIds,
    refundPaise,
    fullyCancelled: allGone,
    ...(opts.reason ? { reason: opts.reason, runId: r.runId } : {}),
  });
  if (opts.promote ?? true) await promote(tx, r.runId, r.class, r.quota, deps.settings);
  return { refundPaise };
}
