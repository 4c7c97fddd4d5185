// The moves a payment's outcome makes: `confirm` (HELD -> CONFIRMED), `reacquire` (an expired
// hold whose berths are still free: EXPIRED -> CONFIRMED) and `release` (payment failed: the
// hold ends at once and its berths go to the waitlist). Each runs in the caller's transaction
// (with the inbox row of the event) or in its own.
import { randomUUID } from 'node:crypto';
import { Prisma, type PrismaClient, type Quota, type ReservationStatus, type TravelClass } from '@tatkal/db';
import { reservationEvent, writeOutbox } from '../events.ts';
import { occupy, type Tx } from '../inventory.ts';
import { segmentMask } from '../network.ts';
import type { ReservationSettings } from '../types.ts';
import { endHold } from './hold.ts';
import { moveReservation } from './moves.ts';
import { promote } from './promote.ts';
import { canMove, passengerSources, passengerTarget, sources, target } from './transitions.ts';

export type ConfirmOutcome = 'CONFIRMED' | 'ALREADY_CONFIRMED' | 'REACQUIRED' | 'REFUND_REQUIRED' | 'NOT_FOUND';

/** Runs `fn` in the caller's transaction (e.g. with an inbox insert) or in a new one. */
export function inTransaction<T>(db: PrismaClient | Tx, fn: (tx: Tx) => Promise<T>): Promise<T> {
  // A transaction client has no $disconnect (Prisma 7 gives it a $transaction, for nesting).
  return '$disconnect' in db ? db.$transaction(fn) : fn(db);
}

/**
 * Payment succeeded: the hold becomes a booking. A hold that expired meanwhile gets its same
 * berths back if they are still free; otherwise the payment must be refunded.
 */
export async function confirm(db: PrismaClient | Tx, reservationId: string): Promise<ConfirmOutcome> {
  return inTransaction(db, async (tx) => {
    const rows = await tx.$queryRaw<{ status: ReservationStatus; pnr: string; user_id: string }[]>`
      SELECT status, pnr, user_id::text FROM booking.reservations WHERE id = ${reservationId}::uuid FOR UPDATE`;
    const locked = rows[0];
    if (!locked) return 'NOT_FOUND';
    if (locked.status === target('confirm')) return 'ALREADY_CONFIRMED';
    if (canMove('confirm', locked.status)) {
      await confirmHeld(tx, reservationId, locked);
      return 'CONFIRMED';
    }
    if (canMove('reacquire', locked.status) && (await reacquire(tx, reservationId))) return 'REACQUIRED';
    const r = await tx.reservation.findUniqueOrThrow({ where: { id: reservationId } });
    await writeOutbox(tx, 'reservation.refund_required', r, {
      userId: r.userId,
      status: r.status,
      refundPaise: r.farePaise,
    });
    return 'REFUND_REQUIRED';
  });
}

/** The common case, once per payment of a rush: one statement (no ORM query compiled). */
async function confirmHeld(tx: Tx, reservationId: string, r: { pnr: string; user_id: string }) {
  const payload = reservationEvent('reservation.confirmed', { id: reservationId, pnr: r.pnr }, { userId: r.user_id });
  const moved = await tx.$queryRaw<{ id: string }[]>`
    WITH r AS (
      UPDATE booking.reservations
      SET status = ${target('confirm')}::booking."ReservationStatus", confirmed_at = now(), hold_expires_at = NULL,
          updated_at = now()
      WHERE id = ${reservationId}::uuid AND status = ANY(${sources('confirm')}::booking."ReservationStatus"[])
      RETURNING id
    ), p AS (
      UPDATE booking.passengers p SET status = ${passengerTarget('confirm')}::booking."PassengerStatus"
      FROM r WHERE p.reservation_id = r.id
        AND p.status = ANY(${passengerSources('confirm')}::booking."PassengerStatus"[])
    ), o AS (
      INSERT INTO booking.outbox (id, exchange, routing_key, payload)
      SELECT ${randomUUID()}::uuid, 'booking', 'reservation.confirmed', ${JSON.stringify(payload)}::jsonb FROM r
    )
    SELECT id::text FROM r`;
  if (moved.length === 0) throw new Error(`reservation ${reservationId}: confirm found it no longer held`);
}

/** An expired hold paid late: its same berths again, if every one is still free. */
async function reacquire(tx: Tx, reservationId: string): Promise<boolean> {
  const r = await tx.reservation.findUniqueOrThrow({ where: { id: reservationId }, include: { passengers: true } });
  const passengers = r.passengers.filter((p) => passengerSources('reacquire').includes(p.status));
  const mask = segmentMask(r.fromSeq, r.toSeq);
  const wanted = passengers.flatMap((p) => (p.seatId === null ? [] : [p.seatId])).sort((a, b) => a - b);
  if (wanted.length === 0 || wanted.length !== r.passengers.length) return false;
  const free = await tx.$queryRaw<{ seat_id: number }[]>`
    SELECT seat_id FROM booking.run_seats
    WHERE run_id = ${r.runId}::uuid AND seat_id = ANY(${wanted}::int[]) AND (occupied_mask & ${mask}) = 0
    ORDER BY seat_id FOR UPDATE`;
  if (free.length !== wanted.length) return false;
  await occupy(
    tx,
    r.runId,
    r.id,
    passengers.map((p) => ({ seatId: p.seatId!, passengerId: p.id })),
    r.fromSeq,
    r.toSeq,
    mask,
  );
  await moveReservation(tx, r.id, 'reacquire', { set: Prisma.sql`confirmed_at = now(), hold_expires_at = NULL` });
  await writeOutbox(tx, 'reservation.confirmed', r, { userId: r.userId, reacquired: true });
  return true;
}

/** Payment failed: the hold is released at once and its berths go to the waitlist. */
export async function release(
  db: PrismaClient | Tx,
  reservationId: string,
  settings: ReservationSettings,
): Promise<'RELEASED' | 'NOT_HELD'> {
  return inTransaction(db, async (tx) => {
    const rows = await tx.$queryRaw<
      { id: string; run_id: string; class: TravelClass; quota: Quota; pnr: string; user_id: string }[]
    >`
      SELECT id::text, run_id::text, class, quota, pnr, user_id::text FROM booking.reservations
      WHERE id = ${reservationId}::uuid AND status = ANY(${sources('release')}::booking."ReservationStatus"[])
      FOR UPDATE`;
    const r = rows[0];
    if (!r) return 'NOT_HELD';
    await endHold(tx, r.id, 'release');
    await writeOutbox(tx, 'reservation.released', r, { userId: r.user_id });
    await promote(tx, r.run_id, r.class, r.quota, settings);
    return 'RELEASED';
  });
}
