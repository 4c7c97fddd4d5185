// Berths given back: the part every move that ends a hold or a ticket shares (release, expire,
// cancel): the passengers' segments are freed, then the move is made under its guard.
import type { Tx } from '../inventory.ts';
import { release as freeSegments } from '../inventory.ts';
import { segmentMask } from '../network.ts';
import { moveReservation } from './moves.ts';
import { IllegalTransition, type Move, SEATED } from './transitions.ts';

/** Frees the segments of these passengers' berths (those seated: held or confirmed). */
export async function freeBerths(
  tx: Tx,
  r: { runId: string; fromSeq: number; toSeq: number },
  passengers: { id: string; seatId: number | null; status: string }[],
): Promise<void> {
  const seated = passengers.filter((p) => p.seatId !== null && (SEATED as readonly string[]).includes(p.status));
  await freeSegments(
    tx,
    r.runId,
    seated.map((p) => ({ seatId: p.seatId!, passengerId: p.id })),
    segmentMask(r.fromSeq, r.toSeq),
  );
}

/** Ends a locked hold (`release` or `expire`): frees its berths, moves it and its passengers. */
export async function endHold(tx: Tx, reservationId: string, move: Extract<Move, 'release' | 'expire'>) {
  const r = await tx.reservation.findUniqueOrThrow({ where: { id: reservationId }, include: { passengers: true } });
  await freeBerths(tx, r, r.passengers);
  if (!(await moveReservation(tx, r.id, move))) throw new IllegalTransition(move, r.status.toLowerCase());
  return r;
}
