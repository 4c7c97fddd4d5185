// The move `promote`: berths freed by a cancellation, an expired hold or a failed payment go to
// the waitlisted journeys of their class in WL order, held for them.
import type { PrismaClient, Quota, TravelClass } from '@tatkal/db';
import { writeOutbox } from '../events.ts';
import { lockFreeSeats, occupy, type Tx } from '../inventory.ts';
import { segmentMask } from '../network.ts';
import type { ReservationSettings } from '../types.ts';
import { passengerSources, passengerTarget, sources, target } from './transitions.ts';

/**
 * Promotes waitlisted reservations of (run, class, quota) in WL order: each whose whole group fits in
 * what is free gets berths and a fresh hold. A group that does not fit does not block a later one
 * that does (it keeps its place). Runs inside the transaction that freed the berths.
 */
export async function promote(
  tx: Tx,
  runId: string,
  cls: TravelClass,
  quota: Quota,
  settings: ReservationSettings,
  limit = 50,
): Promise<string[]> {
  const waiting = await tx.$queryRaw<{ id: string; pnr: string; user_id: string; from_seq: number; to_seq: number }[]>`
    SELECT r.id::text, r.pnr, r.user_id::text, r.from_seq, r.to_seq FROM booking.reservations r
    WHERE r.run_id = ${runId}::uuid AND r.class = ${cls}::booking."TravelClass" AND r.quota = ${quota}::booking."Quota"
      AND r.status = ANY(${sources('promote')}::booking."ReservationStatus"[])
    ORDER BY (
      SELECT min(p.waitlist_number) FROM booking.passengers p
      WHERE p.reservation_id = r.id AND p.status = ANY(${passengerSources('promote')}::booking."PassengerStatus"[])
    )
    LIMIT ${limit}
    FOR UPDATE OF r SKIP LOCKED`;
  const promoted: string[] = [];
  for (const w of waiting) {
    if (await promoteOne(tx, runId, cls, quota, w, settings)) promoted.push(w.id);
  }
  return promoted;
}

async function promoteOne(
  tx: Tx,
  runId: string,
  cls: TravelClass,
  quota: Quota,
  w: { id: string; pnr: string; user_id: string; from_seq: number; to_seq: number },
  settings: ReservationSettings,
): Promise<boolean> {
  const passengers = await tx.passenger.findMany({
    where: { reservationId: w.id, status: { in: passengerSources('promote') } },
    orderBy: { position: 'asc' },
  });
  if (passengers.length === 0) return false;
  const mask = segmentMask(w.from_seq, w.to_seq);
  const seatIds = await lockFreeSeats(tx, runId, cls, quota, mask, {
    exclude: [],
    anchor: 0,
    limit: passengers.length,
  });
  if (seatIds.length < passengers.length) return false;
  const seats = await tx.seat.findMany({ where: { id: { in: seatIds } }, include: { coach: true } });
  const byId = new Map(seats.map((s) => [s.id, s]));
  const chosen = passengers.map((p, i) => ({ passenger: p, seat: byId.get(seatIds[i]!)! }));
  const holdExpiresAt = new Date(Date.now() + settings.holdTtlMs);
  const moved = await tx.$queryRaw<{ id: string }[]>`
    WITH r AS (
      UPDATE booking.reservations
      SET status = ${target('promote')}::booking."ReservationStatus", hold_expires_at = ${holdExpiresAt},
          updated_at = now()
      WHERE id = ${w.id}::uuid AND status = ANY(${sources('promote')}::booking."ReservationStatus"[])
      RETURNING id
    ), p AS (
      UPDATE booking.passengers p
      SET status = ${passengerTarget('promote')}::booking."PassengerStatus", seat_id = d.seat_id,
          coach_code = d.coach, berth_number = d.berth, berth_type = d.berth_type::booking."BerthType"
      FROM r, unnest(
          ${chosen.map((c) => c.passenger.id)}::uuid[],
          ${chosen.map((c) => c.seat.id)}::int[],
          ${chosen.map((c) => c.seat.coach.code)}::text[],
          ${chosen.map((c) => c.seat.number)}::int[],
          ${chosen.map((c) => c.seat.berthType)}::text[]
        ) AS d(id, seat_id, coach, berth, berth_type)
      WHERE p.reservation_id = r.id AND p.id = d.id
        AND p.status = ANY(${passengerSources('promote')}::booking."PassengerStatus"[])
    )
    SELECT id::text FROM r`;
  if (moved.length === 0) return false;
  await occupy(
    tx,
    runId,
    w.id,
    chosen.map((c) => ({ seatId: c.seat.id, passengerId: c.passenger.id })),
    w.from_seq,
    w.to_seq,
    mask,
  );
  await writeOutbox(tx, 'reservation.promoted', w, { userId: w.user_id, holdExpiresAt });
  return true;
}

/**
 * Promotes waitlists that could move up but were not promoted: each promotion (cancellation,
 * expired hold) sees only waitlistings committed before it, so one that committed just after the
 * berth was freed waits here for the sweeper. Finds (run, class) pairs of runs not yet departed
 * with a waitlisted journey that some berth of the class and quota is free for; promotes each in its own
 * transaction.
 */
export async function promoteStranded(prisma: PrismaClient, settings: ReservationSettings): Promise<number> {
  const stranded = await prisma.$queryRaw<{ run_id: string; class: TravelClass; quota: Quota }[]>`
    SELECT DISTINCT w.run_id::text, w.class, w.quota
    FROM (
      SELECT DISTINCT run_id, class, quota, from_seq, to_seq FROM booking.reservations
      WHERE status = ANY(${sources('promote')}::booking."ReservationStatus"[])
    ) w
    JOIN booking.train_runs tr ON tr.id = w.run_id
    -- Not for a run that has left its origin (a date before today in India) or was cancelled.
    WHERE tr.date >= (now() AT TIME ZONE 'Asia/Kolkata')::date AND NOT tr.cancelled
      AND EXISTS (
        SELECT 1 FROM booking.run_seats s
        WHERE s.run_id = w.run_id AND s.class = w.class AND s.quota = w.quota
          AND (s.occupied_mask & ((1::bigint << w.to_seq) - (1::bigint << w.from_seq))) = 0)`;
  let promoted = 0;
  for (const s of stranded) {
    const ids = await prisma.$transaction((tx) => promote(tx, s.run_id, s.class, s.quota, settings), {
      timeout: 30_000,
      maxWait: 10_000,
    });
    promoted += ids.length;
  }
  return promoted;
}
