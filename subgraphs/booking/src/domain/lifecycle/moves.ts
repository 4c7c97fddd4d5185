// The guarded statements every move is made of: a row moves only from the statuses its move
// starts from (transitions.ts), its passengers in the same statement.
import { Prisma } from '@tatkal/db';
import type { Tx } from '../inventory.ts';
import { type Move, passengerSources, passengerTarget, sources, target } from './transitions.ts';

/**
 * Moves a reservation and its passengers that can make the move (or only `passengerIds` of
 * them) in one statement, setting `set` too (e.g. `confirmed_at = now()`). Returns false, and
 * changes nothing, when the reservation is not in a status the move starts from.
 */
export async function moveReservation(
  tx: Tx,
  id: string,
  move: Move,
  opts: { set?: Prisma.Sql; passengerIds?: string[] } = {},
): Promise<boolean> {
  const set = opts.set ? Prisma.sql`, ${opts.set}` : Prisma.empty;
  const rows = await tx.$queryRaw<{ id: string }[]>`
    WITH r AS (
      UPDATE booking.reservations SET status = ${target(move)}::booking."ReservationStatus", updated_at = now() ${set}
      WHERE id = ${id}::uuid AND status = ANY(${sources(move)}::booking."ReservationStatus"[])
      RETURNING id
    ), p AS (
      UPDATE booking.passengers p SET status = ${passengerTarget(move)}::booking."PassengerStatus"
      FROM r WHERE p.reservation_id = r.id
        AND p.status = ANY(${passengerSources(move)}::booking."PassengerStatus"[])
        AND (${opts.passengerIds ?? null}::uuid[] IS NULL OR p.id = ANY(${opts.passengerIds ?? null}::uuid[]))
    )
    SELECT id::text FROM r`;
  return rows.length > 0;
}

/**
 * Moves only some passengers (a partial cancellation: the reservation keeps its status). Returns
 * how many moved; a passenger not in a status the move starts from is left alone.
 */
export async function movePassengers(tx: Tx, reservationId: string, move: Move, ids: string[]): Promise<number> {
  return tx.$executeRaw`
    UPDATE booking.passengers SET status = ${passengerTarget(move)}::booking."PassengerStatus"
    WHERE reservation_id = ${reservationId}::uuid AND id = ANY(${ids}::uuid[])
      AND status = ANY(${passengerSources(move)}::booking."PassengerStatus"[])`;
}
