// Berths given back: cancellation by the traveller, unpaid holds expiring, failed payments. Each
// frees the segments, moves the status through the transition table and promotes the waitlist.
import type { PrismaClient, TravelClass } from '@tatkal/db';
import {
  AppError,
  badInput,
  canRead,
  ErrorCode,
  isPnr,
  notFound,
  successOutcome,
  type Identity,
  type Idempotency,
} from '@tatkal/common';
import { writeOutbox } from './events.ts';
import { release, type Tx } from './inventory.ts';
import { segmentMask } from './network.ts';
import { canTransition, transition } from './status.ts';
import type { ReservationSettings, ReservationView } from './types.ts';
import { loadView } from './views.ts';
import { promoteWaitlist } from './waitlist.ts';
import { OPERATION } from './write.ts';

/** Frees the berths of the given passengers of a locked reservation. */
export async function freePassengers(
  tx: Tx,
  r: { id: string; runId: string; fromSeq: number; toSeq: number },
  passengerIds: string[],
) {
  const passengers = await tx.passenger.findMany({ where: { id: { in: passengerIds } } });
  const seated = passengers.filter((p) => p.seatId !== null && (p.status === 'HELD' || p.status === 'CONFIRMED'));
  await release(
    tx,
    r.runId,
    seated.map((p) => ({ seatId: p.seatId!, passengerId: p.id })),
    segmentMask(r.fromSeq, r.toSeq),
  );
  await tx.passenger.updateMany({ where: { id: { in: passengerIds } }, data: { status: 'CANCELLED' } });
}

/**
 * Expires unpaid holds whose time is up, in batches that several booking instances can run at
 * once (SKIP LOCKED), frees their berths and promotes the waitlist. Returns how many expired.
 */
export async function expireHolds(prisma: PrismaClient, settings: ReservationSettings, batch = 100): Promise<number> {
  return prisma.$transaction(
    async (tx) => {
      const expired = await tx.$queryRaw<
        { id: string; run_id: string; class: TravelClass; pnr: string; from_seq: number; to_seq: number }[]
      >`
        SELECT id, run_id, class, pnr, from_seq, to_seq FROM booking.reservations
        WHERE status = 'HELD' AND hold_expires_at < now()
        ORDER BY hold_expires_at LIMIT ${batch}
        FOR UPDATE SKIP LOCKED`;
      for (const r of expired) {
        const passengers = await tx.passenger.findMany({
          where: { reservationId: r.id, status: 'HELD' },
          select: { id: true, seatId: true },
        });
        await release(
          tx,
          r.run_id,
          passengers.filter((p) => p.seatId !== null).map((p) => ({ seatId: p.seatId!, passengerId: p.id })),
          segmentMask(r.from_seq, r.to_seq),
        );
        await tx.passenger.updateMany({
          where: { reservationId: r.id, status: 'HELD' },
          data: { status: 'CANCELLED' },
        });
        await tx.reservation.update({ where: { id: r.id }, data: { status: transition('HELD', 'EXPIRED') } });
        await writeOutbox(tx, 'reservation.expired', { id: r.id, pnr: r.pnr }, {});
      }
      const classes = new Map(expired.map((r) => [`${r.run_id}|${r.class}`, r]));
      for (const r of classes.values()) await promoteWaitlist(tx, r.run_id, r.class, settings);
      return expired.length;
    },
    { timeout: 30_000, maxWait: 10_000 },
  );
}

export interface CancelInput {
  pnr: string;
  passengerIds?: string[] | null;
}

/** Cancels passengers (all by default) of a PNR the caller owns (or any, for an admin). */
export async function cancelReservation(
  deps: { prisma: PrismaClient; idempotency: Idempotency; settings: ReservationSettings },
  identity: Identity,
  input: CancelInput,
): Promise<ReservationView> {
  const pnr = input.pnr.trim();
  if (!isPnr(pnr)) throw badInput('A PNR is 10 digits', 'pnr');
  if (
    input.passengerIds &&
    (input.passengerIds.length === 0 || new Set(input.passengerIds).size !== input.passengerIds.length)
  ) {
    throw badInput('passengerIds must list distinct passengers of this PNR', 'passengerIds');
  }
  return deps.prisma.$transaction(
    async (tx) => {
      const rows = await tx.$queryRaw<
        { id: string }[]
      >`SELECT id FROM booking.reservations WHERE pnr = ${pnr} FOR UPDATE`;
      // Another user's PNR answers as a missing one: PNRs cannot be probed.
      const r = rows[0]
        ? await tx.reservation.findUniqueOrThrow({ where: { id: rows[0].id }, include: { passengers: true } })
        : null;
      if (!r || !canRead(identity, r.userId)) throw notFound(`No reservation with PNR ${pnr}`);
      if (!canTransition(r.status, 'CANCELLED'))
        throw new AppError(ErrorCode.INVALID_STATE, `A ${r.status.toLowerCase()} reservation cannot be cancelled`);
      const active = r.passengers.filter((p) => p.status !== 'CANCELLED');
      if (r.status === 'QUEUED' && input.passengerIds && input.passengerIds.length !== active.length) {
        throw new AppError(ErrorCode.INVALID_STATE, 'A queued reservation is cancelled as a whole');
      }
      const ids = input.passengerIds ?? active.map((p) => p.id);
      for (const id of ids) {
        if (!active.some((p) => p.id === id))
          throw badInput(`Passenger ${id} is not an active passenger of this PNR`, 'passengerIds');
      }
      const wasPaid = r.status === 'CONFIRMED';
      const cancelled = active.filter((p) => ids.includes(p.id));
      await freePassengers(tx, r, ids);
      const allGone = cancelled.length === active.length;
      const updated = await tx.reservation.update({
        where: { id: r.id },
        data: allGone ? { status: transition(r.status, 'CANCELLED'), cancelledAt: new Date() } : {},
      });
      // A queued request withdrawn before the allocator decided it: its reserveSeats key now
      // replays this cancellation (the queue's waiters see the record completed).
      if (r.status === 'QUEUED' && r.idempotencyKey) {
        await deps.idempotency.complete(tx, OPERATION, [
          { userId: r.userId, key: r.idempotencyKey, stored: successOutcome((await loadView(tx, { id: r.id }))!) },
        ]);
      }
      await writeOutbox(tx, 'reservation.cancelled', updated, {
        userId: r.userId,
        passengerIds: ids,
        refundPaise: wasPaid ? cancelled.reduce((sum, p) => sum + p.farePaise, 0) : 0,
        fullyCancelled: allGone,
      });
      await promoteWaitlist(tx, r.runId, r.class, deps.settings);
      return (await loadView(tx, { id: r.id }))!;
    },
    { maxWait: deps.settings.txMaxWaitMs, timeout: deps.settings.txTimeoutMs },
  );
}

/** Runs `fn` in the caller's transaction (e.g. with an inbox insert) or in a new one. */
export function inTransaction<T>(db: PrismaClient | Tx, fn: (tx: Tx) => Promise<T>): Promise<T> {
  // A transaction client has no $disconnect (Prisma 7 gives it a $transaction, for nesting).
  return '$disconnect' in db ? db.$transaction(fn) : fn(db);
}

/** Payment failed: the hold is released at once and its berths go to the waitlist. */
export async function releaseHold(
  db: PrismaClient | Tx,
  reservationId: string,
  settings: ReservationSettings,
): Promise<'RELEASED' | 'NOT_HELD'> {
  return inTransaction(db, async (tx) => {
    const rows = await tx.$queryRaw<
      { id: string }[]
    >`SELECT id FROM booking.reservations WHERE id = ${reservationId}::uuid AND status = 'HELD' FOR UPDATE`;
    if (!rows[0]) return 'NOT_HELD';
    const r = await tx.reservation.findUniqueOrThrow({ where: { id: reservationId }, include: { passengers: true } });
    await freePassengers(
      tx,
      r,
      r.passengers.filter((p) => p.status === 'HELD').map((p) => p.id),
    );
    const updated = await tx.reservation.update({
      where: { id: reservationId },
      data: { status: transition('HELD', 'EXPIRED') },
    });
    await writeOutbox(tx, 'reservation.released', updated, { userId: r.userId });
    await promoteWaitlist(tx, r.runId, r.class, settings);
    return 'RELEASED';
  });
}
