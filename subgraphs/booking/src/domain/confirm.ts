// Payment succeeded: a hold becomes a booking (HELD -> CONFIRMED), or an expired hold gets its
// berths back (EXPIRED -> CONFIRMED), or the payment must be refunded.
import { randomUUID } from 'node:crypto';
import type { PrismaClient } from '@tatkal/db';
import { inTransaction } from './cancel.ts';
import { reservationEvent, writeOutbox } from './events.ts';
import { occupy, type Tx } from './inventory.ts';
import { segmentMask } from './network.ts';
import { transition } from './status.ts';

export type ConfirmOutcome = 'CONFIRMED' | 'ALREADY_CONFIRMED' | 'REACQUIRED' | 'REFUND_REQUIRED' | 'NOT_FOUND';

/**
 * Payment succeeded: the hold becomes a booking. A hold that expired meanwhile gets its same
 * berths back if they are still free; otherwise the payment must be refunded.
 */
export async function confirmHold(db: PrismaClient | Tx, reservationId: string): Promise<ConfirmOutcome> {
  return inTransaction(db, async (tx) => {
    const rows = await tx.$queryRaw<{ status: string; pnr: string; user_id: string }[]>`
      SELECT status::text AS status, pnr, user_id::text FROM booking.reservations
      WHERE id = ${reservationId}::uuid FOR UPDATE`;
    const locked = rows[0];
    if (!locked) return 'NOT_FOUND';
    if (locked.status === 'CONFIRMED') return 'ALREADY_CONFIRMED';
    if (locked.status === 'HELD') {
      transition('HELD', 'CONFIRMED');
      // The common case, once per payment of a rush: one raw statement (no ORM query compiled).
      const payload = reservationEvent(
        'reservation.confirmed',
        { id: reservationId, pnr: locked.pnr },
        { userId: locked.user_id },
      );
      await tx.$executeRaw`
        WITH p AS (
          UPDATE booking.passengers SET status = 'CONFIRMED'
          WHERE reservation_id = ${reservationId}::uuid AND status = 'HELD'
        ), r AS (
          UPDATE booking.reservations
          SET status = 'CONFIRMED', confirmed_at = now(), hold_expires_at = NULL, updated_at = now()
          WHERE id = ${reservationId}::uuid
        )
        INSERT INTO booking.outbox (id, exchange, routing_key, payload)
        VALUES (${randomUUID()}::uuid, 'booking', 'reservation.confirmed', ${JSON.stringify(payload)}::jsonb)`;
      return 'CONFIRMED';
    }
    const r = await tx.reservation.findUniqueOrThrow({ where: { id: reservationId }, include: { passengers: true } });
    if (r.status === 'EXPIRED') {
      const mask = segmentMask(r.fromSeq, r.toSeq);
      const wanted = r.passengers
        .filter((p) => p.seatId !== null)
        .map((p) => p.seatId!)
        .sort((a, b) => a - b);
      const free =
        wanted.length === r.passengers.length
          ? await tx.$queryRaw<{ seat_id: number }[]>`
            SELECT seat_id FROM booking.run_seats
            WHERE run_id = ${r.runId}::uuid AND seat_id = ANY(${wanted}::int[]) AND (occupied_mask & ${mask}) = 0

            ORDER BY seat_id FOR UPDATE`
          : [];
      if (free.length === r.passengers.length) {
        await occupy(
          tx,
          r.runId,
          r.id,
          r.passengers.map((p) => ({ seatId: p.seatId!, passengerId: p.id })),
          r.fromSeq,
          r.toSeq,
          mask,
        );
        await tx.passenger.updateMany({ where: { reservationId }, data: { status: 'CONFIRMED' } });
        const updated = await tx.reservation.update({
          where: { id: reservationId },
          data: { status: transition('EXPIRED', 'CONFIRMED'), confirmedAt: new Date(), holdExpiresAt: null },
        });
        await writeOutbox(tx, 'reservation.confirmed', updated, { userId: r.userId, reacquired: true });
        return 'REACQUIRED';
      }
    }
    await writeOutbox(tx, 'reservation.refund_required', r, {
      userId: r.userId,
      status: r.status,
      refundPaise: r.farePaise,
    });
    return 'REFUND_REQUIRED';
  });
}
