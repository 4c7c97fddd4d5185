// Berths given back: the part every move that ends a hold or a ticket shares (release, expire,
// cancel): the passengers' segments are freed, then the move is made under its guard.
import type { Quota, TravelClass } from '@tatkal/db';
import type { Tx } from '../inventory.ts';
import { release as freeSegments } from '../inventory.ts';
import { segmentMask } from '../network.ts';
import { moveReservation } from './moves.ts';
import { lockPools, syncRacMasks } from './promote.ts';
import { IllegalTransition, type Move, ON_RAC, SEATED } from './transitions.ts';

/**
 * Frees these passengers' berths (those seated: held or confirmed) and RAC halves. Takes the
 * pool's lock first (lockPools): what is freed is promoted in order, once.
 */
export async function freeBerths(
  tx: Tx,
  r: { runId: string; fromSeq: number; toSeq: number; class: TravelClass; quota: Quota },
  passengers: { id: string; seatId: number | null; status: string }[],
): Promise<void> {
  const onRac = passengers.filter((p) => p.status === ON_RAC && p.seatId !== null);
  const seated = passengers.filter((p) => p.seatId !== null && (SEATED as readonly string[]).includes(p.status));
  if (onRac.length + seated.length === 0) return;
  await lockPools(tx, r.runId, [{ cls: r.class, quota: r.quota }]);
  if (onRac.length > 0) {
    await tx.$executeRaw`
      DELETE FROM booking.rac_occupancy WHERE passenger_id = ANY(${onRac.map((p) => p.id)}::uuid[])`;
    await syncRacMasks(
      tx,
      r.runId,
      onRac.map((p) => p.seatId!),
    );
  }
  await freeSegments(
    tx,
    r.runId,
    seated.map((p) => ({ seatId: p.seatId!, passengerId: p.id })),
    segmentMask(r.fromSeq, r.toSeq),
  );
}

/** Ends a locked hold (`release` or `expire`): frees its berths, moves it and its passengers. */
export async function endHold(tx: Tx, reservationId: string, move: Extract<Move, 'release' | 'expire'>) {
  // The pool first, then the passengers: a promotion (which holds the pool) may have just moved one.
  const { runId, class: cls, quota } = await tx.reservation.findUniqueOrThrow({ where: { id: reservationId } });
  await lockPools(tx, runId, [{ cls, quota }]);
  const r = await tx.reservation.findUniqueOrThrow({ where: { id: reservationId }, include: { passengers: true } });
  await freeBerths(tx, r, r.passengers);
  if (!(await moveReservation(tx, r.id, move))) throw new IllegalTransition(move, r.status.toLowerCase());
  return r;
}
