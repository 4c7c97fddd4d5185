import { describe, expect, it } from 'vitest';
import { addDays, formatClock, minutesOf, todayInIndia, weekdayOf } from '@tatkal/common';
import { berthTypeOf, COACH_LAYOUT } from './rail.ts';

describe('coach layouts', () => {
  it('numbers sleeper berths in bays of eight: LB MB UB LB MB UB SL SU', () => {
    expect(Array.from({ length: 9 }, (_, i) => berthTypeOf('SLEEPER', i + 1))).toEqual([
      'LB',
      'MB',
      'UB',
      'LB',
      'MB',
      'UB',
      'SL',
      'SU',
      'LB',
    ]);
    expect(berthTypeOf('THIRD_AC', 72)).toBe('SU');
  });
  it('has no middle berths in 2A and only LB/UB in 1A', () => {
    const types2A = new Set(
      Array.from({ length: COACH_LAYOUT.SECOND_AC.seats }, (_, i) => berthTypeOf('SECOND_AC', i + 1)),
    );
    expect([...types2A].sort()).toEqual(['LB', 'SL', 'SU', 'UB']);
    const types1A = new Set(
      Array.from({ length: COACH_LAYOUT.FIRST_AC.seats }, (_, i) => berthTypeOf('FIRST_AC', i + 1)),
    );
    expect([...types1A].sort()).toEqual(['LB', 'UB']);
  });
});

describe('times and dates', () => {
  it('converts timetable times across journey days', () => {
    expect(minutesOf('17:00', 1)).toBe(1020);
    expect(minutesOf('08:32', 2)).toBe(1440 + 512);
    expect(minutesOf(null, 1)).toBeNull();
    expect(formatClock(1440 + 512)).toBe('08:32');
  });
  it('computes India dates and weekdays (0 = Monday)', () => {
    expect(todayInIndia(new Date('2026-11-25T20:00:00Z'))).toBe('2026-11-26');
    expect(weekdayOf('2026-11-23')).toBe(0);
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
  });
});
