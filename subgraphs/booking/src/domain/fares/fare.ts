// A passenger's fare, part by part (docs/api.md, "Fares"). Pure: the tables are in tables.ts.
// Every part is whole rupees in paise, and the parts add up to totalPaise exactly.
import type { TravelClassName } from '@tatkal/common/travelClasses';
import { premiumTatkalPaise } from './premiumTatkal.ts';
import {
  AC_CLASSES,
  BASE_FARE,
  DISTANCE_SLABS,
  FARE_GST_PERCENT,
  type QuotaName,
  quotaOffered,
  RESERVATION_CHARGE,
  SUPERFAST_CHARGE,
  TATKAL_CHARGE,
} from './tables.ts';

export interface FareInput {
  cls: TravelClassName;
  /** Distance of the journey (boarding to alighting stop), whole km. */
  distanceKm: number;
  /** Whether the train is superfast (booking.trains.superfast). */
  superfast: boolean;
  quota: QuotaName;
  /** PREMIUM_TATKAL only: fraction in [0, 1] of the run's PT berths of the class already sold. */
  premiumTatkalFill?: number;
}

export interface FareBreakdown {
  basePaise: number;
  reservationChargePaise: number;
  superfastChargePaise: number;
  /** Tatkal charge; for Premium Tatkal also its dynamic premium. 0 on other quotas. */
  tatkalChargePaise: number;
  /** 5% on the fare of AC classes, rounded to the nearest rupee; 0 otherwise. */
  gstPaise: number;
  /** Up to ₹4 that brings the total to the next multiple of ₹5 (the tariff's rounding rule). */
  roundingPaise: number;
  totalPaise: number;
}

const ceilTo = (value: number, step: number) => Math.ceil(value / step) * step;

/** The distance a class charges: at least its minimum, then up to the end of its slab. */
export function chargeableKm(distanceKm: number, minKm: number): number {
  const km = Math.max(Math.ceil(distanceKm), minKm, 1);
  const slab = DISTANCE_SLABS.find((s) => km <= s.upToKm)!;
  return ceilTo(km, slab.widthKm);
}

/** The base fare for a distance, telescopic by band, rounded to the nearest rupee. */
export function baseFarePaise(cls: TravelClassName, distanceKm: number, minKm = BASE_FARE[cls].minKm): number {
  const km = chargeableKm(distanceKm, minKm);
  let paise = 0;
  let from = 0;
  for (const band of BASE_FARE[cls].bands) {
    if (km <= from) break;
    paise += (Math.min(km, band.upToKm) - from) * band.paisePerKm;
    from = band.upToKm;
  }
  return Math.round(paise / 100) * 100;
}

/** The Tatkal charge: percent of the base fare for at least the rule's distance, whole rupees, clamped. */
export function tatkalChargePaise(cls: TravelClassName, distanceKm: number): number {
  const rule = TATKAL_CHARGE[cls];
  if (!rule) throw new RangeError(`Tatkal is not sold in ${cls}`);
  const base = baseFarePaise(cls, Math.max(distanceKm, rule.minKm));
  const charge = Math.ceil((base * rule.percent) / 100 / 100) * 100;
  return Math.min(rule.maxPaise, Math.max(rule.minPaise, charge));
}

/** GST on a fare in whole rupees: 5% in AC classes, to the nearest rupee, half up (as IRCTC's breakdowns). */
export function fareGstPaise(cls: TravelClassName, farePaise: number): number {
  if (!AC_CLASSES.has(cls)) return 0;
  return Math.floor(((farePaise / 100) * FARE_GST_PERCENT + 50) / 100) * 100;
}

/**
 * One passenger's fare. Throws RangeError on what the caller must refuse before asking (a Tatkal
 * quota in First AC: see quotaOffered; a distance that is not positive; PT without its fill).
 */
export function fareBreakdown(input: FareInput): FareBreakdown {
  const { cls, distanceKm, superfast, quota } = input;
  if (!(distanceKm > 0)) throw new RangeError(`distanceKm must be positive, got ${distanceKm}`);
  if (!quotaOffered(cls, quota)) throw new RangeError(`${quota} is not sold in ${cls}`);
  const basePaise = baseFarePaise(cls, distanceKm);
  const reservationChargePaise = RESERVATION_CHARGE[cls];
  const superfastChargePaise = superfast ? SUPERFAST_CHARGE[cls] : 0;
  let tatkal = 0;
  if (quota === 'TATKAL') tatkal = tatkalChargePaise(cls, distanceKm);
  if (quota === 'PREMIUM_TATKAL') {
    if (input.premiumTatkalFill === undefined) throw new RangeError('PREMIUM_TATKAL needs premiumTatkalFill');
    tatkal = tatkalChargePaise(cls, distanceKm) + premiumTatkalPaise(basePaise, input.premiumTatkalFill);
  }
  const fare = basePaise + reservationChargePaise + superfastChargePaise + tatkal;
  const gst = fareGstPaise(cls, fare);
  const totalPaise = ceilTo(fare + gst, 500);
  return {
    basePaise,
    reservationChargePaise,
    superfastChargePaise,
    tatkalChargePaise: tatkal,
    gstPaise: gst,
    roundingPaise: totalPaise - fare - gst,
    totalPaise,
  };
}
