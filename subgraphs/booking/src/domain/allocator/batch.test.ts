// When a batch reads RAC halves (classesNeedingRac): never skipped when the batch's requests may
// not all get berths, whichever of them refuse a waitlist.
import { describe, expect, it } from 'vitest';
import type { ClassWaitlist, Pool, QueuedRequest, RunSeat } from '../allocation/allocate.ts';
import { segmentMask } from '../network.ts';
import { classesNeedingRac } from './batch.ts';

const AD = segmentMask(0, 3);
const seatsOf = (n: number): Map<number, RunSeat> =>
  new Map(
    Array.from({ length: n }, (_, i) => [
      i + 1,
      {
        seatId: i + 1,
        coach: 'S1',
        number: i + 1,
        berthType: 'LB',
        class: 'SLEEPER',
        quota: 'GENERAL',
        occupiedMask: 0n,
      },
    ]),
  );
const request = (n: number, o: Partial<QueuedRequest> = {}) => ({
  cls: 'SLEEPER' as const,
  quota: 'GENERAL' as const,
  mask: AD,
  passengers: Array.from({ length: n }, () => ({ id: 'p', berthPreference: null, requestedSeatId: null })),
  ...o,
});

describe('classesNeedingRac', () => {
  it('berths enough for every passenger of the batch: no RAC read', () => {
    expect(classesNeedingRac([request(2), request(1)], seatsOf(3), new Map())).toEqual([]);
  });

  it('counts requests that refuse a waitlist too: they take berths before later ones', () => {
    // Seen in bench:tatkal --general: 3 free berths, a no-waitlist group of 2 and a group of 2.
    expect(classesNeedingRac([request(2, { allowWaitlist: false }), request(2)], seatsOf(3), new Map())).toEqual([
      'SLEEPER',
    ]);
  });

  it('several journeys (free berths differ per journey) or someone waiting: RAC read', () => {
    expect(classesNeedingRac([request(1), request(1, { mask: segmentMask(0, 1) })], seatsOf(10), new Map())).toEqual([
      'SLEEPER',
    ]);
    const waiting = new Map<Pool, ClassWaitlist>([
      ['SLEEPER|GENERAL', { last: 1, waiting: 1, masks: [AD], racLast: 0, racMasks: [] }],
    ]);
    expect(classesNeedingRac([request(1)], seatsOf(10), waiting)).toEqual(['SLEEPER']);
  });

  it('only GENERAL pools have RAC', () => {
    expect(classesNeedingRac([request(4, { quota: 'TATKAL' })], seatsOf(1), new Map())).toEqual([]);
  });
});
