// What a decided request answers: its view (plain JSON, replayed byte for byte) and the stored
// outcome its idempotency record keeps.
import { AppError, ErrorCode, errorOutcome, successOutcome } from '@tatkal/common';
import type { Decision } from '../allocation/allocate.ts';
import type { TrainLayout } from '../layout.ts';
import { type Decided, type LoadedRequest, passengerTarget, target } from '../lifecycle/index.ts';
import type { ReservationSettings, ReservationView } from '../types.ts';

/** The view and the stored outcome of one decided request. */
export function describe(
  runId: string,
  r: LoadedRequest,
  decision: Decision,
  layout: TrainLayout,
  settings: ReservationSettings,
  now: Date,
): Decided {
  if (decision.status === 'REFUSED') {
    return {
      request: r,
      decision,
      view: null,
      stored: errorOutcome(new AppError(ErrorCode[decision.code], decision.reason)),
    };
  }
  const move = ({ HELD: 'hold', RAC: 'rac', WAITLISTED: 'waitlist' } as const)[decision.status];
  const seatIds =
    decision.status === 'HELD'
      ? decision.seatIds
      : decision.status === 'RAC'
        ? decision.slots.map((s) => s.seatId)
        : null;
  const view: ReservationView = {
    id: r.id,
    pnr: r.pnr,
    status: target(move),
    runId,
    fromCode: r.fromCode,
    toCode: r.toCode,
    class: r.cls,
    quota: r.quota,
    farePaise: r.farePaise,
    fare: r.fare,
    holdExpiresAt: new Date(now.getTime() + settings.holdTtlMs).toISOString(),
    createdAt: r.createdAt.toISOString(),
    queueTicket: null,
    refusalCode: null,
    opensAt: null,
    passengers: r.passengers.map((p, i) => {
      const seat = seatIds ? layout.seats.get(seatIds[i]!)! : null;
      return {
        id: p.id,
        name: p.name,
        age: p.age,
        gender: p.gender as ReservationView['passengers'][number]['gender'],
        berthPreference: p.berthPreference,
        status: passengerTarget(move),
        coach: seat?.coach ?? null,
        berth: seat?.number ?? null,
        berthType: seat?.berthType ?? null,
        waitlistNumber: decision.status === 'WAITLISTED' ? decision.waitlistNumbers[i]! : null,
        racNumber: decision.status === 'RAC' ? decision.racNumbers[i]! : null,
        fare: r.fare,
        refundPaise: null,
        farePaise: p.farePaise,
      };
    }),
  };
  return { request: r, decision, view, stored: successOutcome(view) };
}
