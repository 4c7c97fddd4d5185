// Which berths carry which quota (quotas.ts), on a sleeper class of three coaches.
import { describe, expect, it } from 'vitest';
import type { Quota } from '@tatkal/db';
import { berthTypeOf } from '../rail.ts';
import { type ClassBerth, earmark } from './quotas.ts';

const sleeper = (coaches: number, per = 72): ClassBerth[] =>
  Array.from({ length: coaches * per }, (_, i) => ({
    seatId: i + 1,
    class: 'SLEEPER',
    coachPosition: Math.floor(i / per) + 1,
    number: (i % per) + 1,
    berthType: berthTypeOf('SLEEPER', (i % per) + 1),
  }));

const count = (m: Map<number, Quota>, q: Quota) => [...m.values()].filter((v) => v === q).length;

describe('earmark', () => {
  it('gives each quota exactly its share and every other berth to GENERAL', () => {
    const berths = sleeper(3);
    const m = earmark(berths, { TATKAL: 50, PREMIUM_TATKAL: 15, LADIES: 6, LOWER_BERTH: 18 });
    expect(m.size).toBe(216);
    expect([count(m, 'TATKAL'), count(m, 'PREMIUM_TATKAL'), count(m, 'LADIES'), count(m, 'LOWER_BERTH')]).toEqual([
      50, 15, 6, 18,
    ]);
    expect(count(m, 'GENERAL')).toBe(216 - 89);
  });

  it('puts the senior quota on lower berths, spread evenly over the coaches', () => {
    const berths = sleeper(3);
    const m = earmark(berths, { LOWER_BERTH: 18 });
    const seniors = berths.filter((b) => m.get(b.seatId) === 'LOWER_BERTH');
    expect(seniors.every((b) => b.berthType === 'LB')).toBe(true);
    expect([1, 2, 3].map((c) => seniors.filter((b) => b.coachPosition === c).length)).toEqual([6, 6, 6]);
  });

  it('keeps ladies together in the middle coach and Tatkal at the back of the class', () => {
    const berths = sleeper(3);
    const m = earmark(berths, { TATKAL: 80, PREMIUM_TATKAL: 10, LADIES: 6 });
    const of = (q: Quota) => berths.filter((b) => m.get(b.seatId) === q);
    expect(new Set(of('LADIES').map((b) => b.coachPosition))).toEqual(new Set([2]));
    // Premium Tatkal takes the very last berths, Tatkal the ones before them.
    expect(of('PREMIUM_TATKAL').map((b) => b.seatId)).toEqual(Array.from({ length: 10 }, (_, i) => 207 + i));
    expect(Math.min(...of('TATKAL').map((b) => b.seatId))).toBe(216 - 90 + 1);
  });

  it('is the same for every run (a function of the layout) and never over-assigns a small class', () => {
    const berths = sleeper(1, 8);
    const a = earmark(berths, { TATKAL: 20, LOWER_BERTH: 5 });
    expect(earmark([...berths].reverse(), { TATKAL: 20, LOWER_BERTH: 5 })).toEqual(a);
    expect(count(a, 'LOWER_BERTH')).toBe(2); // a sleeper bay's lower berths: 1 and 4
    expect(count(a, 'TATKAL')).toBe(6);
    expect(count(a, 'GENERAL')).toBe(0);
  });
});
