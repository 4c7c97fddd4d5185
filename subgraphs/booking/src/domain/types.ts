// The reservation path's shared shapes: settings, the client's input, the validated request and
// the view a client gets (plain JSON, so an idempotent replay is byte-identical).
import type { BerthType, Gender, Quota, TrainRun, TravelClass } from '@tatkal/db';
import type { FareBreakdown } from './fares/index.ts';
import type { TrainLayout } from './layout.ts';
import type { StopWithStation } from './network.ts';
import { RAILWAYS_OPENING_TIMES, type OpeningTimes } from './tatkal/windows.ts';

export interface ReservationSettings {
  holdTtlMs: number;
  bookingWindowDays: number;
  /** When the windows open on their day (tatkal/windows.ts): TATKAL_OPENS_AC, TATKAL_OPENS_NON_AC, GENERAL_OPENS. */
  openingTimes: OpeningTimes;
  /** Prisma interactive transaction bounds; exceeding them gives TRY_AGAIN. */
  txMaxWaitMs: number;
  txTimeoutMs: number;
  /** How long reserveSeats waits for its outcome before it answers QUEUED with a position. */
  queueWaitMs: number;
  /** Most requests the allocator decides in one transaction. */
  batchSize: number;
  /** Most waitlisted passengers per run and class; past it a request is refused (SOLD_OUT). */
  waitlistLimit: number;
  /** The allocator's Redis lease; renewed by every batch. */
  leaseMs: number;
  /** How long before a Tatkal window opens its waiting room takes requests (docs/api.md). */
  waitingRoomMs: number;
  /** Limits per person (docs/api.md, "Limits per person"; tatkal/limits.ts); 0 turns one off. */
  tatkalPnrsPerAccount: number;
  tatkalPnrsPerAddress: number;
  monthlyPnrs: number;
  monthlyPnrsVerified: number;
  unpaidHoldsPerAccount: number;
  agentTatkalPnrsPerRun: number;
  /** How long a run's availability may be served from memory (availabilityCache.ts); 0 turns it off. */
  availabilityCacheMs: number;
}

export const defaultReservationSettings: ReservationSettings = {
  holdTtlMs: 10 * 60_000,
  bookingWindowDays: 60,
  openingTimes: RAILWAYS_OPENING_TIMES,
  txMaxWaitMs: 5_000,
  txTimeoutMs: 10_000,
  queueWaitMs: 2_000,
  batchSize: 500,
  waitlistLimit: 500,
  leaseMs: 10_000,
  waitingRoomMs: 10 * 60_000,
  tatkalPnrsPerAccount: 2,
  tatkalPnrsPerAddress: 2,
  monthlyPnrs: 12,
  monthlyPnrsVerified: 24,
  unpaidHoldsPerAccount: 4,
  agentTatkalPnrsPerRun: 1,
  availabilityCacheMs: 1_000,
};

export interface PassengerInput {
  name: string;
  age: number;
  gender: Gender;
  berthPreference?: BerthType | null;
}

export interface ReserveInput {
  runId?: string | null;
  trainNumber?: string | null;
  date?: string | null;
  from: string;
  to: string;
  class: TravelClass;
  /** GENERAL unless given. */
  quota?: Quota | null;
  passengers: PassengerInput[];
  berths?: { coach: string; berth: number }[] | null;
  allowWaitlist?: boolean | null;
}

/** A request that passed validation: everything the queue and the allocator need. */
export interface ValidRequest {
  run: TrainRun;
  layout: TrainLayout;
  from: StopWithStation;
  to: StopWithStation;
  mask: bigint;
  farePerPassenger: number;
  /** The fare's parts per passenger (fares/), summing to farePerPassenger. */
  fare: FareBreakdown;
  passengers: PassengerInput[];
  /** Requested specific seats (ids), in passenger order. */
  seatIds: number[] | null;
  allowWaitlist: boolean;
  cls: TravelClass;
  quota: Quota;
  /** Set when the request joins the waiting room of the window opening then. */
  waitingRoomOpensAt: Date | null;
}

export interface PassengerView {
  id: string;
  name: string;
  age: number;
  gender: Gender;
  berthPreference: BerthType | null;
  status: string;
  coach: string | null;
  berth: number | null;
  berthType: BerthType | null;
  waitlistNumber: number | null;
  /** RAC n while on an RAC seat (coach and berth are then the shared side lower berth). */
  racNumber: number | null;
  farePaise: number;
  /** This passenger's fare, part by part (null for reservations made before fares had parts). */
  fare: FareBreakdown | null;
  /** What this passenger's cancellation refunded (null if not cancelled or unpaid). */
  refundPaise: number | null;
}

/** What the API returns for a reservation. */
export interface ReservationView {
  id: string;
  pnr: string;
  status: string;
  runId: string;
  fromCode: string;
  toCode: string;
  class: TravelClass;
  quota: Quota;
  farePaise: number;
  /** One passenger's fare, part by part (null for reservations made before fares had parts). */
  fare: FareBreakdown | null;
  holdExpiresAt: string | null;
  createdAt: string;
  /** Arrival ticket in the run's queue (internal: the Reservation type computes queuePosition from it). */
  queueTicket: number | null;
  /** Why a REFUSED reservation was refused (an error code). */
  refusalCode: string | null;
  /** While QUEUED in a waiting room: when its window opens (ISO). */
  opensAt: string | null;
  passengers: PassengerView[];
}
