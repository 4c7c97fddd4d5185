// Promotions (transitions.ts PROMOTIONS): whenever a berth or an RAC seat is freed (a
// cancellation, an expired or failed hold, chart preparation's release of unused quota berths),
// the pool's waiting passengers move up in order: the first RAC passenger who fits gets the
// berth, the first waitlisted one the RAC seat that frees (WL -> RAC -> CNF), each passenger on
// their own (a PNR's passengers may end up split, as on IRCTC).
//
// Exactly once and in order with several booking instances: every transaction that frees
// something in a pool takes the pool's counter row lock first (lockPools), and so does the
// allocator's batch before it touches berths (allocator/waitlists.ts), so one pool's promotions
// and allocations never interleave.
import type { PrismaClient, Quota, ReservationStatus, TravelClass } from '@tatkal/db';
import { reservationEvent } from '../events.ts';
import type { Tx } from '../inventory.ts';
import { segmentMask } from '../network.ts';
import type { ReservationSettings } from '../types.ts';
import { ON_RAC, PassengerStatus, PROMOTABLE, PROMOTIONS, promotionTarget, WAITING_PASSENGERS } from './transitions.ts';

/** A pool: a class's berths of one quota (RAC berths belong to GENERAL). */
export interface PoolKey {
  cls: TravelClass;
  quota: Quota;
}

/**
 * Takes the pools' counter row locks (creating a missing row), in the order the allocator takes
 * them: call before freeing anything in a pool, so promotions see every earlier change.
 */
export async function lockPools(tx: Tx, runId: string, pools: PoolKey[]): Promise<void> {
  if (pools.length === 0) return;
  const classes = pools.map((p) => p.cls);
  const quotas = pools.map((p) => p.quota);
  await tx.$executeRaw`
    INSERT INTO booking.waitlist_counters (run_id, class, quota)
    SELECT ${runId}::uuid, c, q
    FROM unnest(${classes}::booking."TravelClass"[], ${quotas}::booking."Quota"[]) AS k(c, q)
    ON CONFLICT DO NOTHING`;
  await tx.$queryRaw`
    SELECT last FROM booking.waitlist_counters w
    JOIN unnest(${classes}::booking."TravelClass"[], ${quotas}::booking."Quota"[]) AS k(class, quota)
      ON k.class = w.class AND k.quota = w.quota
    WHERE w.run_id = ${runId}::uuid
    ORDER BY w.class, w.quota FOR UPDATE OF w`;
}

interface Waiter {
  id: string;
  reservation_id: string;
  r_status: ReservationStatus;
  status: PassengerStatus;
  pnr: string;
  user_id: string;
  from_seq: number;
  to_seq: number;
  seat_id: number | null;
  rac_slot: number | null;
}
interface Place {
  seat_id: number;
  slot: number;
  occupied_mask: bigint;
}

/** Where a passenger ends up: a berth, or an RAC half berth with its RAC number. */
interface Moved {
  waiter: Waiter;
  seatId: number;
  racSlot: number | null;
  racNumber: number | null;
}

/**
 * Promotes the waiting passengers of one pool of a run as far as what is free allows, inside the
 * caller's transaction (which must hold the pool's lock: lockPools). Returns the reservations
 * whose passengers moved.
 */
export async function promote(
  tx: Tx,
  runId: string,
  cls: TravelClass,
  quota: Quota,
  _settings?: ReservationSettings,
): Promise<string[]> {
  await lockPools(tx, runId, [{ cls, quota }]);
  const waiters = await tx.$queryRaw<Waiter[]>`
    SELECT p.id::text, p.reservation_id::text, r.status AS r_status, p.status, r.pnr, r.user_id::text,
           r.from_seq, r.to_seq, p.seat_id, p.rac_slot
    FROM booking.passengers p JOIN booking.reservations r ON r.id = p.reservation_id
    WHERE r.run_id = ${runId}::uuid AND r.class = ${cls}::booking."TravelClass" AND r.quota = ${quota}::booking."Quota"
      AND r.status = ANY(${PROMOTABLE}::booking."ReservationStatus"[])
      AND p.status = ANY(${WAITING_PASSENGERS}::booking."PassengerStatus"[])
    ORDER BY p.rac_number NULLS LAST, p.waitlist_number, p.position
    FOR UPDATE OF p`;
  if (waiters.length === 0) return [];
  // Only places free for some waiting journey can change hands.
  const masks = [...new Set(waiters.map((w) => String(segmentMask(w.from_seq, w.to_seq))))];
  const berths = await tx.$queryRaw<Place[]>`
    SELECT seat_id, 0 AS slot, occupied_mask FROM booking.run_seats
    WHERE run_id = ${runId}::uuid AND class = ${cls}::booking."TravelClass" AND quota = ${quota}::booking."Quota"
      AND NOT rac AND EXISTS (SELECT 1 FROM unnest(${masks}::bigint[]) AS m(mask) WHERE occupied_mask & m.mask = 0)
    ORDER BY seat_id FOR UPDATE`;
  // Every RAC half of the class: an RAC passenger's own half is freed when they get a berth.
  const racSlots =
    quota === 'GENERAL'
      ? await tx.$queryRaw<Place[]>`
          SELECT seat_id, slot::int, occupied_mask FROM booking.rac_slots
          WHERE run_id = ${runId}::uuid AND class = ${cls}::booking."TravelClass"
          ORDER BY seat_id, slot FOR UPDATE`
      : [];
  const counter = await tx.$queryRaw<{ last_rac: number }[]>`
    SELECT last_rac FROM booking.waitlist_counters
    WHERE run_id = ${runId}::uuid AND class = ${cls}::booking."TravelClass" AND quota = ${quota}::booking."Quota"`;
  const plan = planPromotions(waiters, berths, racSlots, counter[0]?.last_rac ?? 0);
  if (plan.moves.length === 0) return [];
  await applyPromotions(tx, runId, cls, quota, plan);
  return [...new Set(plan.moves.map((m) => m.waiter.reservation_id))];
}

/**
 * Pure: who moves where. Rounds until nothing moves: RAC passengers (then, where the pool has no
 * RAC berths, waitlisted ones) take free berths in order; waitlisted ones take free RAC halves.
 */
export function planPromotions(waiters: Waiter[], berths: Place[], racSlots: Place[], lastRac: number) {
  const state = new Map(waiters.map((w) => [w.id, { status: w.status, seatId: w.seat_id, slot: w.rac_slot }]));
  const final = new Map<string, Moved>();
  const maskOf = (w: Waiter) => segmentMask(w.from_seq, w.to_seq);
  const fits = (p: Place, mask: bigint) => (p.occupied_mask & mask) === 0n;
  let racNumber = lastRac;
  for (let moved = true; moved; ) {
    moved = false;
    for (const w of waiters) {
      const s = state.get(w.id)!;
      const mask = maskOf(w);
      const wantsBerth = s.status === ON_RAC || (s.status === PassengerStatus.WAITLISTED && racSlots.length === 0);
      if (wantsBerth) {
        const berth = berths.find((b) => fits(b, mask));
        if (!berth) continue;
        berth.occupied_mask |= mask;
        if (s.status === ON_RAC) {
          const slot = racSlots.find((r) => r.seat_id === s.seatId && r.slot === s.slot);
          if (slot) slot.occupied_mask &= ~mask;
        }
        Object.assign(s, { status: PassengerStatus.CONFIRMED, seatId: berth.seat_id, slot: null });
        final.set(w.id, { waiter: w, seatId: berth.seat_id, racSlot: null, racNumber: null });
        moved = true;
      } else if (s.status === PassengerStatus.WAITLISTED) {
        const slot = racSlots.find((r) => fits(r, mask));
        if (!slot) continue;
        slot.occupied_mask |= mask;
        Object.assign(s, { status: ON_RAC, seatId: slot.seat_id, slot: slot.slot });
        final.set(w.id, { waiter: w, seatId: slot.seat_id, racSlot: slot.slot, racNumber: ++racNumber });
        moved = true;
      }
    }
  }
  return { moves: [...final.values()], lastRac: racNumber };
}

async function applyPromotions(
  tx: Tx,
  runId: string,
  cls: TravelClass,
  quota: Quota,
  plan: ReturnType<typeof planPromotions>,
): Promise<void> {
  const { moves } = plan;
  const ids = moves.map((m) => m.waiter.id);
  // RAC halves left (by those who got berths or moved) are freed first, then the new places taken.
  await tx.$executeRaw`DELETE FROM booking.rac_occupancy WHERE passenger_id = ANY(${ids}::uuid[])`;
  const berthMoves = moves.filter((m) => m.racSlot === null);
  const racMoves = moves.filter((m) => m.racSlot !== null);
  const occupancy = (list: Moved[]) =>
    list.flatMap((m) =>
      Array.from({ length: m.waiter.to_seq - m.waiter.from_seq }, (_, k) => ({ m, segment: m.waiter.from_seq + k })),
    );
  const berthRows = occupancy(berthMoves);
  await tx.$executeRaw`
    INSERT INTO booking.seat_occupancy (run_id, seat_id, segment, passenger_id, reservation_id)
    SELECT ${runId}::uuid, t.seat_id, t.segment, t.passenger_id, t.reservation_id
    FROM unnest(${berthRows.map((x) => x.m.seatId)}::int[], ${berthRows.map((x) => x.segment)}::int[],
                ${berthRows.map((x) => x.m.waiter.id)}::uuid[],
                ${berthRows.map((x) => x.m.waiter.reservation_id)}::uuid[])
      AS t(seat_id, segment, passenger_id, reservation_id)`;
  const racRows = occupancy(racMoves);
  await tx.$executeRaw`
    INSERT INTO booking.rac_occupancy (run_id, seat_id, slot, segment, passenger_id, reservation_id)
    SELECT ${runId}::uuid, t.seat_id, t.slot, t.segment, t.passenger_id, t.reservation_id
    FROM unnest(${racRows.map((x) => x.m.seatId)}::int[], ${racRows.map((x) => x.m.racSlot!)}::smallint[],
                ${racRows.map((x) => x.segment)}::int[], ${racRows.map((x) => x.m.waiter.id)}::uuid[],
                ${racRows.map((x) => x.m.waiter.reservation_id)}::uuid[])
      AS t(seat_id, slot, segment, passenger_id, reservation_id)`;
  // Masks recomputed from the occupancy rows of every place touched (the rows are the truth).
  const seats = [...new Set(berthMoves.map((m) => m.seatId))];
  await tx.$executeRaw`
    UPDATE booking.run_seats rs SET occupied_mask = coalesce((
      SELECT bit_or(1::bigint << o.segment) FROM booking.seat_occupancy o
      WHERE o.run_id = rs.run_id AND o.seat_id = rs.seat_id), 0)
    WHERE rs.run_id = ${runId}::uuid AND rs.seat_id = ANY(${seats}::int[])`;
  const racSeats = [
    ...new Set([...moves.map((m) => m.waiter.seat_id), ...racMoves.map((m) => m.seatId)].filter((s) => s !== null)),
  ];
  await syncRacMasks(tx, runId, racSeats as number[]);
  const moved = await tx.$executeRaw`
    UPDATE booking.passengers p
    SET status = CASE WHEN d.rac_slot IS NOT NULL THEN ${PROMOTIONS.rac.to.HELD}::booking."PassengerStatus"
                      WHEN r.status = ${PROMOTABLE[0]}::booking."ReservationStatus"
                        THEN ${promotionTarget('berth', PROMOTABLE[0]!)}::booking."PassengerStatus"
                      ELSE ${promotionTarget('berth', PROMOTABLE[1]!)}::booking."PassengerStatus" END,
        seat_id = d.seat_id, coach_code = c.code, berth_number = s.number, berth_type = s.berth_type,
        rac_slot = d.rac_slot, rac_number = d.rac_number
    FROM unnest(${ids}::uuid[], ${moves.map((m) => m.seatId)}::int[], ${moves.map((m) => m.racSlot)}::smallint[],
                ${moves.map((m) => m.racNumber)}::int[]) AS d(id, seat_id, rac_slot, rac_number)
    JOIN booking.seats s ON s.id = d.seat_id JOIN booking.coaches c ON c.id = s.coach_id
    JOIN booking.passengers pp ON pp.id = d.id JOIN booking.reservations r ON r.id = pp.reservation_id
    WHERE p.id = d.id AND p.status = ANY(${[...PROMOTIONS.berth.from]}::booking."PassengerStatus"[])`;
  if (moved !== moves.length) throw new Error(`promote: ${moves.length - moved} passengers were no longer waiting`);
  await tx.$executeRaw`
    UPDATE booking.waitlist_counters SET last_rac = GREATEST(last_rac, ${plan.lastRac}::int)
    WHERE run_id = ${runId}::uuid AND class = ${cls}::booking."TravelClass" AND quota = ${quota}::booking."Quota"`;
  const byReservation = new Map<string, Moved[]>();
  for (const m of moves)
    byReservation.set(m.waiter.reservation_id, [...(byReservation.get(m.waiter.reservation_id) ?? []), m]);
  const events = [...byReservation.values()].map((list) => {
    const w = list[0]!.waiter;
    return reservationEvent(
      'reservation.promoted',
      { id: w.reservation_id, pnr: w.pnr },
      {
        userId: w.user_id,
        passengers: list.map((m) => ({
          id: m.waiter.id,
          to: m.racSlot === null ? 'BERTH' : 'RAC',
          racNumber: m.racNumber,
        })),
      },
    );
  });
  await tx.$executeRaw`
    INSERT INTO booking.outbox (id, exchange, routing_key, payload)
    SELECT gen_random_uuid(), 'booking', 'reservation.promoted', e
    FROM unnest(${events.map((e) => JSON.stringify(e))}::jsonb[]) AS e`;
}

/** RAC halves' masks recomputed from their occupancy rows. */
export async function syncRacMasks(tx: Tx, runId: string, seatIds: number[]): Promise<void> {
  if (seatIds.length === 0) return;
  await tx.$executeRaw`
    UPDATE booking.rac_slots rs SET occupied_mask = coalesce((
      SELECT bit_or(1::bigint << o.segment) FROM booking.rac_occupancy o
      WHERE o.run_id = rs.run_id AND o.seat_id = rs.seat_id AND o.slot = rs.slot), 0)
    WHERE rs.run_id = ${runId}::uuid AND rs.seat_id = ANY(${seatIds}::int[])`;
}

/**
 * Promotes pools that could move up but were not promoted (a waitlisting committed just after a
 * berth was freed): pools of runs not departed with RAC or waitlisted passengers and some berth
 * or RAC half not fully taken; each in its own transaction. The sweeper calls it.
 */
export async function promoteStranded(prisma: PrismaClient, settings: ReservationSettings): Promise<number> {
  const stranded = await prisma.$queryRaw<{ run_id: string; class: TravelClass; quota: Quota }[]>`
    SELECT DISTINCT w.run_id::text, w.class, w.quota
    FROM (
      SELECT DISTINCT r.run_id, r.class, r.quota, r.from_seq, r.to_seq, p.status
      FROM booking.reservations r JOIN booking.passengers p ON p.reservation_id = r.id
      WHERE r.status = ANY(${PROMOTABLE}::booking."ReservationStatus"[])
        AND p.status = ANY(${WAITING_PASSENGERS}::booking."PassengerStatus"[])
    ) w
    JOIN booking.train_runs tr ON tr.id = w.run_id
    -- Not for a run that has left its origin (a date before today in India) or was cancelled.
    WHERE tr.date >= (now() AT TIME ZONE 'Asia/Kolkata')::date AND NOT tr.cancelled
      AND (EXISTS (
        SELECT 1 FROM booking.run_seats s
        WHERE s.run_id = w.run_id AND s.class = w.class AND s.quota = w.quota AND NOT s.rac
          AND (s.occupied_mask & ((1::bigint << w.to_seq) - (1::bigint << w.from_seq))) = 0)
      OR (w.status <> ${ON_RAC}::booking."PassengerStatus" AND EXISTS (
        SELECT 1 FROM booking.rac_slots s
        WHERE w.quota = 'GENERAL' AND s.run_id = w.run_id AND s.class = w.class
          AND (s.occupied_mask & ((1::bigint << w.to_seq) - (1::bigint << w.from_seq))) = 0)))`;
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
