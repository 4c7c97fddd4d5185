// Reads that select reservations by where they are in the lifecycle, named for what they find.
import type { PrismaClient, Quota, TravelClass } from '@tatkal/db';
import type { Tx } from '../inventory.ts';
import { ON_RAC, PassengerStatus, PROMOTABLE, sources, WAITING_PASSENGERS } from './transitions.ts';

/** Statuses of a request still waiting for the allocator's decision. */
const QUEUED = sources('hold');

/** The next queued requests of a run, in ticket order (their ids). */
export async function queuedIds(db: PrismaClient | Tx, runId: string, limit: number): Promise<string[]> {
  const rows = await db.$queryRaw<{ id: string }[]>`
    SELECT id::text FROM booking.reservations
    WHERE run_id = ${runId}::uuid AND status = ANY(${QUEUED}::booking."ReservationStatus"[])
      AND queue_ticket IS NOT NULL
    ORDER BY queue_ticket LIMIT ${limit}`;
  return rows.map((r) => r.id);
}

/** Runs with queued requests (after a crash or a lost kick). */
export async function runsWithQueued(db: PrismaClient): Promise<string[]> {
  const rows = await db.$queryRaw<{ run_id: string }[]>`
    SELECT DISTINCT run_id::text FROM booking.reservations
    WHERE status = ANY(${QUEUED}::booking."ReservationStatus"[])`;
  return rows.map((r) => r.run_id);
}

/** RAC and waitlisted journeys of these pools on a run: how many passengers wait on each (from, to). */
export function waitingJourneys(tx: Tx, runId: string, pools: { cls: TravelClass; quota: Quota }[]) {
  return tx.$queryRaw<
    { class: TravelClass; quota: Quota; from_seq: number; to_seq: number; rac: boolean; n: number }[]
  >`
    SELECT r.class, r.quota, r.from_seq, r.to_seq, p.status = ${ON_RAC}::booking."PassengerStatus" AS rac,
           count(*)::int AS n
    FROM booking.reservations r
    JOIN unnest(${pools.map((p) => p.cls)}::booking."TravelClass"[], ${pools.map((p) => p.quota)}::booking."Quota"[])
      AS k(class, quota) ON k.class = r.class AND k.quota = r.quota
    JOIN booking.passengers p
      ON p.reservation_id = r.id AND p.status = ANY(${WAITING_PASSENGERS}::booking."PassengerStatus"[])
    WHERE r.run_id = ${runId}::uuid AND r.status = ANY(${PROMOTABLE}::booking."ReservationStatus"[])
    GROUP BY 1, 2, 3, 4, 5`;
}

/** RAC and waitlisted passengers per class and quota of each run (availability's RAC and WL counts). */
export function waitlistedByRun(db: PrismaClient, runIds: readonly string[]) {
  return db.$queryRaw<{ run_id: string; class: TravelClass; quota: Quota; rac: bigint; wl: bigint }[]>`
    SELECT r.run_id::text AS run_id, r.class, r.quota,
           count(*) FILTER (WHERE p.status = ${ON_RAC}::booking."PassengerStatus")::bigint AS rac,
           count(*) FILTER (WHERE p.status = ${PassengerStatus.WAITLISTED}::booking."PassengerStatus")::bigint AS wl
    FROM booking.passengers p JOIN booking.reservations r ON r.id = p.reservation_id
    WHERE p.status = ANY(${WAITING_PASSENGERS}::booking."PassengerStatus"[]) AND r.run_id = ANY(${[...runIds]}::uuid[])
      AND r.status = ANY(${PROMOTABLE}::booking."ReservationStatus"[])
    GROUP BY r.run_id, r.class, r.quota`;
}
