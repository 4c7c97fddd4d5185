// The move `queue`: validated requests become QUEUED reservations with arrival tickets, their
// passengers and their pending idempotency records, many requests in one autocommit statement
// (durable before a PNR is answered).
import { type Idempotency, uniqueViolation } from '@tatkal/common';
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
 * new (by reservation id); an item missing from the result met a key that another request took
 * (a retry): nothing of it was written. Tickets of a run are consecutive in `items` order. Throws
 * `PnrTaken` when a drawn PNR is taken (nothing is written).
 */
export async function queueRequests(
  db: Sql,
  idempotency: Idempotency,
  items: IntakeItem[],
): Promise<Map<string, number>> {
  const r = items.map((i) => i.view);
  const ps = items.flatMap((item) =>
    item.view.passengers.map((p, position) => ({
      p,
      position,
      reservationId: item.view.id,
      seat: item.requestedSeatIds?.[position] ?? null,
    })),
  );
  const rows = await db.$queryRaw<{ id: string; queue_ticket: number }[]>`
    WITH input AS (
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
          ${items.map((i) => i.allowWaitlist)}::bool[],
          ${items.map((i) => i.idempotency.key)}::text[],
          ${r.map((v) => v.createdAt)}::timestamptz[]
        ) WITH ORDINALITY
          AS t(id, pnr, user_id, run_id, from_seq, to_seq, class, quota, fare, allow_waitlist, key, created_at, ord)
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
    ), fresh AS (
      SELECT i.*, row_number() OVER (PARTITION BY i.run_id ORDER BY i.ord) AS nth,
             count(*) OVER (PARTITION BY i.run_id) AS in_run
      FROM input i JOIN idem ON idem.user_id = i.user_id AND idem.key = i.key
    ), q AS (
      -- Tickets under the run's queue row lock: a run's tickets are in commit order.
      INSERT INTO booking.run_queues AS rq (run_id, last_ticket)
      SELECT run_id, count(*) FROM fresh GROUP BY run_id ORDER BY run_id
      ON CONFLICT (run_id) DO UPDATE SET last_ticket = rq.last_ticket + EXCLUDED.last_ticket
      RETURNING run_id, last_ticket
    ), res AS (
      INSERT INTO booking.reservations (id, pnr, user_id, run_id, from_seq, to_seq, class, quota, status, fare_paise,
                                        created_at, updated_at, queue_ticket, allow_waitlist, idempotency_key)
      SELECT f.id, f.pnr, f.user_id::uuid, f.run_id, f.from_seq, f.to_seq, f.class::booking."TravelClass",
             f.quota::booking."Quota",
             ${target('queue')}::booking."ReservationStatus",
             f.fare, f.created_at, f.created_at, (q.last_ticket - f.in_run + f.nth)::int, f.allow_waitlist, f.key
      FROM fresh f JOIN q ON q.run_id = f.run_id
      RETURNING id, queue_ticket
    ), pas AS (
      INSERT INTO booking.passengers (id, reservation_id, position, name, age, gender, berth_preference, status,
                                      fare_paise, requested_seat_id)
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
        ) AS t(id, reservation_id, position, name, age, gender, pref, fare, seat)
      JOIN res ON res.id = t.reservation_id
    )
    SELECT id::text, queue_ticket FROM res`.catch((err: unknown) => {
    throw uniqueViolation(err) === PNR_INDEX ? new PnrTaken() : err;
  });
  return new Map(rows.map((row) => [row.id, row.queue_ticket]));
}
