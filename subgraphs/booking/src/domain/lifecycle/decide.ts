// The moves `hold`, `rac`, `waitlist` and `refuse`: the allocator's decisions on a batch of queued
// requests (reservations, passengers, occupancy rows, berth and RAC masks, WL and RAC counters, outbox events,
// idempotency records, the allocator's progress) in one statement of its transaction; and a
// request refused alone after its batch failed.
import { randomUUID } from 'node:crypto';
import type { PrismaClient } from '@tatkal/db';
import type { Idempotency, Stored } from '@tatkal/common';
import { type Decision, type Pool, type QueuedRequest, splitPool } from '../allocation/allocate.ts';
import { reservationEvent } from '../events.ts';
import type { FareBreakdown } from '../fares/index.ts';
import type { Tx } from '../inventory.ts';
import type { ReservationView } from '../types.ts';
import { RESERVE_OPERATION } from './records.ts';
import { type Move, passengerSources, passengerTarget, sources, target } from './transitions.ts';

/** The move each decision makes. */
const MOVE_OF: Record<Decision['status'], Move> = {
  HELD: 'hold',
  RAC: 'rac',
  WAITLISTED: 'waitlist',
  REFUSED: 'refuse',
};
const DECIDE_MOVES: Move[] = ['hold', 'rac', 'waitlist', 'refuse'];
const DECIDE_SOURCES = [...new Set(DECIDE_MOVES.flatMap(sources))];
const DECIDE_PASSENGER_SOURCES = [...new Set(DECIDE_MOVES.flatMap(passengerSources))];

/** A queued request as the allocator reads it back, with what it needs to write the outcome. */
export interface LoadedRequest extends QueuedRequest {
  pnr: string;
  userId: string;
  fromSeq: number;
  toSeq: number;
  fromCode: string;
  toCode: string;
  farePaise: number;
  /** One passenger's fare, part by part (null for requests queued before fares had parts). */
  fare: FareBreakdown | null;
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
  /** The view a held request (berths, RAC or WL) answers with (null when refused). */
  view: ReservationView | null;
  stored: Stored;
}

/** One berth of a run: where it is (for views and occupancy rows). */
export type SeatLookup = (seatId: number) => { coach: string; number: number; berthType: string };

/**
 * Writes a batch's outcomes in one statement. Every reservation must still be where the moves
 * start (QUEUED; the allocator holds their row locks): otherwise it throws and the transaction
 * rolls back.
 */
export async function decideBatch(
  tx: Tx,
  idempotency: Idempotency,
  runId: string,
  decided: Decided[],
  seat: SeatLookup,
  wlLast: Map<Pool, { last: number; racLast: number }>,
  doneTicket: number,
  holdTtlMs: number,
  now = new Date(),
) {
  const hold = new Date(now.getTime() + holdTtlMs).toISOString();
  const res = reservationRows(decided, hold);
  const pas = passengerRows(decided, seat);
  const occupancy = occupancyRows(decided);
  const masks = berthMasks(decided);
  const rac = racRows(decided);
  const racMasks = racSlotMasks(decided);
  const events = outboxRows(decided, hold, now);
  const outcomes = decided
    .filter((d) => d.request.idempotencyKey)
    .map((d) => ({ userId: d.request.userId, key: d.request.idempotencyKey!, stored: d.stored }));
  const wl = [...wlLast.entries()].map(([pool, w]) => ({ ...splitPool(pool), ...w }));
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
      WHERE r.id = d.id AND r.status = ANY(${DECIDE_SOURCES}::booking."ReservationStatus"[])
      RETURNING r.id
    ), p AS (
      UPDATE booking.passengers p
      SET status = d.status::booking."PassengerStatus", seat_id = d.seat_id, coach_code = d.coach,
          berth_number = d.berth, berth_type = d.berth_type::booking."BerthType", waitlist_number = d.wl,
          rac_number = d.rac, rac_slot = d.rac_slot
      FROM unnest(
          ${pas.map((x) => x.id)}::uuid[],
          ${pas.map((x) => x.status)}::text[],
          ${pas.map((x) => x.seatId)}::int[],
          ${pas.map((x) => x.coach)}::text[],
          ${pas.map((x) => x.berth)}::int[],
          ${pas.map((x) => x.berthType)}::text[],
          ${pas.map((x) => x.wl)}::int[],
          ${pas.map((x) => x.rac)}::int[],
          ${pas.map((x) => x.racSlot)}::int[]
        ) AS d(id, status, seat_id, coach, berth, berth_type, wl, rac, rac_slot)
      WHERE p.id = d.id
        AND p.status = ANY(${DECIDE_PASSENGER_SOURCES}::booking."PassengerStatus"[])
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
    ), ro AS (
      INSERT INTO booking.rac_occupancy (run_id, seat_id, slot, segment, passenger_id, reservation_id)
      SELECT ${runId}::uuid, t.seat_id, t.slot, t.segment, t.passenger_id, t.reservation_id
      FROM unnest(
          ${rac.map((x) => x.seatId)}::int[],
          ${rac.map((x) => x.slot)}::smallint[],
          ${rac.map((x) => x.segment)}::int[],
          ${rac.map((x) => x.passengerId)}::uuid[],
          ${rac.map((x) => x.reservationId)}::uuid[]
        ) AS t(seat_id, slot, segment, passenger_id, reservation_id)
    ), rm AS (
      UPDATE booking.rac_slots rs SET occupied_mask = rs.occupied_mask | d.mask
      FROM unnest(
          ${racMasks.map((x) => x.seatId)}::int[],
          ${racMasks.map((x) => x.slot)}::smallint[],
          ${racMasks.map((x) => String(x.mask))}::bigint[]
        ) AS d(seat_id, slot, mask)
      WHERE rs.run_id = ${runId}::uuid AND rs.seat_id = d.seat_id AND rs.slot = d.slot
    ), w AS (
      INSERT INTO booking.waitlist_counters AS wc (run_id, class, quota, last, last_rac)
      SELECT ${runId}::uuid, d.class::booking."TravelClass", d.quota::booking."Quota", d.last, d.last_rac
      FROM unnest(
          ${wl.map((w) => w.cls)}::text[],
          ${wl.map((w) => w.quota)}::text[],
          ${wl.map((w) => w.last)}::int[],
          ${wl.map((w) => w.racLast)}::int[]
        ) AS d(class, quota, last, last_rac)
      ON CONFLICT (run_id, class, quota) DO UPDATE SET last = EXCLUDED.last, last_rac = EXCLUDED.last_rac
    ), ob AS (
      INSERT INTO booking.outbox (id, exchange, routing_key, payload)
      SELECT d.id, 'booking', d.key, d.payload
      FROM unnest(
          ${events.map((e) => e.id)}::uuid[],
          ${events.map((e) => e.key)}::text[],
          ${events.map((e) => JSON.stringify(e.payload))}::jsonb[]
        ) AS d(id, key, payload)
    ), i AS (
      ${idempotency.completion(RESERVE_OPERATION, outcomes, now)}
    ), a AS (
      UPDATE booking.run_allocators SET done_ticket = GREATEST(done_ticket, ${doneTicket}::int), updated_at = ${now}
      WHERE run_id = ${runId}::uuid
    )
    SELECT count(*)::int AS decided FROM r`;
  if (rows[0]!.decided !== decided.length)
    throw new Error(`allocator: ${decided.length - rows[0]!.decided} reservations of the batch were no longer queued`);
}

function reservationRows(decided: Decided[], hold: string) {
  return decided.map((d) => ({
    id: d.request.id,
    status: target(MOVE_OF[d.decision.status]),
    // Berths, RAC seats and WL numbers alike are held until paid (a waitlisted ticket is bought too).
    hold: d.decision.status === 'REFUSED' ? null : hold,
    code: d.decision.status === 'REFUSED' ? d.decision.code : null,
  }));
}

function passengerRows(decided: Decided[], seat: SeatLookup) {
  return decided.flatMap((d) =>
    d.request.passengers.map((p, i) => {
      const seatId =
        d.decision.status === 'HELD'
          ? d.decision.seatIds[i]!
          : d.decision.status === 'RAC'
            ? d.decision.slots[i]!.seatId
            : null;
      const at = seatId === null ? null : seat(seatId);
      return {
        id: p.id,
        status: passengerTarget(MOVE_OF[d.decision.status]),
        seatId,
        coach: at?.coach ?? null,
        berth: at?.number ?? null,
        berthType: at?.berthType ?? null,
        wl: d.decision.status === 'WAITLISTED' ? d.decision.waitlistNumbers[i]! : null,
        rac: d.decision.status === 'RAC' ? d.decision.racNumbers[i]! : null,
        racSlot: d.decision.status === 'RAC' ? d.decision.slots[i]!.slot : null,
      };
    }),
  );
}

/** One row per held (berth, segment): the primary key that makes a double booking impossible. */
function occupancyRows(decided: Decided[]) {
  return decided.flatMap((d) => {
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
}

/** One mask per berth: two journeys of a batch may share a berth on different segments. */
function berthMasks(decided: Decided[]) {
  const masks = new Map<number, bigint>();
  for (const d of decided) {
    if (d.decision.status !== 'HELD') continue;
    for (const id of d.decision.seatIds) masks.set(id, (masks.get(id) ?? 0n) | d.request.mask);
  }
  return masks;
}

/** One row per given (RAC half berth, segment): its key and slot check keep it to two per berth. */
function racRows(decided: Decided[]) {
  return decided.flatMap((d) => {
    if (d.decision.status !== 'RAC') return [];
    const slots = d.decision.slots;
    return d.request.passengers.flatMap((p, i) =>
      Array.from({ length: d.request.toSeq - d.request.fromSeq }, (_, k) => ({
        ...slots[i]!,
        segment: d.request.fromSeq + k,
        passengerId: p.id,
        reservationId: d.request.id,
      })),
    );
  });
}

function racSlotMasks(decided: Decided[]) {
  const masks = new Map<string, { seatId: number; slot: number; mask: bigint }>();
  for (const d of decided) {
    if (d.decision.status !== 'RAC') continue;
    for (const s of d.decision.slots) {
      const key = `${s.seatId}|${s.slot}`;
      masks.set(key, { ...s, mask: (masks.get(key)?.mask ?? 0n) | d.request.mask });
    }
  }
  return [...masks.values()];
}

function outboxRows(decided: Decided[], hold: string, now: Date) {
  return decided.flatMap((d) => {
    const r = d.request;
    const event = (key: string, data: Record<string, unknown>) => ({
      id: randomUUID(),
      key,
      payload: reservationEvent(key, r, { userId: r.userId, ...data }, now),
    });
    if (d.decision.status === 'HELD')
      return [event('reservation.held', { farePaise: r.farePaise, holdExpiresAt: hold })];
    if (d.decision.status === 'RAC')
      return [event('reservation.held', { farePaise: r.farePaise, holdExpiresAt: hold, rac: d.decision.racNumbers })];
    if (d.decision.status === 'WAITLISTED')
      return [
        event('reservation.held', {
          farePaise: r.farePaise,
          holdExpiresAt: hold,
          waitlist: d.decision.waitlistNumbers,
        }),
      ];
    return [];
  });
}

/**
 * The one request whose batch could not be written, even alone: refused with `code` (its
 * passengers too) and its key forgotten, so a retry starts afresh. Null when it was no longer
 * queued (decided or withdrawn meanwhile).
 */
export async function refuseAlone(
  db: PrismaClient | Tx,
  idempotency: Idempotency,
  reservationId: string,
  code: string,
): Promise<{ userId: string } | null> {
  const rows = await db.$queryRaw<{ user_id: string; idempotency_key: string | null }[]>`
    WITH r AS (
      UPDATE booking.reservations
      SET status = ${target('refuse')}::booking."ReservationStatus", refusal_code = ${code}, updated_at = now()
      WHERE id = ${reservationId}::uuid AND status = ANY(${sources('refuse')}::booking."ReservationStatus"[])
      RETURNING id, user_id, idempotency_key
    ), p AS (
      UPDATE booking.passengers p SET status = ${passengerTarget('refuse')}::booking."PassengerStatus"
      FROM r WHERE p.reservation_id = r.id
        AND p.status = ANY(${passengerSources('refuse')}::booking."PassengerStatus"[])
    )
    SELECT user_id::text, idempotency_key FROM r`;
  const row = rows[0];
  if (!row) return null;
  if (row.idempotency_key)
    await idempotency.forget(db, RESERVE_OPERATION, [{ userId: row.user_id, key: row.idempotency_key }]);
  return { userId: row.user_id };
}
