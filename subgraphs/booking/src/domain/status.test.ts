// The reservation status transition table (status.ts): every allowed move, and the forbidden ones throw.
import { describe, expect, it } from 'vitest';
import type { ReservationStatus } from '@tatkal/db';
import { canTransition, IllegalTransition, isDecided, sourcesOf, transition, TRANSITIONS } from './status.ts';

const ALL: ReservationStatus[] = ['QUEUED', 'REFUSED', 'HELD', 'CONFIRMED', 'WAITLISTED', 'CANCELLED', 'EXPIRED'];

// The table as the reservation path documents it, written out here on its own.
const ALLOWED: [ReservationStatus, ReservationStatus][] = [
  ['QUEUED', 'HELD'],
  ['QUEUED', 'WAITLISTED'],
  ['QUEUED', 'REFUSED'],
  ['QUEUED', 'CANCELLED'],
  ['HELD', 'CONFIRMED'],
  ['HELD', 'EXPIRED'],
  ['HELD', 'CANCELLED'],
  ['WAITLISTED', 'HELD'],
  ['WAITLISTED', 'CANCELLED'],
  ['CONFIRMED', 'CANCELLED'],
  ['EXPIRED', 'CONFIRMED'],
];
const allowed = (from: ReservationStatus, to: ReservationStatus) => ALLOWED.some(([f, t]) => f === from && t === to);

describe('reservation status transitions', () => {
  it('the table covers every status and allows exactly the documented moves', () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...ALL].sort());
    const table = ALL.flatMap((from) => TRANSITIONS[from].map((to) => [from, to]));
    expect(table.sort()).toEqual([...ALLOWED].sort());
  });

  it.each(ALLOWED)('%s -> %s is allowed', (from, to) => {
    expect(canTransition(from, to)).toBe(true);
    expect(transition(from, to)).toBe(to);
  });

  const forbidden = ALL.flatMap((from) =>
    ALL.filter((to) => !allowed(from, to)).map((to) => [from, to] as [ReservationStatus, ReservationStatus]),
  );

  it.each(forbidden)('%s -> %s throws IllegalTransition', (from, to) => {
    expect(canTransition(from, to)).toBe(false);
    expect(() => transition(from, to)).toThrow(IllegalTransition);
    expect(() => transition(from, to)).toThrow(`A reservation cannot go from ${from} to ${to}`);
  });

  it('REFUSED and CANCELLED are final', () => {
    for (const to of ALL) {
      expect(() => transition('REFUSED', to)).toThrow(IllegalTransition);
      expect(() => transition('CANCELLED', to)).toThrow(IllegalTransition);
    }
  });

  it('a confirmed booking never goes back to a hold, and a queued request is never confirmed directly', () => {
    expect(() => transition('CONFIRMED', 'HELD')).toThrow(IllegalTransition);
    expect(() => transition('QUEUED', 'CONFIRMED')).toThrow(IllegalTransition);
    // Nothing goes back into the queue.
    expect(sourcesOf('QUEUED')).toEqual([]);
  });

  it('sourcesOf lists the statuses a write may move from (its WHERE clause)', () => {
    expect(sourcesOf('CANCELLED').sort()).toEqual(['CONFIRMED', 'HELD', 'QUEUED', 'WAITLISTED']);
    expect(sourcesOf('CONFIRMED').sort()).toEqual(['EXPIRED', 'HELD']);
    expect(sourcesOf('HELD').sort()).toEqual(['QUEUED', 'WAITLISTED']);
    expect(sourcesOf('REFUSED')).toEqual(['QUEUED']);
  });

  it('only QUEUED is undecided for the queue', () => {
    expect(ALL.filter((s) => !isDecided(s))).toEqual(['QUEUED']);
  });
});
