// The reservation lifecycle's tables: every move a reservation and its passengers can make, by
// name, with the statuses it may start from. The lifecycle's writes build their SQL guards from
// these (`WHERE status = ANY(<sources>)`), so a row moves only the ways written here; adding a
// status or a move starts in this file.
import { PassengerStatus, ReservationStatus } from '@tatkal/db';

export { PassengerStatus, ReservationStatus };

interface MoveRule<S extends string> {
  /** Statuses the move may start from; empty for a move that creates the row. */
  from: readonly S[];
  to: S;
}

const R = ReservationStatus;
const P = PassengerStatus;

/**
 * A reservation's moves. A reservation's status is its money: QUEUED, then HELD (the allocator's
 * answer, unpaid: berths, RAC seats or WL numbers, as on IRCTC a waitlisted ticket is bought too),
 * CONFIRMED once paid (a booked PNR, whatever its passengers' berths), CANCELLED or EXPIRED. What
 * each passenger travels on is the passenger's status (PASSENGER_MOVES, PROMOTIONS).
 */
export const RESERVATION_MOVES = {
  /** A validated request joins its run's queue (the row is created QUEUED). */
  queue: { from: [], to: R.QUEUED },
  /** The allocator gives the request berths, held until payment. */
  hold: { from: [R.QUEUED], to: R.HELD },
  /** The allocator gives the request RAC seats (berths sold out), held until payment. */
  rac: { from: [R.QUEUED], to: R.HELD },
  /** The allocator gives the request WL numbers (berths and RAC full), held until payment. */
  waitlist: { from: [R.QUEUED], to: R.HELD },
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
  /**
   * The traveller (or an admin) cancels; a queued request is withdrawn; chart preparation cancels
   * a PNR still fully waitlisted. WAITLISTED: reservations waitlisted unpaid before RAC existed.
   */
  cancel: { from: [R.QUEUED, R.HELD, R.WAITLISTED, R.CONFIRMED], to: R.CANCELLED },
} as const satisfies Record<string, MoveRule<ReservationStatus>>;

export type Move = keyof typeof RESERVATION_MOVES;

/**
 * Each passenger's side of the same moves. An expired or released hold cancels its passengers
 * (a passenger has no EXPIRED status); reacquiring gives them their berths back. Confirming pays
 * for RAC and waitlisted passengers too: they keep their status (and place) until promoted.
 */
export const PASSENGER_MOVES = {
  queue: { from: [], to: P.QUEUED },
  hold: { from: [P.QUEUED], to: P.HELD },
  rac: { from: [P.QUEUED], to: P.RAC },
  waitlist: { from: [P.QUEUED], to: P.WAITLISTED },
  refuse: { from: [P.QUEUED], to: P.REFUSED },
  confirm: { from: [P.HELD], to: P.CONFIRMED },
  reacquire: { from: [P.CANCELLED], to: P.CONFIRMED },
  release: { from: [P.HELD, P.RAC, P.WAITLISTED], to: P.CANCELLED },
  expire: { from: [P.HELD, P.RAC, P.WAITLISTED], to: P.CANCELLED },
  cancel: { from: [P.QUEUED, P.HELD, P.RAC, P.WAITLISTED, P.CONFIRMED], to: P.CANCELLED },
} as const satisfies Record<Move, MoveRule<PassengerStatus>>;

/**
 * Promotions: passengers only (their reservation keeps its status), WL -> RAC -> berth in order
 * whenever a berth or an RAC seat is freed (promote.ts). A passenger given a berth is HELD while
 * the reservation is unpaid and CONFIRMED once it is paid.
 */
export const PROMOTIONS = {
  /** An RAC passenger (or, where a class has no RAC, a waitlisted one) gets a berth. */
  berth: {
    from: [P.RAC, P.WAITLISTED],
    reservations: [R.HELD, R.CONFIRMED],
    to: { [R.HELD]: P.HELD, [R.CONFIRMED]: P.CONFIRMED },
  },
  /** A waitlisted passenger gets the RAC seat an RAC passenger left. */
  rac: { from: [P.WAITLISTED], reservations: [R.HELD, R.CONFIRMED], to: { [R.HELD]: P.RAC, [R.CONFIRMED]: P.RAC } },
} as const;

export type Promotion = keyof typeof PROMOTIONS;

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
/** Passengers in this status occupy half of an RAC berth. */
export const ON_RAC: PassengerStatus = P.RAC;
/** Passengers waiting for a berth or an RAC seat, in WL or RAC order. */
export const WAITING_PASSENGERS: readonly PassengerStatus[] = [P.RAC, P.WAITLISTED];
/** Reservations whose RAC and waitlisted passengers are promoted (unpaid holds and booked PNRs). */
export const PROMOTABLE: readonly ReservationStatus[] = PROMOTIONS.berth.reservations;
/** The passenger statuses of each promotion's target, by reservation status (for SQL CASE). */
export const promotionTarget = (promotion: Promotion, reservation: ReservationStatus): PassengerStatus =>
  (PROMOTIONS[promotion].to as Record<string, PassengerStatus>)[reservation]!;
