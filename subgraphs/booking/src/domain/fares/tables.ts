// The fare tables (docs/api.md, "Fares"): base fare slabs, reservation and superfast charges,
// Tatkal charges and GST, per class. Amounts a traveller sees are whole rupees; we keep paise.
import type { TravelClassName } from '@tatkal/common/travelClasses';

/** The quotas a berth can be sold under (booking's Quota enum). */
export type QuotaName = 'GENERAL' | 'TATKAL' | 'PREMIUM_TATKAL' | 'LADIES' | 'LOWER_BERTH';

export const rupees = (r: number): number => r * 100;

/**
 * Base fare: a telescopic rate, paise per km, lower in each later distance band (the Coaching
 * Tariff's shape: short journeys cost more per km). Sleeper and AC 3 tier are calibrated on
 * published figures (docs/api.md, realExamples.test.ts); the other classes are multiples of
 * sleeper (2S 0.6, CC 2, 2A 3.7, EC 4, 1A 6.3). `minKm`: the minimum distance charged.
 */
export interface BaseFareTable {
  minKm: number;
  /** Paise per km up to `upToKm` (from the previous band's end); the last band has no end. */
  bands: { upToKm: number; paisePerKm: number }[];
}

const bands = (a: number, b: number, c: number) => [
  { upToKm: 300, paisePerKm: a },
  { upToKm: 2000, paisePerKm: b },
  { upToKm: Number.POSITIVE_INFINITY, paisePerKm: c },
];

export const BASE_FARE: Record<TravelClassName, BaseFareTable> = {
  SECOND_SEATING: { minKm: 0, bands: bands(38, 22, 13) },
  SLEEPER: { minKm: 200, bands: bands(64, 36, 21) },
  CHAIR_CAR: { minKm: 50, bands: bands(128, 72, 42) },
  THIRD_AC: { minKm: 300, bands: bands(163, 88, 51) },
  SECOND_AC: { minKm: 300, bands: bands(237, 133, 78) },
  EXEC_CHAIR: { minKm: 50, bands: bands(256, 144, 84) },
  FIRST_AC: { minKm: 300, bands: bands(403, 227, 132) },
};

/**
 * Distance slabs: every distance within a slab pays the slab's upper end (the tariff's "fares
 * are the same for all distances within a slab"). 5 km wide up to 100 km, then 10, 25, 50.
 */
export const DISTANCE_SLABS: { upToKm: number; widthKm: number }[] = [
  { upToKm: 100, widthKm: 5 },
  { upToKm: 1000, widthKm: 10 },
  { upToKm: 2500, widthKm: 25 },
  { upToKm: Number.POSITIVE_INFINITY, widthKm: 50 },
];

/** Reservation charge per passenger (Indian Railways, "Reservation fee"). */
export const RESERVATION_CHARGE: Record<TravelClassName, number> = {
  SECOND_SEATING: rupees(15),
  SLEEPER: rupees(20),
  CHAIR_CAR: rupees(40),
  THIRD_AC: rupees(40),
  SECOND_AC: rupees(50),
  EXEC_CHAIR: rupees(60),
  FIRST_AC: rupees(60),
};

/** Supplementary charge on superfast trains, per passenger. */
export const SUPERFAST_CHARGE: Record<TravelClassName, number> = {
  SECOND_SEATING: rupees(15),
  SLEEPER: rupees(30),
  CHAIR_CAR: rupees(45),
  THIRD_AC: rupees(45),
  SECOND_AC: rupees(45),
  EXEC_CHAIR: rupees(75),
  FIRST_AC: rupees(75),
};

/**
 * Tatkal charge: a percentage of the base fare for at least `minKm`, in whole rupees, clamped to
 * [min, max]. None in First AC: Tatkal is not sold there (`quotaOffered`).
 */
export interface TatkalRule {
  percent: number;
  minPaise: number;
  maxPaise: number;
  minKm: number;
}
export const TATKAL_CHARGE: Record<TravelClassName, TatkalRule | null> = {
  SECOND_SEATING: { percent: 10, minPaise: rupees(10), maxPaise: rupees(15), minKm: 100 },
  SLEEPER: { percent: 30, minPaise: rupees(100), maxPaise: rupees(200), minKm: 500 },
  CHAIR_CAR: { percent: 30, minPaise: rupees(125), maxPaise: rupees(225), minKm: 250 },
  THIRD_AC: { percent: 30, minPaise: rupees(300), maxPaise: rupees(400), minKm: 500 },
  SECOND_AC: { percent: 30, minPaise: rupees(400), maxPaise: rupees(500), minKm: 500 },
  EXEC_CHAIR: { percent: 30, minPaise: rupees(400), maxPaise: rupees(500), minKm: 250 },
  FIRST_AC: null,
};

/** The air-conditioned classes: GST on the fare and on cancellation charges applies to these. */
export const AC_CLASSES: ReadonlySet<TravelClassName> = new Set([
  'FIRST_AC',
  'SECOND_AC',
  'THIRD_AC',
  'CHAIR_CAR',
  'EXEC_CHAIR',
]);
/** GST on the fare of an AC class (5%, no input tax credit: passenger transport by rail). */
export const FARE_GST_PERCENT = 5;

/**
 * Whether a quota is sold in a class at all: no Tatkal or Premium Tatkal in First AC. Whether a
 * train has the quota's berths is the quota shares' business (QUOTA_NOT_AVAILABLE either way).
 */
export function quotaOffered(cls: TravelClassName, quota: QuotaName): boolean {
  const tatkal = quota === 'TATKAL' || quota === 'PREMIUM_TATKAL';
  return !tatkal || TATKAL_CHARGE[cls] !== null;
}
