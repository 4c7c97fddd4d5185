// Premium Tatkal's dynamic fare (docs/api.md, "Fares"): the later a traveller books, the more of
// the class's Premium Tatkal berths are sold and the more the fare rises, in bands, to a cap.
// Indian Railways publishes no band table for Premium Tatkal; these bands follow the shape of its
// published flexi-fare rule (+10% of the base fare per 10% of berths sold, capped), in 20% steps.

/** Premium over the base fare, in percent, by the fraction of the run's PT berths already sold. */
export const PREMIUM_TATKAL_BANDS: { fromFill: number; premiumPercent: number }[] = [
  { fromFill: 0, premiumPercent: 0 },
  { fromFill: 0.2, premiumPercent: 20 },
  { fromFill: 0.4, premiumPercent: 40 },
  { fromFill: 0.6, premiumPercent: 70 },
  { fromFill: 0.8, premiumPercent: 100 },
];
/** The cap: Premium Tatkal never charges more than twice the base fare on top of the Tatkal fare. */
export const PREMIUM_TATKAL_MAX_PERCENT = 100;

/**
 * The premium percent for a fill fraction in [0, 1] (sold PT berths / PT berths of the class on
 * the run). A fill outside [0, 1] or not a number is a caller's bug, not a traveller's input.
 */
export function premiumTatkalPercent(fill: number): number {
  if (!(fill >= 0 && fill <= 1)) throw new RangeError(`premiumTatkalFill must be in [0, 1], got ${fill}`);
  let percent = 0;
  for (const band of PREMIUM_TATKAL_BANDS) if (fill >= band.fromFill) percent = band.premiumPercent;
  return Math.min(percent, PREMIUM_TATKAL_MAX_PERCENT);
}

/** The dynamic premium in paise for a base fare: whole rupees, rounded up (as the Tatkal charge). */
export function premiumTatkalPaise(basePaise: number, fill: number): number {
  return Math.ceil((basePaise * premiumTatkalPercent(fill)) / 100 / 100) * 100;
}
