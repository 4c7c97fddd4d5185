// The allocator's pure decisions (allocate.ts): no database, no clock. Journeys are on a train of
// four stops A -> B -> C -> D (segments 0, 1, 2), the same shape as the integration fixtures.
import { describe, expect, it } from 'vitest';
import type { BerthType, Quota, TravelClass } from '@tatkal/db';
import { berthTypeOf } from '../rail.ts';
import {
  allocateBatch,
  pickSeats,
  type ClassWaitlist,
  type Decision,
  type Pool,
  type RacSlotState,
  poolOf,
  type QueuedRequest,
  type RunSeat,
} from './allocate.ts';
import type { SeatInfo } from '../layout.ts';
import { segmentMask } from '../network.ts';

const STOP = { A: 0, B: 1, C: 2, D: 3 } as const;
type Stop = keyof typeof STOP;
const journey = (from: Stop, to: Stop) => segmentMask(STOP[from], STOP[to]);
const AD = journey('A', 'D');

/**
 * Coaches S1, S2, ... of `perCoach` berths of one class; seat ids run coach by coach from
 * `firstId` (as the layout's do), berth types as the seed lays them out.
 */
function coaches(
  count: number,
  perCoach: number,
  cls: TravelClass = 'SLEEPER',
  firstId = 1,
  quota: Quota = 'GENERAL',
): Map<number, RunSeat> {
  const seats = new Map<number, RunSeat>();
  for (let c = 0; c < count; c++) {
    for (let n = 1; n <= perCoach; n++) {
      const seatId = firstId + c * perCoach + n - 1;
      seats.set(seatId, {
        seatId,
        coach: `${cls === 'SLEEPER' ? 'S' : 'B'}${c + 1}`,
        number: n,
        berthType: berthTypeOf(cls, n),
        class: cls,
        quota,
        occupiedMask: 0n,
      });
    }
  }
  return seats;
}

let nextId = 0;
interface RequestOptions {
  mask?: bigint;
  cls?: TravelClass;
  quota?: Quota;
  allowWaitlist?: boolean;
  prefs?: (BerthType | null)[];
  seats?: number[];
}
/** A queued request of `n` passengers (A -> D, SLEEPER, waitlist allowed unless told). */
function request(ticket: number, n: number, o: RequestOptions = {}): QueuedRequest {
  return {
    id: `r${++nextId}`,
    ticket,
    cls: o.cls ?? 'SLEEPER',
    quota: o.quota ?? 'GENERAL',
    mask: o.mask ?? AD,
    allowWaitlist: o.allowWaitlist ?? true,
    passengers: Array.from({ length: n }, (_, i) => ({
      id: `p${nextId}-${i}`,
      berthPreference: o.prefs?.[i] ?? null,
      requestedSeatId: o.seats?.[i] ?? null,
    })),
  };
}

const noWaitlists = () => new Map<Pool, ClassWaitlist>();
const held = (d: Decision) => {
  expect(d.status).toBe('HELD');
  return (d as Extract<Decision, { status: 'HELD' }>).seatIds;
};
const coachOf = (seats: Map<number, RunSeat>, ids: number[]) => ids.map((id) => seats.get(id)!.coach);
/** Marks these berths occupied on `mask` (sold before the batch). */
function occupy(seats: Map<number, RunSeat>, ids: number[], mask = AD) {
  for (const id of ids) seats.get(id)!.occupiedMask |= mask;
}

describe('pickSeats', () => {
  // A sleeper coach: 1 LB, 2 MB, 3 UB, 4 LB, 5 MB, 6 UB, 7 SL, 8 SU.
  const coach: SeatInfo[] = [...coaches(1, 8).values()];

  it('gives each passenger a berth of the type preferred, the others the lowest numbers left', () => {
    const picked = pickSeats(coach, [
      { berthPreference: 'UB' },
      { berthPreference: 'SL' },
      {},
      { berthPreference: 'LB' },
    ]);
    expect(picked!.map((s) => [s.number, s.berthType])).toEqual([
      [3, 'UB'],
      [7, 'SL'],
      [2, 'MB'],
      [1, 'LB'],
    ]);
  });

  it('two passengers preferring the same type get two such berths, the lowest first', () => {
    expect(pickSeats(coach, [{ berthPreference: 'LB' }, { berthPreference: 'LB' }])!.map((s) => s.number)).toEqual([
      1, 4,
    ]);
  });

  it('a preference no free berth meets falls back to the lowest number', () => {
    const withoutSideUpper = coach.filter((s) => s.berthType !== 'SU' && s.number !== 1);
    expect(
      pickSeats(withoutSideUpper, [{ berthPreference: 'SU' }, { berthPreference: null }])!.map((s) => s.number),
    ).toEqual([2, 3]);
  });

  it('without preferences a group takes the lowest numbers, in order', () => {
    expect(pickSeats(coach.slice(3), [{}, {}, {}])!.map((s) => s.number)).toEqual([4, 5, 6]);
  });

  it('is null when the coach has too few berths, or for no passengers', () => {
    expect(pickSeats(coach.slice(0, 2), [{}, {}, {}])).toBeNull();
    expect(pickSeats([], [{}])).toBeNull();
    expect(pickSeats(coach, [])).toBeNull();
  });
});

describe('allocateBatch', () => {
  it('decides in arrival order: earlier requests get the berths, the next ones wait', () => {
    const seats = coaches(1, 3);
    const decisions = allocateBatch([request(1, 2), request(2, 1), request(3, 1)], seats, noWaitlists(), 100);
    expect(held(decisions[0]!)).toEqual([1, 2]);
    expect(held(decisions[1]!)).toEqual([3]);
    expect(decisions[2]).toEqual({ status: 'WAITLISTED', waitlistNumbers: [1] });
    // The berths given are marked sold for the journey.
    expect([...seats.values()].map((s) => s.occupiedMask)).toEqual([AD, AD, AD]);
  });

  it('keeps a group in one coach when one coach has room for all of it', () => {
    const seats = coaches(2, 4);
    occupy(seats, [1, 2]); // S1 has 3 and 4 left; S2 is empty
    const [d] = allocateBatch([request(1, 3)], seats, noWaitlists(), 100);
    const ids = held(d!);
    expect(coachOf(seats, ids)).toEqual(['S2', 'S2', 'S2']);
    expect(ids).toEqual([5, 6, 7]);
  });

  it('splits a group across coaches only when no coach has room for all of it', () => {
    const seats = coaches(3, 4);
    occupy(seats, [1, 2, 5, 6, 7, 9, 10, 11]); // two left in S1, one in S2, one in S3
    const [d] = allocateBatch([request(1, 3)], seats, noWaitlists(), 100);
    const ids = held(d!);
    // The lowest free berths, coach by coach.
    expect(ids).toEqual([3, 4, 8]);
    expect(coachOf(seats, ids)).toEqual(['S1', 'S1', 'S2']);
  });

  it('sells one berth for A->C and again for C->D; B->D overlaps both and waits or is refused', () => {
    const seats = coaches(1, 1);
    const decisions = allocateBatch(
      [
        request(1, 1, { mask: journey('A', 'C') }),
        request(2, 1, { mask: journey('C', 'D') }),
        request(3, 1, { mask: journey('B', 'D'), allowWaitlist: false }),
        request(4, 1, { mask: journey('B', 'C') }),
      ],
      seats,
      noWaitlists(),
      100,
    );
    expect(held(decisions[0]!)).toEqual([1]);
    expect(held(decisions[1]!)).toEqual([1]);
    expect(decisions[2]).toMatchObject({ status: 'REFUSED', code: 'SOLD_OUT' });
    expect(decisions[3]).toEqual({ status: 'WAITLISTED', waitlistNumbers: [1] });
    expect(seats.get(1)!.occupiedMask).toBe(AD);
  });

  it('first come, first served: a later single overlapping a waiting group waits; a disjoint journey is served', () => {
    const seats = coaches(1, 3);
    const decisions = allocateBatch(
      [
        request(1, 4, { mask: journey('A', 'C') }), // does not fit in 3 berths: WL 1-4
        request(2, 1, { mask: journey('B', 'C') }), // a berth is free, but WL 1-4 came first
        request(3, 1, { mask: journey('A', 'B') }), // the same
        request(4, 1, { mask: journey('C', 'D') }), // nobody waits for C->D
      ],
      seats,
      noWaitlists(),
      100,
    );
    expect(decisions.map((d) => d.status)).toEqual(['WAITLISTED', 'WAITLISTED', 'WAITLISTED', 'HELD']);
    expect(decisions.slice(0, 3)).toEqual([
      { status: 'WAITLISTED', waitlistNumbers: [1, 2, 3, 4] },
      { status: 'WAITLISTED', waitlistNumbers: [5] },
      { status: 'WAITLISTED', waitlistNumbers: [6] },
    ]);
    expect(held(decisions[3]!)).toEqual([1]);
  });

  it('a waitlist already in the database holds back later overlapping requests of its class only', () => {
    const seats = new Map([...coaches(1, 2, 'SLEEPER'), ...coaches(1, 2, 'THIRD_AC', 3)]);
    const waitlists = new Map<Pool, ClassWaitlist>([
      ['SLEEPER|GENERAL', { last: 4, waiting: 2, masks: [journey('A', 'B')], racLast: 0, racMasks: [] }],
    ]);
    const decisions = allocateBatch(
      [
        request(1, 1, { mask: journey('A', 'C') }),
        request(2, 1, { mask: journey('C', 'D') }),
        request(3, 1, { cls: 'THIRD_AC' }),
      ],
      seats,
      waitlists,
      100,
    );
    expect(decisions[0]).toEqual({ status: 'WAITLISTED', waitlistNumbers: [5] });
    expect(held(decisions[1]!)).toEqual([1]);
    expect(held(decisions[2]!)).toEqual([3]);
  });

  it('waitlist numbers are consecutive and continue from the last one issued', () => {
    const seats = coaches(1, 1);
    occupy(seats, [1]);
    const waitlists = new Map<Pool, ClassWaitlist>([
      ['SLEEPER|GENERAL', { last: 7, waiting: 3, masks: [AD], racLast: 0, racMasks: [] }],
    ]);
    const decisions = allocateBatch([request(1, 2), request(2, 1), request(3, 3)], seats, waitlists, 100);
    expect(decisions).toEqual([
      { status: 'WAITLISTED', waitlistNumbers: [8, 9] },
      { status: 'WAITLISTED', waitlistNumbers: [10] },
      { status: 'WAITLISTED', waitlistNumbers: [11, 12, 13] },
    ]);
    expect(waitlists.get('SLEEPER|GENERAL')).toMatchObject({ last: 13, waiting: 9 });
  });

  it('past the waitlist limit a request is refused SOLD_OUT and takes no number', () => {
    const seats = coaches(1, 1);
    occupy(seats, [1]);
    const waitlists = new Map<Pool, ClassWaitlist>([
      ['SLEEPER|GENERAL', { last: 3, waiting: 3, masks: [AD], racLast: 0, racMasks: [] }],
    ]);
    const decisions = allocateBatch([request(1, 2), request(2, 1), request(3, 1)], seats, waitlists, 5);
    expect(decisions[0]).toEqual({ status: 'WAITLISTED', waitlistNumbers: [4, 5] });
    expect(decisions[1]).toMatchObject({ status: 'REFUSED', code: 'SOLD_OUT' });
    expect(decisions[2]).toMatchObject({ status: 'REFUSED', code: 'SOLD_OUT' });
    expect(waitlists.get('SLEEPER|GENERAL')).toMatchObject({ last: 5, waiting: 5 });
  });

  it('allowWaitlist false: refused SOLD_OUT when nothing fits, and when a waitlist is ahead', () => {
    const full = coaches(1, 1);
    occupy(full, [1]);
    expect(allocateBatch([request(1, 1, { allowWaitlist: false })], full, noWaitlists(), 100)[0]).toMatchObject({
      status: 'REFUSED',
      code: 'SOLD_OUT',
    });
    // A berth is free, but WL 1 waits for an overlapping journey.
    const free = coaches(1, 1);
    const waitlists = new Map<Pool, ClassWaitlist>([
      ['SLEEPER|GENERAL', { last: 1, waiting: 1, masks: [AD], racLast: 0, racMasks: [] }],
    ]);
    expect(allocateBatch([request(1, 1, { allowWaitlist: false })], free, waitlists, 100)[0]).toMatchObject({
      status: 'REFUSED',
      code: 'SOLD_OUT',
    });
    expect(free.get(1)!.occupiedMask).toBe(0n);
  });

  describe('RAC', () => {
    const racOf = (...seatIds: number[]): RacSlotState[] =>
      seatIds.flatMap((seatId) => [1, 2].map((slot) => ({ seatId, slot, occupiedMask: 0n })));

    it('berths sold: a request gets RAC halves (two per berth), then the waitlist', () => {
      const seats = coaches(1, 1);
      occupy(seats, [1]);
      const rac = new Map<Pool, RacSlotState[]>([['SLEEPER|GENERAL', racOf(70)]]);
      const waitlists = noWaitlists();
      const decisions = allocateBatch([request(1, 1), request(2, 1), request(3, 1)], seats, waitlists, 100, rac);
      expect(decisions).toEqual([
        { status: 'RAC', slots: [{ seatId: 70, slot: 1 }], racNumbers: [1] },
        { status: 'RAC', slots: [{ seatId: 70, slot: 2 }], racNumbers: [2] },
        { status: 'WAITLISTED', waitlistNumbers: [1] },
      ]);
      expect(waitlists.get('SLEEPER|GENERAL')).toMatchObject({ racLast: 2, racMasks: [AD, AD], last: 1 });
    });

    it('a group gets RAC only if every passenger has a half; halves are per segment', () => {
      const seats = coaches(1, 1);
      occupy(seats, [1]);
      const slots = racOf(70);
      slots[0]!.occupiedMask = journey('A', 'B');
      const rac = new Map<Pool, RacSlotState[]>([['SLEEPER|GENERAL', slots]]);
      const [group, later] = allocateBatch(
        [request(1, 2, { mask: journey('A', 'C') }), request(2, 1, { mask: journey('B', 'D') })],
        seats,
        noWaitlists(),
        100,
        rac,
      );
      expect(group).toEqual({ status: 'WAITLISTED', waitlistNumbers: [1, 2] });
      // B -> D overlaps the waiting A -> C journey: it waits behind it.
      expect(later).toEqual({ status: 'WAITLISTED', waitlistNumbers: [3] });
    });

    it('an RAC passenger waiting for an overlapping journey keeps a free berth from a newcomer', () => {
      const seats = coaches(1, 1);
      const waitlists = new Map<Pool, ClassWaitlist>([
        ['SLEEPER|GENERAL', { last: 0, waiting: 0, masks: [], racLast: 1, racMasks: [AD] }],
      ]);
      const rac = new Map<Pool, RacSlotState[]>([['SLEEPER|GENERAL', racOf(70)]]);
      const [d] = allocateBatch([request(1, 1)], seats, waitlists, 100, rac);
      expect(d).toEqual({ status: 'RAC', slots: [{ seatId: 70, slot: 1 }], racNumbers: [2] });
      expect(seats.get(1)!.occupiedMask).toBe(0n);
    });

    it('no RAC without allowWaitlist, and none in a quota other than GENERAL', () => {
      const seats = coaches(1, 1);
      occupy(seats, [1]);
      const rac = new Map<Pool, RacSlotState[]>([['SLEEPER|GENERAL', racOf(70)]]);
      expect(allocateBatch([request(1, 1, { allowWaitlist: false })], seats, noWaitlists(), 100, rac)[0]).toMatchObject(
        {
          status: 'REFUSED',
        },
      );
      const tatkal = coaches(1, 1, 'SLEEPER', 1, 'TATKAL');
      occupy(tatkal, [1]);
      expect(allocateBatch([request(1, 1, { quota: 'TATKAL' })], tatkal, noWaitlists(), 100, rac)[0]).toEqual({
        status: 'WAITLISTED',
        waitlistNumbers: [1],
      });
    });
  });

  describe('specific berths', () => {
    it('free berths are held as asked, in passenger order', () => {
      const seats = coaches(1, 8);
      const [d] = allocateBatch([request(1, 2, { seats: [7, 3] })], seats, noWaitlists(), 100);
      expect(held(d!)).toEqual([7, 3]);
    });

    it('a berth sold for an overlapping journey, not among free berths or of another class: SEAT_UNAVAILABLE', () => {
      const seats = new Map([...coaches(1, 4), ...coaches(1, 4, 'THIRD_AC', 5)]);
      occupy(seats, [2], journey('B', 'C'));
      const decisions = allocateBatch(
        [
          request(1, 1, { seats: [2] }),
          request(2, 2, { seats: [1, 99] }),
          request(3, 1, { seats: [5] }),
          request(4, 1, { seats: [2], mask: journey('C', 'D') }),
        ],
        seats,
        noWaitlists(),
        100,
      );
      expect(decisions.slice(0, 3).map((d) => d.status === 'REFUSED' && d.code)).toEqual([
        'SEAT_UNAVAILABLE',
        'SEAT_UNAVAILABLE',
        'SEAT_UNAVAILABLE',
      ]);
      // C->D on the same berth does not overlap B->C.
      expect(held(decisions[3]!)).toEqual([2]);
      // A refused request takes nothing, not even its free berth 1.
      expect(seats.get(1)!.occupiedMask).toBe(0n);
    });

    it('two requests for the same berth in one batch: the first wins', () => {
      const seats = coaches(1, 4);
      const decisions = allocateBatch(
        [request(1, 1, { seats: [3] }), request(2, 1, { seats: [3] })],
        seats,
        noWaitlists(),
        100,
      );
      expect(held(decisions[0]!)).toEqual([3]);
      expect(decisions[1]).toMatchObject({ status: 'REFUSED', code: 'SEAT_UNAVAILABLE' });
    });

    it('a specific berth is not given past a waitlist for an overlapping journey', () => {
      const seats = coaches(1, 4);
      const waitlists = new Map<Pool, ClassWaitlist>([
        ['SLEEPER|GENERAL', { last: 1, waiting: 1, masks: [journey('A', 'B')], racLast: 0, racMasks: [] }],
      ]);
      const decisions = allocateBatch(
        [
          request(1, 1, { seats: [1], mask: journey('A', 'C') }),
          request(2, 1, { seats: [1], mask: journey('C', 'D') }),
        ],
        seats,
        waitlists,
        100,
      );
      expect(decisions[0]).toMatchObject({ status: 'REFUSED', code: 'SEAT_UNAVAILABLE' });
      expect(held(decisions[1]!)).toEqual([1]);
    });
  });
});

// ───────────────────────── random batches ─────────────────────────

/** mulberry32: a small seeded PRNG, so a failing iteration can be replayed from its seed. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  return { next, int, pick: <T>(xs: readonly T[]) => xs[int(0, xs.length - 1)]! };
}

const JOURNEYS = (['A', 'B', 'C'] as const).flatMap((from) =>
  (['B', 'C', 'D'] as const).filter((to) => STOP[to] > STOP[from]).map((to) => journey(from, to)),
);
const PREFS: (BerthType | null)[] = [null, null, 'LB', 'MB', 'UB', 'SL', 'SU'];

function randomCase(seed: number) {
  const r = prng(seed);
  const classes: TravelClass[] = r.next() < 0.3 ? ['SLEEPER', 'THIRD_AC'] : ['SLEEPER'];
  const quotas: Quota[] = r.next() < 0.4 ? ['GENERAL', 'TATKAL'] : ['GENERAL'];
  const pools = classes.flatMap((cls) => quotas.map((quota) => ({ cls, quota })));
  let seats = new Map<number, RunSeat>();
  for (const { cls, quota } of pools)
    seats = new Map([...seats, ...coaches(r.int(1, 3), r.int(1, 8), cls, seats.size + 1, quota)]);
  // Some segments already sold.
  for (const s of seats.values()) if (r.next() < 0.3) s.occupiedMask = r.pick(JOURNEYS);
  const waitlists = new Map<Pool, ClassWaitlist>();
  for (const { cls, quota } of pools) {
    if (r.next() < 0.3) {
      const waiting = r.int(1, 6);
      waitlists.set(poolOf(cls, quota), {
        last: waiting + r.int(0, 5),
        waiting,
        masks: [r.pick(JOURNEYS)],
        racLast: 0,
        racMasks: [],
      });
    }
  }
  const limit = r.int(0, 25);
  const requests = Array.from({ length: r.int(1, 30) }, (_, i) => {
    const { cls, quota } = r.pick(pools);
    const n = r.int(1, 4);
    // Mostly berths of the request's own pool; now and then one of another quota of its class.
    const ofClass = [...seats.values()].filter((s) => s.class === cls && (s.quota === quota || r.next() < 0.1));
    const specific = r.next() < 0.15 && ofClass.length >= n;
    const chosen: number[] = [];
    while (specific && chosen.length < n) {
      // Now and then a berth of another class, or one that does not exist, to exercise the refusals.
      const id = r.next() < 0.9 ? r.pick(ofClass).seatId : r.int(1, seats.size + 3);

      if (!chosen.includes(id)) chosen.push(id);
    }
    return request(i + 1, n, {
      cls,
      quota,
      mask: r.pick(JOURNEYS),
      allowWaitlist: r.next() < 0.7,
      prefs: Array.from({ length: n }, () => r.pick(PREFS)),
      seats: specific ? chosen : undefined,
    });
  });
  return { seats, waitlists, limit, requests };
}

const copySeats = (seats: Map<number, RunSeat>) => new Map([...seats].map(([id, s]) => [id, { ...s }]));
const copyWaitlists = (w: Map<Pool, ClassWaitlist>) =>
  new Map([...w].map(([c, x]) => [c, { ...x, masks: [...x.masks] }]));

describe('quotas', () => {
  it('serves a request from its own quota only: Tatkal berths are not general berths, and the reverse', () => {
    const seats = new Map([...coaches(1, 2), ...coaches(1, 2, 'SLEEPER', 3, 'TATKAL')]);
    const decisions = allocateBatch(
      [request(1, 2), request(2, 1), request(3, 2, { quota: 'TATKAL' }), request(4, 1, { quota: 'TATKAL' })],
      seats,
      noWaitlists(),
      100,
    );
    expect(held(decisions[0]!)).toEqual([1, 2]);
    // General is full: waitlisted, though two Tatkal berths are free at that moment.
    expect(decisions[1]).toEqual({ status: 'WAITLISTED', waitlistNumbers: [1] });
    expect(held(decisions[2]!)).toEqual([3, 4]);
    // Each quota has its own waitlist: TQWL 1, not WL 2.
    expect(decisions[3]).toEqual({ status: 'WAITLISTED', waitlistNumbers: [1] });
  });

  it('refuses a specific berth of another quota, and names the quota when it is sold out', () => {
    const seats = new Map([...coaches(1, 1), ...coaches(1, 1, 'SLEEPER', 2, 'TATKAL')]);
    occupy(seats, [2]);
    const [specific, soldOut] = allocateBatch(
      [request(1, 1, { seats: [2] }), request(2, 1, { quota: 'TATKAL', allowWaitlist: false, mask: AD })],
      seats,
      noWaitlists(),
      100,
    );
    expect(specific).toMatchObject({ status: 'REFUSED', code: 'SEAT_UNAVAILABLE' });
    expect(soldOut).toMatchObject({ status: 'REFUSED', code: 'SOLD_OUT' });
    expect((soldOut as { reason: string }).reason).toContain('SLEEPER (TATKAL quota)');
  });
});

describe('allocateBatch on random batches', () => {
  it('never sells a berth segment twice, never serves a later request before an earlier one it could not serve', () => {
    let inversions = 0;
    let held = 0;
    let waitlisted = 0;
    let refused = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const { seats, waitlists, limit, requests } = randomCase(seed);
      const before = copySeats(seats);
      const wlBefore = copyWaitlists(waitlists);
      const decisions = allocateBatch(requests, seats, waitlists, limit);
      const where = `seed ${seed}`;
      expect(decisions, where).toHaveLength(requests.length);

      // Every berth segment is sold at most once: against what was sold before and within the batch.
      const sold = new Map<number, bigint>([...before].map(([id, s]) => [id, s.occupiedMask]));
      decisions.forEach((d, i) => {
        const req = requests[i]!;
        if (d.status !== 'HELD') return;
        held++;
        expect(d.seatIds, where).toHaveLength(req.passengers.length);
        expect(new Set(d.seatIds).size, where).toBe(d.seatIds.length);
        if (req.passengers[0]!.requestedSeatId !== null)
          expect(d.seatIds, where).toEqual(req.passengers.map((p) => p.requestedSeatId));
        for (const id of d.seatIds) {
          const seat = before.get(id);
          expect(seat?.class, `${where}: berth ${id} of request ${i}`).toBe(req.cls);
          expect(seat?.quota, `${where}: berth ${id} of request ${i}`).toBe(req.quota);
          expect(sold.get(id)! & req.mask, `${where}: berth ${id} segment sold twice (request ${i})`).toBe(0n);
          sold.set(id, sold.get(id)! | req.mask);
        }
      });
      // The map the caller writes back says exactly that.
      for (const [id, s] of seats) expect(s.occupiedMask, `${where}: berth ${id}`).toBe(sold.get(id));

      // Waitlist numbers: consecutive per pool (class and quota) in arrival order, continuing from the
      // last one; never past the limit.
      const nextNumber = new Map([...wlBefore].map(([c, w]) => [c, w.last + 1]));
      const waiting = new Map([...wlBefore].map(([c, w]) => [c, w.waiting]));
      decisions.forEach((d, i) => {
        const req = requests[i]!;
        const pool = poolOf(req.cls, req.quota);
        if (d.status === 'WAITLISTED') {
          waitlisted++;
          const first = nextNumber.get(pool) ?? 1;
          expect(d.waitlistNumbers, where).toEqual(req.passengers.map((_, k) => first + k));
          nextNumber.set(pool, first + req.passengers.length);
          waiting.set(pool, (waiting.get(pool) ?? 0) + req.passengers.length);
          expect(req.allowWaitlist, where).toBe(true);
          expect(waiting.get(pool)!, where).toBeLessThanOrEqual(limit);
        } else if (d.status === 'REFUSED') {
          refused++;
          if (d.code === 'SEAT_UNAVAILABLE') expect(req.passengers[0]!.requestedSeatId, where).not.toBeNull();
        }
      });
      for (const [cls, w] of waitlists) expect(w.last, `${where}: ${cls}`).toBe((nextNumber.get(cls) ?? 1) - 1);

      // FIFO: an earlier request (any berth, same class, group no larger) is not left waiting while a
      // later overlapping journey is served, nor refused while a later journey covering its own is
      // served: berths are never freed within a batch, so whatever the later one got the earlier could have had.
      for (let j = 0; j < requests.length; j++) {
        if (decisions[j]!.status !== 'HELD') continue;
        const later = requests[j]!;
        for (let i = 0; i < j; i++) {
          const earlier = requests[i]!;
          if (
            earlier.cls !== later.cls ||
            earlier.quota !== later.quota ||
            earlier.passengers.length > later.passengers.length ||
            earlier.passengers[0]!.requestedSeatId !== null
          )
            continue;
          const d = decisions[i]!;
          const inverted =
            (d.status === 'WAITLISTED' && (earlier.mask & later.mask) !== 0n) ||
            (d.status === 'REFUSED' && (earlier.mask & ~later.mask) === 0n);
          if (inverted) {
            inversions++;
            expect.fail(`${where}: request ${i} ${d.status} while later request ${j} HELD`);
          }
        }
      }
    }
    expect(inversions).toBe(0);
    // The random cases exercise every outcome.
    expect(held).toBeGreaterThan(500);
    expect(waitlisted).toBeGreaterThan(200);
    expect(refused).toBeGreaterThan(200);
  });

  it('with RAC: never gives a half berth segment twice, numbers RAC in order, keeps FIFO (WL -> RAC -> berth)', () => {
    const outcomes = { HELD: 0, RAC: 0, WAITLISTED: 0, REFUSED: 0 };
    for (let seed = 1; seed <= 400; seed++) {
      const { seats, waitlists, limit, requests, racSlots } = randomRacCase(seed);
      const slotsBefore = new Map([...racSlots].map(([pool, xs]) => [pool, xs.map((x) => ({ ...x }))]));
      const racLastBefore = new Map([...waitlists].map(([pool, w]) => [pool, w.racLast]));
      const decisions = allocateBatch(requests, seats, waitlists, limit, racSlots);
      const where = `seed ${seed}`;
      expect(decisions, where).toHaveLength(requests.length);

      // Every half berth segment is given at most once: against what was given before and within the batch.
      const given = new Map<string, bigint>();
      for (const [pool, xs] of slotsBefore)
        for (const x of xs) given.set(`${pool}|${x.seatId}|${x.slot}`, x.occupiedMask);
      const nextRac = new Map<Pool, number>();
      decisions.forEach((d, i) => {
        outcomes[d.status]++;
        if (d.status !== 'RAC') return;
        const req = requests[i]!;
        const pool = poolOf(req.cls, req.quota);
        // RAC only for a request that accepts waiting (RAC belongs to GENERAL: only its pools have halves).
        expect(req.allowWaitlist, where).toBe(true);
        expect(req.passengers[0]!.requestedSeatId, where).toBeNull();
        expect(d.slots, where).toHaveLength(req.passengers.length);
        expect(new Set(d.slots.map((x) => `${x.seatId}|${x.slot}`)).size, where).toBe(d.slots.length);
        for (const x of d.slots) {
          const key = `${pool}|${x.seatId}|${x.slot}`;
          expect(given.has(key), `${where}: half ${key} of request ${i} is not one of its pool's`).toBe(true);
          expect(given.get(key)! & req.mask, `${where}: half ${key} segment given twice (request ${i})`).toBe(0n);
          given.set(key, given.get(key)! | req.mask);
        }
        // RAC numbers: consecutive per pool in arrival order, continuing from the last one.
        const first = nextRac.get(pool) ?? (racLastBefore.get(pool) ?? 0) + 1;
        expect(d.racNumbers, where).toEqual(req.passengers.map((_, k) => first + k));
        nextRac.set(pool, first + req.passengers.length);
      });
      // The slot states the caller writes back say exactly that.
      for (const [pool, xs] of racSlots)
        for (const x of xs)
          expect(x.occupiedMask, `${where}: ${pool} ${x.seatId}/${x.slot}`).toBe(
            given.get(`${pool}|${x.seatId}|${x.slot}`),
          );
      for (const [pool, next] of nextRac) expect(waitlists.get(pool)!.racLast, where).toBe(next - 1);

      // FIFO with RAC: an earlier request (same pool, group no larger, any berth) left on RAC or the WL is
      // never behind a later overlapping journey given berths, nor left on the WL behind a later
      // overlapping journey given RAC.
      for (let j = 0; j < requests.length; j++) {
        const dj = decisions[j]!;
        if (dj.status !== 'HELD' && dj.status !== 'RAC') continue;
        const later = requests[j]!;
        for (let i = 0; i < j; i++) {
          const earlier = requests[i]!;
          if (
            earlier.cls !== later.cls ||
            earlier.quota !== later.quota ||
            earlier.passengers.length > later.passengers.length ||
            earlier.passengers[0]!.requestedSeatId !== null ||
            (earlier.mask & later.mask) === 0n
          )
            continue;
          const di = decisions[i]!.status;
          const inverted = dj.status === 'HELD' ? di === 'RAC' || di === 'WAITLISTED' : di === 'WAITLISTED';
          if (inverted) expect.fail(`${where}: request ${i} ${di} while later request ${j} ${dj.status}`);
        }
      }
    }
    // The random cases exercise every outcome, RAC included.
    expect(outcomes.HELD).toBeGreaterThan(500);
    expect(outcomes.RAC).toBeGreaterThan(200);
    expect(outcomes.WAITLISTED).toBeGreaterThan(100);
    expect(outcomes.REFUSED).toBeGreaterThan(100);
  });
});

/** randomCase with RAC halves (1-3 RAC berths, some segments given) in its GENERAL pools, some already waiting. */
function randomRacCase(seed: number) {
  const c = randomCase(seed);
  const r = prng(seed + 100_000);
  const racSlots = new Map<Pool, RacSlotState[]>();
  const pools = [...new Set(c.requests.map((q) => poolOf(q.cls, q.quota)))].filter((p) => p.endsWith('|GENERAL'));
  pools.forEach((pool, k) => {
    if (r.next() < 0.2) return;
    const berths = r.int(1, 3);
    // RAC berths' seat ids apart from the berths' (the layout's RAC berths are seats of their own).
    racSlots.set(
      pool,
      Array.from({ length: berths }, (_, b) => 10_000 + 10 * k + b).flatMap((seatId) =>
        [1, 2].map((slot) => ({ seatId, slot, occupiedMask: r.next() < 0.3 ? r.pick(JOURNEYS) : 0n })),
      ),
    );
    const wl = c.waitlists.get(pool);
    if (wl && r.next() < 0.5) Object.assign(wl, { racLast: r.int(1, 4), racMasks: [r.pick(JOURNEYS)] });
  });
  return { ...c, racSlots };
}
