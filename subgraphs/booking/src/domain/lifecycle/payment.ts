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

/** A reservation a payment confirms, as `lockForConfirm` read it. */
export interface ConfirmCandidate {
  id: string;
  status: ReservationStatus;
  pnr: string;
  user_id: string;
}

/**
 * Locks the reservations payments confirm (FOR UPDATE), in id order: two consumers' batches that
 * share reservations wait for each other instead of deadlocking.
 */
export async function lockForConfirm(tx: Tx, ids: string[]): Promise<Map<string, ConfirmCandidate>> {
  const rows = await tx.$queryRaw<ConfirmCandidate[]>`
    SELECT id::text, status, pnr, user_id::text FROM booking.reservations
    WHERE id = ANY(${ids}::uuid[]) ORDER BY id FOR UPDATE`;
  return new Map(rows.map((r) => [r.id, r]));
}

/**
 * What a payment does to a locked reservation when nothing more need be read: confirm a hold,
 * nothing to an already confirmed or missing one; null: the reservation takes the long way
 * (`confirm`: an expired hold to reacquire, a released or cancelled one to refund).
 */
export function quickConfirm(r: ConfirmCandidate | undefined): 'CONFIRM' | 'ALREADY_CONFIRMED' | 'NOT_FOUND' | null {
  if (!r) return 'NOT_FOUND';
  if (r.status === target('confirm')) return 'ALREADY_CONFIRMED';
  return canMove('confirm', r.status) ? 'CONFIRM' : null;
}

/**
 * Payment succeeded: the hold becomes a booking. A hold that expired meanwhile gets its same
 * berths back if they are still free; otherwise the payment must be refunded.
 */
export async function confirm(db: PrismaClient | Tx, reservationId: string): Promise<ConfirmOutcome> {
  return inTransaction(db, async (tx) => {
    const locked = (await lockForConfirm(tx, [reservationId])).get(reservationId);
    const quick = quickConfirm(locked);
    if (quick === 'CONFIRM') {
      await confirmHeld(tx, [locked!]);
      return 'CONFIRMED';
    }
    if (quick) return quick;
    if (canMove('reacquire', locked!.status) && (await reacquire(tx, reservationId))) return 'REACQUIRED';
    const r = await tx.reservation.findUniqueOrThrow({ where: { id: reservationId } });
    await writeOutbox(tx, 'reservation.refund_required', r, {
      userId: r.userId,
      status: r.status,
      refundPaise: r.farePaise,
    });
    return 'REFUND_REQUIRED';
  });
}

/**
 * Held reservations (locked by `lockForConfirm`) become bookings, with their passengers and a
 * reservation.confirmed each, in one statement however many: once per batch of a rush's payments.
 */
export async function confirmHeld(tx: Tx, held: Omit<ConfirmCandidate, 'status'>[]): Promise<void> {
  if (held.length === 0) return;
  const payloads = held.map((r) =>
    JSON.stringify(reservationEvent('reservation.confirmed', { id: r.id, pnr: r.pnr }, { userId: r.user_id })),
  );
  const moved = await tx.$queryRaw<{ id: string }[]>`
    WITH d AS (
      SELECT * FROM unnest(${held.map((r) => r.id)}::uuid[], ${payloads}::jsonb[],
        ${held.map(() => randomUUID())}::uuid[]) AS d(id, payload, outbox_id)
    ), r AS (
      UPDATE booking.reservations res
      SET status = ${target('confirm')}::booking."ReservationStatus", confirmed_at = now(), hold_expires_at = NULL,
          updated_at = now()
      FROM d WHERE res.id = d.id AND res.status = ANY(${sources('confirm')}::booking."ReservationStatus"[])
      RETURNING res.id
    ), p AS (
      UPDATE booking.passengers p SET status = ${passengerTarget('confirm')}::booking."PassengerStatus"
      FROM r WHERE p.reservation_id = r.id
        AND p.status = ANY(${passengerSources('confirm')}::booking."PassengerStatus"[])
    ), o AS (
      INSERT INTO booking.outbox (id, exchange, routing_key, payload)
      SELECT d.outbox_id, 'booking', 'reservation.confirmed', d.payload FROM d JOIN r ON r.id = d.id
    )
    SELECT id::text FROM r`;
  if (moved.length !== held.length)
    throw new Error(`confirm: ${held.length - moved.length} of ${held.length} reservations no longer held`);
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
