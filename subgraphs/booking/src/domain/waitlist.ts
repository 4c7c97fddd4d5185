// The waitlist: berths freed by a cancellation, an expired hold or a failed payment go to the
// waitlisted journeys of their class in WL order.
import type { PrismaClient, TravelClass } from '@tatkal/db';
import { writeOutbox } from './events.ts';
import { lockFreeSeats, occupy, type Tx } from './inventory.ts';
import { segmentMask } from './network.ts';
import { transition } from './status.ts';
import type { ReservationSettings } from './types.ts';

/**
 * Promotes waitlisted reservations of (run, class) in WL order: each whose whole group fits in
 * what is free gets berths and a fresh hold. A group that does not fit does not block a later one
 * that does (it keeps its place). Runs inside the transaction that freed the berths.
 */
export async function promoteWaitlist(
  tx: Tx,
  runId: string,
  cls: TravelClass,
  settings: ReservationSettings,
  limit = 50,
): Promise<string[]> {
  const waiting = await tx.$queryRaw<{ id: string; from_seq: number; to_seq: number }[]>`
    SELECT r.id, r.from_seq, r.to_seq FROM booking.reservations r
    WHERE r.run_id = ${runId}::uuid AND r.class = ${cls}::booking."TravelClass" AND r.status = 'WAITLISTED'
    ORDER BY (
      SELECT min(p.waitlist_number) FROM booking.passengers p
      WHERE p.reservation_id = r.id AND p.status = 'WAITLISTED'
    )
    LIMIT ${limit}
    FOR UPDATE OF r SKIP LOCKED`;
  const promoted: string[] = [];
  for (const w of waiting) {
    const passengers = await tx.passenger.findMany({
      where: { reservationId: w.id, status: 'WAITLISTED' },
      orderBy: { position: 'asc' },
    });
    if (passengers.length === 0) continue;
    const mask = segmentMask(w.from_seq, w.to_seq);
    const seatIds = await lockFreeSeats(tx, runId, cls, mask, { exclude: [], anchor: 0, limit: passengers.length });
    if (seatIds.length < passengers.length) continue;
    const seats = await tx.seat.findMany({ where: { id: { in: seatIds } }, include: { coach: true } });
    const byId = new Map(seats.map((s) => [s.id, s]));
    for (const [i, p] of passengers.entries()) {
      const seat = byId.get(seatIds[i]!)!;
      await tx.passenger.update({
        where: { id: p.id },
        data: {
          status: 'HELD',
          seatId: seat.id,
          coachCode: seat.coach.code,
          berthNumber: seat.number,
          berthType: seat.berthType,
        },
      });
    }
    const reservation = await tx.reservation.update({
      where: { id: w.id },
      data: { status: transition('WAITLISTED', 'HELD'), holdExpiresAt: new Date(Date.now() + settings.holdTtlMs) },
    });
    await occupy(
      tx,
      runId,
      w.id,
      passengers.map((p, i) => ({ seatId: seatIds[i]!, passengerId: p.id })),
      w.from_seq,
      w.to_seq,
      mask,
    );
    await writeOutbox(tx, 'reservation.promoted', reservation, {
      userId: reservation.userId,
      holdExpiresAt: reservation.holdExpiresAt,
    });
    promoted.push(w.id);
  }
  return promoted;
}

/**
 * Promotes waitlists that could move up but were not promoted: each promotion (cancellation,
 * expired hold) sees only waitlistings committed before it, so one that committed just after the
 * berth was freed waits here for the sweeper. Finds (run, class) pairs of runs not yet departed
 * with a waitlisted journey that some berth of the class is free for; promotes each in its own
 * transaction.
 */
export async function promoteStrandedWaitlists(prisma: PrismaClient, settings: ReservationSettings): Promise<number> {
  const stranded = await prisma.$queryRaw<{ run_id: string; class: TravelClass }[]>`
    SELECT DISTINCT w.run_id, w.class
    FROM (SELECT DISTINCT run_id, class, from_seq, to_seq FROM booking.reservations WHERE status = 'WAITLISTED') w
    JOIN booking.train_runs tr ON tr.id = w.run_id
    -- Not for a run that has left its origin (a date before today in India) or was cancelled.
    WHERE tr.date >= (now() AT TIME ZONE 'Asia/Kolkata')::date AND NOT tr.cancelled
      AND EXISTS (
        SELECT 1 FROM booking.run_seats s
        WHERE s.run_id = w.run_id AND s.class = w.class
          AND (s.occupied_mask & ((1::bigint << w.to_seq) - (1::bigint << w.from_seq))) = 0)`;
  let promoted = 0;
  for (const s of stranded) {
    const ids = await prisma.$transaction((tx) => promoteWaitlist(tx, s.run_id, s.class, settings), {
      timeout: 30_000,
      maxWait: 10_000,
    });
    promoted += ids.length;
  }
  return promoted;
}
