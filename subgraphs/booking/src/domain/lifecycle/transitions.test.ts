// The lifecycle's tables (transitions.ts): each named move, its sources and target, for the
// reservation and its passengers, checked against the table written out here on its own.
import { describe, expect, it } from 'vitest';
import type { PassengerStatus, ReservationStatus } from '@tatkal/db';
import {
  assertMove,
  canMove,
  IllegalTransition,
  type Move,
  PASSENGER_MOVES,
  PROMOTABLE,
  PROMOTIONS,
  promotionTarget,
  passengerSources,
  passengerTarget,
  RESERVATION_MOVES,
  sources,
  TRANSITIONS,
  target,
} from './transitions.ts';

const ALL: ReservationStatus[] = ['QUEUED', 'REFUSED', 'HELD', 'CONFIRMED', 'WAITLISTED', 'CANCELLED', 'EXPIRED'];

// Move: [reservation sources, reservation target, passenger sources, passenger target].
const TABLE: Record<Move, [ReservationStatus[], ReservationStatus, PassengerStatus[], PassengerStatus]> = {
  queue: [[], 'QUEUED', [], 'QUEUED'],
  hold: [['QUEUED'], 'HELD', ['QUEUED'], 'HELD'],
  rac: [['QUEUED'], 'HELD', ['QUEUED'], 'RAC'],
  waitlist: [['QUEUED'], 'HELD', ['QUEUED'], 'WAITLISTED'],
  refuse: [['QUEUED'], 'REFUSED', ['QUEUED'], 'REFUSED'],
  confirm: [['HELD'], 'CONFIRMED', ['HELD'], 'CONFIRMED'],
  reacquire: [['EXPIRED'], 'CONFIRMED', ['CANCELLED'], 'CONFIRMED'],
  release: [['HELD'], 'EXPIRED', ['HELD', 'RAC', 'WAITLISTED'], 'CANCELLED'],
  expire: [['HELD'], 'EXPIRED', ['HELD', 'RAC', 'WAITLISTED'], 'CANCELLED'],
  cancel: [
    ['QUEUED', 'HELD', 'WAITLISTED', 'CONFIRMED'],
    'CANCELLED',
    ['QUEUED', 'HELD', 'RAC', 'WAITLISTED', 'CONFIRMED'],
    'CANCELLED',
  ],
};
const MOVES = Object.keys(TABLE) as Move[];

describe('reservation lifecycle tables', () => {
  it('names exactly these moves, for reservations and passengers alike', () => {
    expect(Object.keys(RESERVATION_MOVES).sort()).toEqual([...MOVES].sort());
    expect(Object.keys(PASSENGER_MOVES).sort()).toEqual([...MOVES].sort());
  });

  it.each(MOVES)('%s: its sources and target', (move) => {
    const [from, to, pFrom, pTo] = TABLE[move];
    expect(sources(move).sort()).toEqual([...from].sort());
    expect(target(move)).toBe(to);
    expect(passengerSources(move).sort()).toEqual([...pFrom].sort());
    expect(passengerTarget(move)).toBe(pTo);
  });

  const cases = MOVES.flatMap((move) => ALL.map((status) => [move, status] as [Move, ReservationStatus]));
  it.each(cases)('%s from %s: allowed exactly when the table says so', (move, status) => {
    const allowed = TABLE[move][0].includes(status);
    expect(canMove(move, status)).toBe(allowed);
    if (allowed) expect(() => assertMove(move, status)).not.toThrow();
    else expect(() => assertMove(move, status)).toThrow(IllegalTransition);
  });

  it('the status table is the union of the moves', () => {
    expect(TRANSITIONS).toEqual({
      QUEUED: ['HELD', 'REFUSED', 'CANCELLED'],
      REFUSED: [],
      HELD: ['CONFIRMED', 'EXPIRED', 'CANCELLED'],
      CONFIRMED: ['CANCELLED'],
      WAITLISTED: ['CANCELLED'],
      CANCELLED: [],
      EXPIRED: ['CONFIRMED'],
    });
  });

  it('REFUSED and CANCELLED are final; nothing goes back into the queue or from QUEUED to CONFIRMED', () => {
    for (const move of MOVES) {
      expect(canMove(move, 'REFUSED')).toBe(false);
      expect(canMove(move, 'CANCELLED')).toBe(false);
    }
    expect(MOVES.filter((m) => target(m) === 'QUEUED')).toEqual(['queue']);
    expect(TRANSITIONS.QUEUED).not.toContain('CONFIRMED');
    expect(TRANSITIONS.CONFIRMED).not.toContain('HELD');
  });

  it('promotions move passengers only, WL -> RAC -> berth, within held or booked reservations', () => {
    expect(PROMOTIONS.berth.from).toEqual(['RAC', 'WAITLISTED']);
    expect(PROMOTIONS.rac.from).toEqual(['WAITLISTED']);
    expect(promotionTarget('berth', 'HELD')).toBe('HELD');
    expect(promotionTarget('berth', 'CONFIRMED')).toBe('CONFIRMED');
    expect(promotionTarget('rac', 'CONFIRMED')).toBe('RAC');
    expect([...PROMOTABLE].sort()).toEqual(['CONFIRMED', 'HELD']);
  });
});
