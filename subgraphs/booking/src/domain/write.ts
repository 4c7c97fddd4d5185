// The reservation path's writes, each many requests in one statement:
// - intake: queued requests become QUEUED reservations with arrival tickets, their passengers and
//   their pending idempotency records (one autocommit statement: durable before a PNR is answered);
// - decisions: a batch's outcomes (reservations, passengers, occupancy rows, berth masks, WL
//   counters, outbox events, idempotency records, the allocator's progress), in its transaction.
import { randomUUID } from 'node:crypto';
import type { TravelClass } from '@tatkal/db';
import type { Idempotency, Stored } from '@tatkal/common';
import type { Decision, QueuedRequest } from './allocate.ts';
import { reservationEvent } from './events.ts';
import type { Tx } from './inventory.ts';
import { transition } from './status.ts';
import type { ReservationView } from './types.ts';

/** The idempotent operation whose records these statements write. */
export const OPERATION = 'reserveSeats';

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

type Sql = { $queryRaw<T = unknown>(query: TemplateStringsArray, ...values: unknown[]): Promise<T> };

/**
 * Queues `items` in one statement. Returns the ticket of each item whose idempotency key was
 * new (by reservation id); an item missing from the result met a key that another request took
 * (a retry): nothing of it was written. Tickets of a run are consecutive in `items` order.
 */
export async function insertQueued(
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
          ${r.map((v) => v.farePaise)}::int[],
          ${items.map((i) => i.allowWaitlist)}::bool[],
          ${items.map((i) => i.idempotency.key)}::text[],
          ${r.map((v) => v.createdAt)}::timestamptz[]
        ) WITH ORDINALITY
          AS t(id, pnr, user_id, run_id, from_seq, to_seq, class, fare, allow_waitlist, key, created_at, ord)
    ), idem AS (
      -- A pending record: a retry finds the reservation it made; the allocator completes it.
      ${idempotency.insertPending(
        OPERATION,
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
      INSERT INTO booking.reservations (id, pnr, user_id, run_id, from_seq, to_seq, class, status, fare_paise,
                                        created_at, updated_at, queue_ticket, allow_waitlist, idempotency_key)
      SELECT f.id, f.pnr, f.user_id::uuid, f.run_id, f.from_seq, f.to_seq, f.class::booking."TravelClass", 'QUEUED',
             f.fare, f.created_at, f.created_at, (q.last_ticket - f.in_run + f.nth)::int, f.allow_waitlist, f.key
      FROM fresh f JOIN q ON q.run_id = f.run_id
      RETURNING id, queue_ticket
    ), pas AS (
      INSERT INTO booking.passengers (id, reservation_id, position, name, age, gender, berth_preference, status,
                                      fare_paise, requested_seat_id)
      SELECT t.id, t.reservation_id, t.position, t.name, t.age, t.gender::booking."Gender", t.pref::booking."BerthType",
             'QUEUED', t.fare, t.seat
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
    SELECT id::text, queue_ticket FROM res`;
  return new Map(rows.map((row) => [row.id, row.queue_ticket]));
}

/** A queued request as the allocator reads it back, with what it needs to write the outcome. */
export interface LoadedRequest extends QueuedRequest {
  pnr: string;
  userId: string;
  fromSeq: number;
  toSeq: number;
  fromCode: string;
  toCode: string;
  farePaise: number;
  createdAt: Date;
  idempotencyKey: string | null;
  passengers: (QueuedRequest['passengers'][number] & {
    name: string;
    age: number;
    gender: string;
    farePaise: number;
  })[];
}

/** An outcome to write: the request, its decision, and the stored outcome its waiters get. */
export interface Decided {
  request: LoadedRequest;
  decision: Decision;
  /** The view a HELD or WAITLISTED request answers with (null when refused). */
  view: ReservationView | null;
  stored: Stored;
}

/** One berth of a run: where it is (for views and occupancy rows). */
export type SeatLookup = (seatId: number) => { coach: string; number: number; berthType: string };

/**
 * Writes a batch's outcomes in one statement. Every reservation must still be QUEUED (the
 * allocator holds their row locks): otherwise it throws and the transaction rolls back.
 */
export async function writeDecisions(
  tx: Tx,
  idempotency: Idempotency,
  runId: string,
  decided: Decided[],
  seat: SeatLookup,
  wlLast: Map<TravelClass, number>,
  doneTicket: number,
  holdTtlMs: number,
  now = new Date(),
) {
  const hold = new Date(now.getTime() + holdTtlMs).toISOString();
  const res = decided.map((d) => ({
    id: d.request.id,
    // Every reservation of the batch is QUEUED (the statement checks it too).
    status: transition('QUEUED', d.decision.status),
    hold: d.decision.status === 'HELD' ? hold : null,
    code: d.decision.status === 'REFUSED' ? d.decision.code : null,
  }));
  const pas = decided.flatMap((d) =>
    d.request.passengers.map((p, i) => {
      const seatId = d.decision.status === 'HELD' ? d.decision.seatIds[i]! : null;
      const at = seatId === null ? null : seat(seatId);
      return {
        id: p.id,
        status: d.decision.status,
        seatId,
        coach: at?.coach ?? null,
        berth: at?.number ?? null,
        berthType: at?.berthType ?? null,
        wl: d.decision.status === 'WAITLISTED' ? d.decision.waitlistNumbers[i]! : null,
      };
    }),
  );
  const occupancy = decided.flatMap((d) => {
    if (d.decision.status !== 'HELD') return [];
    const seatIds = d.decision.seatIds;
    return d.request.passengers.flatMap((p, i) =>
      Array.from({ length: d.request.toSeq - d.request.fromSeq }, (_, k) => ({
        seatId: seatIds[i]!,
        segment: d.request.fromSeq + k,
        passengerId: p.id,
        reservationId: d.request.id,
      })),
    );
  });
  // One mask per berth: two journeys of a batch may share a berth on different segments.
  const masks = new Map<number, bigint>();
  for (const d of decided) {
    if (d.decision.status !== 'HELD') continue;
    for (const id of d.decision.seatIds) masks.set(id, (masks.get(id) ?? 0n) | d.request.mask);
  }
  const events = decided.flatMap((d) => {
    const r = d.request;
    if (d.decision.status === 'HELD')
      return [
        {
          id: randomUUID(),
          key: 'reservation.held',
          payload: reservationEvent(
            'reservation.held',
            r,
            { userId: r.userId, farePaise: r.farePaise, holdExpiresAt: hold },
            now,
          ),
        },
      ];
    if (d.decision.status === 'WAITLISTED')
      return [
        {
          id: randomUUID(),
          key: 'reservation.waitlisted',
          payload: reservationEvent(
            'reservation.waitlisted',
            r,
            { userId: r.userId, waitlist: d.decision.waitlistNumbers },
            now,
          ),
        },
      ];
    return [];
  });
  const outcomes = decided
    .filter((d) => d.request.idempotencyKey)
    .map((d) => ({ userId: d.request.userId, key: d.request.idempotencyKey!, stored: d.stored }));
  const wl = [...wlLast.entries()];
  const rows = await tx.$queryRaw<{ decided: number }[]>`
    WITH r AS (
      UPDATE booking.reservations r
      SET status = d.status::booking."ReservationStatus", hold_expires_at = d.hold, refusal_code = d.code,
          updated_at = ${now}
      FROM unnest(
          ${res.map((x) => x.id)}::uuid[],
          ${res.map((x) => x.status)}::text[],
          ${res.map((x) => x.hold)}::timestamptz[],
          ${res.map((x) => x.code)}::text[]
        ) AS d(id, status, hold, code)
      WHERE r.id = d.id AND r.status = 'QUEUED'
      RETURNING r.id
    ), p AS (
      UPDATE booking.passengers p
      SET status = d.status::booking."PassengerStatus", seat_id = d.seat_id, coach_code = d.coach,
          berth_number = d.berth, berth_type = d.berth_type::booking."BerthType", waitlist_number = d.wl
      FROM unnest(
          ${pas.map((x) => x.id)}::uuid[],
          ${pas.map((x) => x.status)}::text[],
          ${pas.map((x) => x.seatId)}::int[],
          ${pas.map((x) => x.coach)}::text[],
          ${pas.map((x) => x.berth)}::int[],
          ${pas.map((x) => x.berthType)}::text[],
          ${pas.map((x) => x.wl)}::int[]
        ) AS d(id, status, seat_id, coach, berth, berth_type, wl)
      WHERE p.id = d.id
    ), o AS (
      INSERT INTO booking.seat_occupancy (run_id, seat_id, segment, passenger_id, reservation_id)
      SELECT ${runId}::uuid, t.seat_id, t.segment, t.passenger_id, t.reservation_id
      FROM unnest(
          ${occupancy.map((x) => x.seatId)}::int[],
          ${occupancy.map((x) => x.segment)}::int[],
          ${occupancy.map((x) => x.passengerId)}::uuid[],
          ${occupancy.map((x) => x.reservationId)}::uuid[]
        ) AS t(seat_id, segment, passenger_id, reservation_id)
    ), s AS (
      UPDATE booking.run_seats rs SET occupied_mask = rs.occupied_mask | d.mask
      FROM unnest(${[...masks.keys()]}::int[], ${[...masks.values()].map(String)}::bigint[]) AS d(seat_id, mask)
      WHERE rs.run_id = ${runId}::uuid AND rs.seat_id = d.seat_id
    ), w AS (
      INSERT INTO booking.waitlist_counters AS wc (run_id, class, last)
      SELECT ${runId}::uuid, d.class::booking."TravelClass", d.last
      FROM unnest(${wl.map(([c]) => c)}::text[], ${wl.map(([, n]) => n)}::int[]) AS d(class, last)
      ON CONFLICT (run_id, class) DO UPDATE SET last = EXCLUDED.last
    ), ob AS (
      INSERT INTO booking.outbox (id, exchange, routing_key, payload)
      SELECT d.id, 'booking', d.key, d.payload
      FROM unnest(
          ${events.map((e) => e.id)}::uuid[],
          ${events.map((e) => e.key)}::text[],
          ${events.map((e) => JSON.stringify(e.payload))}::jsonb[]
        ) AS d(id, key, payload)
    ), i AS (
      ${idempotency.completion(OPERATION, outcomes, now)}
    ), a AS (
      UPDATE booking.run_allocators SET done_ticket = GREATEST(done_ticket, ${doneTicket}::int), updated_at = ${now}
      WHERE run_id = ${runId}::uuid
    )
    SELECT count(*)::int AS decided FROM r`;
  if (rows[0]!.decided !== decided.length)
    throw new Error(`allocator: ${decided.length - rows[0]!.decided} reservations of the batch were no longer QUEUED`);
}
