// The move `queue`: validated requests become QUEUED reservations with arrival tickets, their
// passengers and their pending idempotency records, many requests in one autocommit statement
// (durable before a PNR is answered).
//
// The waiting room (docs/api.md): a request that joins before its quota's window opens is queued
// without a ticket, with a random draw. At the opening everyone waiting is admitted in draw order
// (a random order: arriving at 09:59:59.999 gains nothing over arriving at 09:55), ahead of
// everyone who arrives later; later arrivals are ticketed first come, first served. Admission
// happens in the first intake statement after the opening (so no later arrival can overtake) or
// in `admitWaiting` (the opening's timer, the sweeper after a crash), whichever comes first.
import { type Idempotency, uniqueViolation } from '@tatkal/common';
import { Prisma } from '@tatkal/db';
import type { ReservationView } from '../types.ts';
import { RESERVE_OPERATION } from './records.ts';
import { passengerTarget, target } from './transitions.ts';

/** What a request brings to the queue: its pending view (ids, PNR chosen here) and its key. */
export interface IntakeItem {
  view: ReservationView;
  userId: string;
  mask: bigint;
  fromSeq: number;
  toSeq: number;
  allowWaitlist: boolean;
  requestedSeatIds: number[] | null;
  idempotency: { key: string; requestHash: string };
  /** Joins the waiting room of the window opening then (no ticket until it opens), with its draw. */
  waitingRoom: { opensAt: Date; draw: number } | null;
}

/** Two random PNRs met (the reservations' unique PNR index): the caller draws another. */
export class PnrTaken extends Error {
  constructor() {
    super('a new reservation drew a PNR that is taken');
    this.name = 'PnrTaken';
  }
}
const PNR_INDEX = 'reservations_pnr_key';

type Sql = { $queryRaw<T = unknown>(query: TemplateStringsArray, ...values: unknown[]): Promise<T> };

/**
 * Queues `items` in one statement. Returns the ticket of each item whose idempotency key was
 * new (by reservation id; null for one that joined a waiting room); an item missing from the
 * result met a key that another request took (a retry): nothing of it was written. Tickets of a
 * run are consecutive in `items` order, after those of the run's waiting rooms opened by `now`
 * (admitted here first). Throws `PnrTaken` when a drawn PNR is taken (nothing is written).
 */
export async function queueRequests(
  db: Sql,
  idempotency: Idempotency,
  items: IntakeItem[],
  now: Date,
): Promise<Map<string, number | null>> {
  const rows = await db.$queryRaw<{ id: string; queue_ticket: number }[]>`
    WITH input AS (
      ${requestRows(items)}
    ), idem AS (
      -- A pending record: a retry finds the reservation it made; the allocator completes it.
      ${idempotency.insertPending(
        RESERVE_OPERATION,
        items.map((i) => ({
          userId: i.userId,
          key: i.idempotency.key,
          requestHash: i.idempotency.requestHash,
          answer: i.view,
        })),
      )}
    ), accepted AS (
      SELECT i.* FROM input i JOIN idem ON idem.user_id = i.user_id AND idem.key = i.key
    ), fresh AS (
      -- Requests ticketed now (not joining a waiting room), in arrival order per run.
      SELECT a.*, row_number() OVER (PARTITION BY a.run_id ORDER BY a.ord) AS nth,
             count(*) OVER (PARTITION BY a.run_id) AS in_run
      FROM accepted a WHERE a.opens_at IS NULL
    ), due AS (
      -- Waiting rooms of these runs whose window has opened: admitted first, in draw order.
      ${openedWaitingRooms(now, Prisma.sql`r.run_id IN (SELECT run_id FROM fresh)`)}
    ), q AS (
      -- Tickets under the run's queue row lock: a run's tickets are in commit order.
      INSERT INTO booking.run_queues AS rq (run_id, last_ticket)
      SELECT run_id, sum(n) FROM (
        SELECT run_id, count(*) AS n FROM fresh GROUP BY run_id
        UNION ALL SELECT run_id, count(*) FROM due GROUP BY run_id
      ) c GROUP BY run_id ORDER BY run_id
      ON CONFLICT (run_id) DO UPDATE SET last_ticket = rq.last_ticket + EXCLUDED.last_ticket
      RETURNING run_id, last_ticket
    ), admitted AS (
      UPDATE booking.reservations r
      SET queue_ticket = (q.last_ticket - coalesce((SELECT max(f.in_run) FROM fresh f WHERE f.run_id = d.run_id), 0)
                          - d.in_run + d.nth)::int
      FROM due d JOIN q ON q.run_id = d.run_id
      WHERE r.id = d.id AND r.queue_ticket IS NULL
    ), res AS (
      INSERT INTO booking.reservations (id, pnr, user_id, run_id, from_seq, to_seq, class, quota, status, fare_paise,
                                        fare, created_at, updated_at, queue_ticket, allow_waitlist, idempotency_key,
                                        opens_at, draw)
      SELECT a.id, a.pnr, a.user_id::uuid, a.run_id, a.from_seq, a.to_seq, a.class::booking."TravelClass",
             a.quota::booking."Quota",
             ${target('queue')}::booking."ReservationStatus",
             a.fare, a.fare_parts, a.created_at, a.created_at, (q.last_ticket - f.in_run + f.nth)::int,
             a.allow_waitlist, a.key,
             a.opens_at, a.draw
      FROM accepted a LEFT JOIN fresh f ON f.id = a.id LEFT JOIN q ON q.run_id = f.run_id
      RETURNING id, queue_ticket
    ), pas AS (
      INSERT INTO booking.passengers (id, reservation_id, position, name, age, gender, berth_preference, status,
                                      fare_paise, requested_seat_id)
      SELECT t.* FROM (${passengerRows(items)}) t
      JOIN res ON res.id = t.reservation_id
    )
    SELECT id::text, queue_ticket FROM res`.catch((err: unknown) => {
    throw uniqueViolation(err) === PNR_INDEX ? new PnrTaken() : err;
  });
  return new Map(rows.map((row) => [row.id, row.queue_ticket]));
}

/**
 * The waiting-room requests of the runs `runs` selects whose window has opened by `now`, numbered
 * in draw order within their run (`nth` of `in_run`): the order of their tickets.
 */
function openedWaitingRooms(now: Date, runs: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`
    SELECT r.id, r.run_id, row_number() OVER (PARTITION BY r.run_id ORDER BY r.draw, r.id) AS nth,
           count(*) OVER (PARTITION BY r.run_id) AS in_run
    FROM booking.reservations r
    WHERE ${runs} AND r.queue_ticket IS NULL AND r.opens_at <= ${now}
      AND r.status = ${target('queue')}::booking."ReservationStatus"`;
}

/** The requests as rows, in arrival order (`ord`). */
function requestRows(items: IntakeItem[]): Prisma.Sql {
  const r = items.map((i) => i.view);
  return Prisma.sql`
  SELECT * FROM unnest(
      ${r.map((v) => v.id)}::uuid[],
      ${r.map((v) => v.pnr)}::text[],
      ${items.map((i) => i.userId)}::text[],
      ${r.map((v) => v.runId)}::uuid[],
      ${items.map((i) => i.fromSeq)}::int[],
      ${items.map((i) => i.toSeq)}::int[],
      ${r.map((v) => v.class)}::text[],
      ${r.map((v) => v.quota)}::text[],
      ${r.map((v) => v.farePaise)}::int[],
      ${r.map((v) => (v.fare ? JSON.stringify(v.fare) : null))}::jsonb[],
      ${items.map((i) => i.allowWaitlist)}::bool[],
      ${items.map((i) => i.idempotency.key)}::text[],
      ${r.map((v) => v.createdAt)}::timestamptz[],
      ${items.map((i) => i.waitingRoom?.opensAt ?? null)}::timestamptz[],
      ${items.map((i) => i.waitingRoom?.draw ?? null)}::float8[]
    ) WITH ORDINALITY
      AS t(id, pnr, user_id, run_id, from_seq, to_seq, class, quota, fare, fare_parts, allow_waitlist, key, created_at,
           opens_at, draw, ord)`;
}

/** The requests' passengers as rows of booking.passengers, QUEUED. */
function passengerRows(items: IntakeItem[]): Prisma.Sql {
  const ps = items.flatMap((item) =>
    item.view.passengers.map((p, position) => ({
      p,
      position,
      reservationId: item.view.id,
      seat: item.requestedSeatIds?.[position] ?? null,
    })),
  );
  return Prisma.sql`
  SELECT t.id, t.reservation_id, t.position, t.name, t.age, t.gender::booking."Gender", t.pref::booking."BerthType",
         ${passengerTarget('queue')}::booking."PassengerStatus", t.fare, t.seat
  FROM unnest(
      ${ps.map((x) => x.p.id)}::uuid[],
      ${ps.map((x) => x.reservationId)}::uuid[],
      ${ps.map((x) => x.position)}::int[],
      ${ps.map((x) => x.p.name)}::text[],
      ${ps.map((x) => x.p.age)}::int[],
      ${ps.map((x) => x.p.gender)}::text[],
      ${ps.map((x) => x.p.berthPreference)}::text[],
      ${ps.map((x) => x.p.farePaise)}::int[],
      ${ps.map((x) => x.seat)}::int[]
    ) AS t(id, reservation_id, position, name, age, gender, pref, fare, seat)`;
}

/**
 * Admits the waiting rooms that have opened by `now` (of `runIds`, or of every run): tickets in
 * draw order after the run's last ticket. Idempotent; safe with an intake statement at the same
 * time (the run's queue row lock orders them). Returns the runs that got tickets.
 */
export async function admitWaiting(db: Sql, runIds: string[] | null, now: Date): Promise<string[]> {
  const rows = await db.$queryRaw<{ run_id: string }[]>`
    WITH due AS (
      ${openedWaitingRooms(now, Prisma.sql`(${runIds}::uuid[] IS NULL OR r.run_id = ANY(${runIds}::uuid[]))`)}
    ), q AS (
      INSERT INTO booking.run_queues AS rq (run_id, last_ticket)
      SELECT run_id, count(*) FROM due GROUP BY run_id ORDER BY run_id
      ON CONFLICT (run_id) DO UPDATE SET last_ticket = rq.last_ticket + EXCLUDED.last_ticket
      RETURNING run_id, last_ticket
    )
    UPDATE booking.reservations r SET queue_ticket = (q.last_ticket - d.in_run + d.nth)::int
    FROM due d JOIN q ON q.run_id = d.run_id
    WHERE r.id = d.id AND r.queue_ticket IS NULL
    RETURNING r.run_id::text`;
  return [...new Set(rows.map((r) => r.run_id))];
}
