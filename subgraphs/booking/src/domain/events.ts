// Booking's events about a reservation (docs/events.md): one envelope, written to the outbox in
// the transaction that changes the reservation.
import { eventEnvelope } from '@tatkal/common';
import type { Tx } from './inventory.ts';

/** The envelope of a booking event about a reservation (docs/events.md), correlated by its PNR. */
export function reservationEvent(
  routingKey: string,
  reservation: { id: string; pnr: string },
  data: Record<string, unknown>,
  at = new Date(),
) {
  return eventEnvelope(
    routingKey,
    { reservationId: reservation.id, pnr: reservation.pnr, ...data },
    { correlationId: reservation.pnr, at },
  );
}

export async function writeOutbox(
  tx: Tx,
  routingKey: string,
  reservation: { id: string; pnr: string },
  data: Record<string, unknown>,
) {
  await tx.bookingOutbox.create({
    data: { exchange: 'booking', routingKey, payload: reservationEvent(routingKey, reservation, data) },
  });
}
