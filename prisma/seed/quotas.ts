// Quota shares per train and class (booking.quota_shares), the seed's rule for the berths IRCTC
// earmarks (docs/api.md, "Quotas"): a Tatkal share of each class but First AC, a part of it sold
// as Premium Tatkal on premium trains, a ladies' quota in sleeper and AC 3 tier, and the lower
// berths set aside for senior citizens and women over 45 per coach.
import type { TravelClassName } from '@tatkal/common/travelClasses';

type QuotaName = 'TATKAL' | 'PREMIUM_TATKAL' | 'LADIES' | 'LOWER_BERTH';

/** Share of a class's berths earmarked for Tatkal (Premium Tatkal included). */
export const TATKAL_SHARE: Record<TravelClassName, number> = {
  FIRST_AC: 0,
  SECOND_AC: 0.1,
  THIRD_AC: 0.25,
  SLEEPER: 0.3,
  CHAIR_CAR: 0.15,
  EXEC_CHAIR: 0.1,
  SECOND_SEATING: 0.1,
};
/** Trains on which part of the Tatkal earmark is sold as Premium Tatkal (dynamic fare). */
export const PREMIUM_TATKAL_TRAINS = ['RAJDHANI', 'SHATABDI', 'DURONTO', 'VANDE_BHARAT', 'TEJAS', 'SUPERFAST'];
export const PREMIUM_TATKAL_PART = 0.3;
/** Ladies' quota: berths per train. */
export const LADIES_BERTHS: Partial<Record<TravelClassName, number>> = { SLEEPER: 6, THIRD_AC: 6 };
/** Senior citizens' and women's lower-berth quota: berths per coach. */
export const LOWER_BERTHS_PER_COACH: Partial<Record<TravelClassName, number>> = {
  SLEEPER: 6,
  THIRD_AC: 3,
  SECOND_AC: 3,
};

/** The earmarked berths of one class of a train (GENERAL is the rest). */
export function quotaShares(
  trainType: string,
  cls: TravelClassName,
  coaches: number,
  berthsPerCoach: number,
): { quota: QuotaName; berths: number }[] {
  const total = coaches * berthsPerCoach;
  const tatkal = Math.round(total * TATKAL_SHARE[cls]);
  const premium = PREMIUM_TATKAL_TRAINS.includes(trainType) ? Math.round(tatkal * PREMIUM_TATKAL_PART) : 0;
  const shares: { quota: QuotaName; berths: number }[] = [
    { quota: 'TATKAL', berths: tatkal - premium },
    { quota: 'PREMIUM_TATKAL', berths: premium },
    { quota: 'LADIES', berths: coaches > 0 ? (LADIES_BERTHS[cls] ?? 0) : 0 },
    { quota: 'LOWER_BERTH', berths: coaches * (LOWER_BERTHS_PER_COACH[cls] ?? 0) },
  ];
  return shares.filter((s) => s.berths > 0);
}
