// The allocator's decisions, pure: no database, no clock. Given a run's free berths and its
// waitlists, it decides a batch of queued requests in arrival order, each on its own:
// HELD with berths, RAC with half berths (a class's GENERAL pool only), WAITLISTED with WL
// numbers, or REFUSED with a code.
//
// First come, first served: once an earlier request of a class waits on the waitlist for a
// journey, a later request overlapping that journey is waitlisted too, even if a berth is free
// (as IRCTC does: a freed berth goes to WL 1 through promotion, not to whoever asks next).
//
// Berths and waitlists are per pool: a class's berths of one quota (GENERAL, TATKAL, ...). A
// request is served from its own quota's berths only, and waits on that quota's waitlist.
import type { BerthType, Quota, TravelClass } from '@tatkal/db';
import type { SeatInfo } from '../layout.ts';

export interface QueuedPassenger {
  id: string;
  berthPreference: BerthType | null;
  /** A specific berth asked for; every passenger of a request has one, or none has. */
  requestedSeatId: number | null;
}

/** A class's berths of one quota: what a request can be served from. */
export type Pool = `${TravelClass}|${Quota}`;
export const poolOf = (cls: TravelClass, quota: Quota): Pool => `${cls}|${quota}`;
export const splitPool = (pool: Pool) => {
  const [cls, quota] = pool.split('|') as [TravelClass, Quota];
  return { cls, quota };
};
/** How a pool is named in a refusal: the class, and its quota unless GENERAL. */
export const poolLabel = (cls: TravelClass, quota: Quota) => (quota === 'GENERAL' ? cls : `${cls} (${quota} quota)`);

export interface QueuedRequest {
  id: string;
  ticket: number;
  cls: TravelClass;
  quota: Quota;
  /** Segments of the journey (bit i = stop i -> i+1). */
  mask: bigint;
  passengers: QueuedPassenger[];
  allowWaitlist: boolean;
}

/** A berth of the run and the segments already sold on it. */
export interface RunSeat extends SeatInfo {
  quota: Quota;
  occupiedMask: bigint;
}

/** A pool's waitlist: the last WL number issued, passengers waiting, and their journeys. */
export interface ClassWaitlist {
  last: number;
  waiting: number;
  masks: bigint[];
  /** The last RAC number issued, and the journeys of RAC passengers waiting for a berth. */
  racLast: number;
  racMasks: bigint[];
}

/** Half of an RAC berth (slot 1 or 2) and the segments already given on it. */
export interface RacSlotState {
  seatId: number;
  slot: number;
  occupiedMask: bigint;
}

export type Decision =
  | { status: 'HELD'; seatIds: number[] }
  | { status: 'RAC'; slots: { seatId: number; slot: number }[]; racNumbers: number[] }
  | { status: 'WAITLISTED'; waitlistNumbers: number[] }
  | { status: 'REFUSED'; code: 'SOLD_OUT' | 'SEAT_UNAVAILABLE'; reason: string };

/**
 * Picks berths for a group in one coach's free berths (sorted by number): each passenger's
 * preferred berth type where one is left, then the lowest numbers, so a group sits together and
 * a coach fills from the front. Null if the coach has too few.
 */
export function pickSeats(free: SeatInfo[], passengers: { berthPreference?: BerthType | null }[]): SeatInfo[] | null {
  if (passengers.length === 0 || free.length < passengers.length) return null;
  const taken = new Set<number>();
  const chosen: (SeatInfo | undefined)[] = passengers.map((p) => {
    if (!p.berthPreference) return undefined;
    const seat = free.find((s) => !taken.has(s.seatId) && s.berthType === p.berthPreference);
    if (seat) taken.add(seat.seatId);
    return seat;
  });
  return chosen.map((seat) => {
    if (seat) return seat;
    const next = free.find((s) => !taken.has(s.seatId))!;
    taken.add(next.seatId);
    return next;
  });
}

/** RAC slots free for a journey, one per passenger, in berth order; null if too few. */
export function pickRacSlots(slots: RacSlotState[], mask: bigint, n: number): RacSlotState[] | null {
  const free = slots.filter((s) => (s.occupiedMask & mask) === 0n);
  return free.length >= n ? free.slice(0, n) : null;
}

/**
 * Decides `requests` (in ticket order) against `seats`, `racSlots` and `waitlists`, which it
 * updates as it goes: a berth given to one request is not free for the next.
 */
export function allocateBatch(
  requests: QueuedRequest[],
  seats: Map<number, RunSeat>,
  waitlists: Map<Pool, ClassWaitlist>,
  waitlistLimit: number,
  racSlots: Map<Pool, RacSlotState[]> = new Map(),
): Decision[] {
  // Berths by pool and coach, in coach then berth order (the layout's seat ids run that way).
  const byPool = new Map<Pool, Map<string, RunSeat[]>>();
  for (const seat of [...seats.values()].sort((a, b) => a.seatId - b.seatId)) {
    const pool = poolOf(seat.class, seat.quota);
    let coaches = byPool.get(pool);
    if (!coaches) {
      coaches = new Map();
      byPool.set(pool, coaches);
    }
    const list = coaches.get(seat.coach);
    if (list) list.push(seat);
    else coaches.set(seat.coach, [seat]);
  }
  // Journeys (pool + mask) found without a single free berth in this batch: skip the scan next time.
  const full = new Set<string>();

  return requests.map((req): Decision => {
    const n = req.passengers.length;
    const pool = poolOf(req.cls, req.quota);
    const label = poolLabel(req.cls, req.quota);
    const wl = waitlists.get(pool) ?? { last: 0, waiting: 0, masks: [], racLast: 0, racMasks: [] };
    waitlists.set(pool, wl);
    const overlaps = (m: bigint) => (m & req.mask) !== 0n;
    // Someone earlier waits for a berth on this journey (RAC or WL): a freed berth is theirs.
    const someoneWaiting = wl.masks.some(overlaps) || wl.racMasks.some(overlaps);
    const free = (s: RunSeat) => (s.occupiedMask & req.mask) === 0n;

    const waitlistOrRefuse = (): Decision => {
      if (!req.allowWaitlist)
        return {
          status: 'REFUSED',
          code: 'SOLD_OUT',
          reason: `Not enough berths are free in ${label} for this journey`,
        };
      if (wl.waiting + n > waitlistLimit)
        return {
          status: 'REFUSED',
          code: 'SOLD_OUT',
          reason: `${label} is sold out for this journey and its waitlist is full`,
        };
      const numbers = req.passengers.map((_, i) => wl.last + 1 + i);
      wl.last += n;
      wl.waiting += n;
      wl.masks.push(req.mask);
      return { status: 'WAITLISTED', waitlistNumbers: numbers };
    };
    // RAC before WL, unless someone earlier waits on the WL for this journey (they move up first).
    const racOrWaitlist = (): Decision => {
      const picked = wl.masks.some(overlaps) ? null : pickRacSlots(racSlots.get(pool) ?? [], req.mask, n);
      if (!picked) return waitlistOrRefuse();
      for (const slot of picked) slot.occupiedMask |= req.mask;
      const numbers = req.passengers.map((_, i) => wl.racLast + 1 + i);
      wl.racLast += n;
      wl.racMasks.push(req.mask);
      return { status: 'RAC', slots: picked.map((s) => ({ seatId: s.seatId, slot: s.slot })), racNumbers: numbers };
    };
    const hold = (chosen: RunSeat[]): Decision => {
      for (const seat of chosen) seat.occupiedMask |= req.mask;
      return { status: 'HELD', seatIds: chosen.map((s) => s.seatId) };
    };

    if (req.passengers[0]?.requestedSeatId != null) {
      const wanted = req.passengers.map((p) => seats.get(p.requestedSeatId!));
      if (someoneWaiting || wanted.some((s) => !s || s.class !== req.cls || s.quota !== req.quota || !free(s))) {
        return {
          status: 'REFUSED',
          code: 'SEAT_UNAVAILABLE',
          reason: 'That berth is no longer available for this journey; choose another or let us allocate one',
        };
      }
      return hold(wanted as RunSeat[]);
    }

    const journey = `${pool}|${req.mask}`;
    if (someoneWaiting || full.has(journey)) return req.allowWaitlist ? racOrWaitlist() : waitlistOrRefuse();
    const coaches = [...(byPool.get(pool)?.values() ?? [])].map((list) => list.filter(free));
    // The whole group in the first coach with room; else spread over coaches in order.
    for (const coachFree of coaches) {
      const picked = pickSeats(coachFree, req.passengers);
      if (picked) return hold(picked as RunSeat[]);
    }
    const all = coaches.flat();
    if (all.length === 0) full.add(journey);
    const picked = pickSeats(all, req.passengers);
    if (picked) return hold(picked as RunSeat[]);
    return req.allowWaitlist ? racOrWaitlist() : waitlistOrRefuse();
  });
}
