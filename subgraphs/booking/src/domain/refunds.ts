// What cancelling passengers of a reservation refunds now: the rule table (fares/refunds.ts)
// applied to each passenger's status, fare, the run's departure and chart. Shared by the quote a
// traveller sees, the cancellation that applies it, and chart preparation.
import type { Passenger, PrismaClient, Reservation, TrainRun } from '@tatkal/db';
import {
  type FareBreakdown,
  type PassengerStatusAtCancel,
  type RefundQuote,
  refundQuote,
  totalRefund,
} from './fares/index.ts';
import type { Tx } from './inventory.ts';
import { PassengerStatus, ReservationStatus } from './lifecycle/index.ts';

/** When a run leaves its origin: the run's date (IST) at its first stop's departure time. */
export async function departureOf(db: PrismaClient | Tx, run: Pick<TrainRun, 'trainId' | 'date'>): Promise<Date> {
  const origin = await (db as Tx).trainStop.findFirstOrThrow({
    where: { trainId: run.trainId, seq: 0 },
    select: { departureMin: true },
  });
  // run.date is the IST calendar date at 00:00 UTC; IST is UTC+5:30.
  return new Date(run.date.getTime() + ((origin.departureMin ?? 0) - 330) * 60_000);
}

const statusAtCancel = (r: Reservation, p: Passenger): PassengerStatusAtCancel => {
  // Nothing was paid for a reservation not yet confirmed (queued or held).
  if (r.status !== ReservationStatus.CONFIRMED) return 'HELD';
  if (p.status === PassengerStatus.RAC) return 'RAC';
  if (p.status === PassengerStatus.WAITLISTED) return 'WAITLISTED';
  return 'CONFIRMED';
};

export interface PassengerQuote extends RefundQuote {
  passengerId: string;
  status: PassengerStatus;
}

/** Each passenger's refund if cancelled now, and the total (refused if any one is). */
export function quoteCancellation(
  r: Reservation,
  passengers: Passenger[],
  at: { departure: Date; now: Date; chartPrepared: boolean },
) {
  const perPassenger = (r.fare as unknown as FareBreakdown | null) ?? null;
  const lines: PassengerQuote[] = passengers.map((p) => ({
    passengerId: p.id,
    status: p.status,
    ...refundQuote({
      cls: r.class,
      quota: r.quota,
      status: statusAtCancel(r, p),
      fare: { totalPaise: p.farePaise, gstPaise: perPassenger?.totalPaise === p.farePaise ? perPassenger.gstPaise : 0 },
      departure: at.departure,
      now: at.now,
      chartPrepared: at.chartPrepared,
    }),
  }));
  return { lines, ...totalRefund(lines) };
}
