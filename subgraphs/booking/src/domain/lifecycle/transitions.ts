// The reservation lifecycle's tables: every move a reservation and its passengers can make, by
// name, with the statuses it may start from. The lifecycle's writes build their SQL guards from
// these (`WHERE status = ANY(<sources>)`), so a row moves only the ways written here; adding a
// status (RAC) or a move (chart preparation) starts in this file.
import { PassengerStatus, ReservationStatus } from '@tatkal/db';

export { PassengerStatus, ReservationStatus };

interface MoveRule<S extends string> {
  /** Statuses the move may start from; empty for a move that creates the row. */
  from: readonly S[];
  to: S;
}

const R = ReservationStatus;
const P = PassengerStatus;

/** A reservation's moves. */
export const RESERVATION_MOVES = {
  /** A validated request joins its run's queue (the row is created QUEUED). */
  queue: { from: [], to: R.QUEUED },
  /** The allocator gives the request berths, held until payment. */
  hold: { from: [R.QUEUED], to: R.HELD },
  /** The allocator puts the request on the waitlist. */
  waitlist: { from: [R.QUEUED], to: R.WAITLISTED },
  /** The allocator cannot serve it (sold out, berth taken, waitlist full) or it failed alone. */
  refuse: { from: [R.QUEUED], to: R.REFUSED },
  /** Payment succeeded within the hold. */
  confirm: { from: [R.HELD], to: R.CONFIRMED },
  /** Payment succeeded after the hold expired and its berths were still free. */
  reacquire: { from: [R.EXPIRED], to: R.CONFIRMED },
  /** Payment failed: the hold ends at once. */
  release: { from: [R.HELD], to: R.EXPIRED },
  /** The hold's time ran out unpaid. */
  expire: { from: [R.HELD], to: R.EXPIRED },
  /** The traveller (or an admin) cancels; a queued request is withdrawn. */
  cancel: { from: [R.QUEUED, R.HELD, R.WAITLISTED, R.CONFIRMED], to: R.CANCELLED },
  /** Berths freed for a waitlisted request: they are held for it. */
  promote: { from: [R.WAITLISTED], to: R.HELD },
} as const satisfies Record<string, MoveRule<ReservationStatus>>;

export type Move = keyof typeof RESERVATION_MOVES;

/**
 * Each passenger's side of the same moves. An expired or released hold cancels its passengers
 * (a passenger has no EXPIRED status); reacquiring gives them their berths back.
 */
export const PASSENGER_MOVES = {
  queue: { from: [], to: P.QUEUED },
  hold: { from: [P.QUEUED], to: P.HELD },
  waitlist: { from: [P.QUEUED], to: P.WAITLISTED },
  refuse: { from: [P.QUEUED], to: P.REFUSED },
  confirm: { from: [P.HELD], to: P.CONFIRMED },
  reacquire: { from: [P.CANCELLED], to: P.CONFIRMED },
  release: { from: [P.HELD], to: P.CANCELLED },
  expire: { from: [P.HELD], to: P.CANCELLED },
  cancel: { from: [P.QUEUED, P.HELD, P.WAITLISTED, P.CONFIRMED], to: P.CANCELLED },
  promote: { from: [P.WAITLISTED], to: P.HELD },
} as const satisfies Record<Move, MoveRule<PassengerStatus>>;

/** Every status a reservation may go to from each status: the union of the moves. */
export const TRANSITIONS: Readonly<Record<ReservationStatus, readonly ReservationStatus[]>> = Object.fromEntries(
  Object.values(R).map((from) => [
    from,
    [
      ...new Set(
        Object.values(RESERVATION_MOVES).flatMap((m) => ((m.from as readonly string[]).includes(from) ? [m.to] : [])),
      ),
    ],
  ]),
) as Record<ReservationStatus, ReservationStatus[]>;

export class IllegalTransition extends Error {
  constructor(move: Move, from: string) {
    super(`A ${from} reservation cannot ${move}`);
    this.name = 'IllegalTransition';
  }
}

/** The statuses a reservation may be in for `move` (for `status = ANY(...)` guards). */
export const sources = (move: Move): ReservationStatus[] => [...RESERVATION_MOVES[move].from];
/** The statuses a passenger may be in for `move`. */
export const passengerSources = (move: Move): PassengerStatus[] => [...PASSENGER_MOVES[move].from];
export const target = (move: Move): ReservationStatus => RESERVATION_MOVES[move].to;
export const passengerTarget = (move: Move): PassengerStatus => PASSENGER_MOVES[move].to;

/** True when a reservation in `status` may make `move`. */
export const canMove = (move: Move, status: ReservationStatus): boolean =>
  (RESERVATION_MOVES[move].from as readonly ReservationStatus[]).includes(status);

/** Throws unless a reservation in `status` may make `move`. */
export function assertMove(move: Move, status: ReservationStatus): void {
  if (!canMove(move, status)) throw new IllegalTransition(move, status.toLowerCase());
}

/** Passengers in these statuses occupy a berth. */
export const SEATED: readonly PassengerStatus[] = [P.HELD, P.CONFIRMED];
