// The one table of reservation status transitions. Every write that changes a reservation's
// status names its transition here (`transition`, or `sqlFrom` for a WHERE clause), so a status
// can only move the ways this table allows.
import type { ReservationStatus } from '@tatkal/db';

export const TRANSITIONS: Readonly<Record<ReservationStatus, readonly ReservationStatus[]>> = {
  // The allocator decides a queued request; its owner may withdraw it before that.
  QUEUED: ['HELD', 'WAITLISTED', 'REFUSED', 'CANCELLED'],
  // Paid, unpaid past the hold, released by a failed payment (EXPIRED) or cancelled.
  HELD: ['CONFIRMED', 'EXPIRED', 'CANCELLED'],
  // Promotion gives berths and a fresh hold.
  WAITLISTED: ['HELD', 'CANCELLED'],
  CONFIRMED: ['CANCELLED'],
  // A payment that arrives after its hold expired gets the same berths back if they are free.
  EXPIRED: ['CONFIRMED'],
  REFUSED: [],
  CANCELLED: [],
};

export class IllegalTransition extends Error {
  constructor(from: ReservationStatus, to: ReservationStatus) {
    super(`A reservation cannot go from ${from} to ${to}`);
    this.name = 'IllegalTransition';
  }
}

export function canTransition(from: ReservationStatus, to: ReservationStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Returns `to`, or throws when the table does not allow the move. */
export function transition(from: ReservationStatus, to: ReservationStatus): ReservationStatus {
  if (!canTransition(from, to)) throw new IllegalTransition(from, to);
  return to;
}

/** The statuses a reservation may be in to move to `to`: for `WHERE status = ANY(...)` in SQL writes. */
export function sourcesOf(to: ReservationStatus): ReservationStatus[] {
  return (Object.keys(TRANSITIONS) as ReservationStatus[]).filter((from) => TRANSITIONS[from].includes(to));
}

/** Final for the queue: the request has its outcome (whatever happens to the booking later). */
export const isDecided = (status: ReservationStatus) => status !== 'QUEUED';
