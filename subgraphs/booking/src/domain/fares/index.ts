// The fare module: what a passenger pays, and gets back on cancellation (docs/api.md, "Fares" and
// "Cancellation and refunds"). Pure functions over the tables; no I/O.
export {
  baseFarePaise,
  chargeableKm,
  type FareBreakdown,
  type FareInput,
  fareBreakdown,
  fareGstPaise,
  tatkalChargePaise,
} from './fare.ts';
export { PREMIUM_TATKAL_BANDS, premiumTatkalPaise, premiumTatkalPercent } from './premiumTatkal.ts';
export {
  CLERKAGE_PAISE,
  FLAT_CANCELLATION_CHARGE,
  type PassengerStatusAtCancel,
  type RefundInput,
  type RefundQuote,
  type RefundRefusal,
  type RefundRule,
  refundQuote,
  totalRefund,
} from './refunds.ts';
export { AC_CLASSES, type QuotaName, quotaOffered, TATKAL_CHARGE } from './tables.ts';
