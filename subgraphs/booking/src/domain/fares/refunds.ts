// What a cancelled passenger gets back (docs/api.md, "Cancellation and refunds"): the Railway
// Passengers (Cancellation of Tickets and Refund of Fares) Rules, 2015, as IRCTC applies them to
// e-tickets. Pure: the caller says when the train leaves, what time it is and whether the chart is out.
import type { TravelClassName } from '@tatkal/common/travelClasses';
import type { FareBreakdown } from './fare.ts';
import { AC_CLASSES, type QuotaName, rupees } from './tables.ts';

export type PassengerStatusAtCancel = 'CONFIRMED' | 'RAC' | 'WAITLISTED' | 'HELD';
export type RefundRule =
  | 'HELD_UNPAID'
  | 'CONFIRMED_AFTER_CHART'
  | 'CONFIRMED_TATKAL'
  | 'CONFIRMED_MORE_THAN_48H'
  | 'CONFIRMED_48H_TO_12H'
  | 'CONFIRMED_12H_TO_4H'
  | 'RAC_WL_CLERKAGE'
  | 'RAC_WL_LAST_30_MIN';
export type RefundRefusal = 'CANCELLATION_CLOSED';

export interface RefundInput {
  cls: TravelClassName;
  quota: QuotaName;
  status: PassengerStatusAtCancel;
  fare: Pick<FareBreakdown, 'totalPaise' | 'gstPaise'>;
  /** Scheduled departure of the train from its originating station. */
  departure: Date;
  now: Date;
  chartPrepared: boolean;
}

export interface RefundQuote {
  refundPaise: number;
  /** Everything kept back: the cancellation charge or clerkage plus the GST on it. */
  chargePaise: number;
  /** The GST part of chargePaise. */
  chargeGstPaise: number;
  rule: RefundRule;
  refusal?: RefundRefusal;
}

/** Minimum cancellation charge per passenger of a confirmed ticket (the flat charge > 48 h). */
export const FLAT_CANCELLATION_CHARGE: Record<TravelClassName, number> = {
  FIRST_AC: rupees(240),
  EXEC_CHAIR: rupees(240),
  SECOND_AC: rupees(200),
  THIRD_AC: rupees(180),
  CHAIR_CAR: rupees(180),
  SLEEPER: rupees(120),
  SECOND_SEATING: rupees(60),
};
export const CLERKAGE_PAISE = rupees(60);
/** GST on clerkage (a separate service, 18%) and on AC classes' cancellation charges (5%, as the fare). */
export const CLERKAGE_GST_PERCENT = 18;
export const CANCELLATION_GST_PERCENT = 5;

const HOUR = 3_600_000;
/** Refunds keep paise (as IRCTC's do): a percentage rounds to the nearest paisa, half up. */
const percentOf = (paise: number, percent: number) => Math.floor((paise * percent + 50) / 100);

function keep(total: number, charge: number, gstPercent: number, rule: RefundRule): RefundQuote {
  const gst = percentOf(charge, gstPercent);
  // Never keep more than was paid (a charge can exceed a short journey's fare).
  const chargePaise = Math.min(total, charge + gst);
  return { refundPaise: total - chargePaise, chargePaise, chargeGstPaise: Math.min(gst, chargePaise), rule };
}
const closed = (rule: RefundRule): RefundQuote => ({
  refundPaise: 0,
  chargePaise: 0,
  chargeGstPaise: 0,
  rule,
  refusal: 'CANCELLATION_CLOSED',
});

/** One passenger's refund on cancellation now; `refusal` set when it may not be cancelled online. */
export function refundQuote(input: RefundInput): RefundQuote {
  const { cls, quota, status, fare, departure, now, chartPrepared } = input;
  const total = fare.totalPaise;
  const before = departure.getTime() - now.getTime();
  if (status === 'HELD') return { refundPaise: 0, chargePaise: 0, chargeGstPaise: 0, rule: 'HELD_UNPAID' };
  if (status === 'RAC' || status === 'WAITLISTED') {
    // Up to 30 minutes before departure, chart or not; after that a claim (TDR), out of scope.
    if (before < 0.5 * HOUR) return closed('RAC_WL_LAST_30_MIN');
    return keep(total, CLERKAGE_PAISE, CLERKAGE_GST_PERCENT, 'RAC_WL_CLERKAGE');
  }
  // Confirmed: online until the chart or 4 hours before departure, whichever comes first.
  if (chartPrepared || before < 4 * HOUR) return closed('CONFIRMED_AFTER_CHART');
  if (quota === 'TATKAL' || quota === 'PREMIUM_TATKAL') return keep(total, total, 0, 'CONFIRMED_TATKAL');
  const gstPercent = AC_CLASSES.has(cls) ? CANCELLATION_GST_PERCENT : 0;
  const flat = FLAT_CANCELLATION_CHARGE[cls];
  // Percentages apply to the fare before GST (the GST paid on the fare goes back with it).
  const fareBeforeGst = total - fare.gstPaise;
  if (before > 48 * HOUR) return keep(total, flat, gstPercent, 'CONFIRMED_MORE_THAN_48H');
  if (before >= 12 * HOUR)
    return keep(total, Math.max(flat, percentOf(fareBeforeGst, 25)), gstPercent, 'CONFIRMED_48H_TO_12H');
  return keep(total, Math.max(flat, percentOf(fareBeforeGst, 50)), gstPercent, 'CONFIRMED_12H_TO_4H');
}

/** The sum over a PNR's passengers; refused if any passenger's cancellation is. */
export function totalRefund(quotes: RefundQuote[]): {
  refundPaise: number;
  chargePaise: number;
  refusal?: RefundRefusal;
} {
  const refusal = quotes.find((q) => q.refusal)?.refusal;
  const sum = (f: (q: RefundQuote) => number) => quotes.reduce((s, q) => s + f(q), 0);
  const total = { refundPaise: sum((q) => q.refundPaise), chargePaise: sum((q) => q.chargePaise) };
  return refusal ? { ...total, refusal } : total;
}
