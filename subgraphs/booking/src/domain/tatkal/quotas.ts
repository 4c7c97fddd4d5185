// Quotas of a class's berths (docs/api.md, "Quotas"): which berths of a run are earmarked for
// which quota. The shares come from seed data per train and class (booking.quota_shares); this
// module decides which berths carry them, the same way for every run of a train. Pure.
import type { BerthType, Quota, TravelClass } from '@tatkal/db';

/** The codes IRCTC shows beside availability (GNWL, TQWL, ...). */
export const QUOTA_CODE: Record<Quota, string> = {
  GENERAL: 'GN',
  TATKAL: 'TQ',
  PREMIUM_TATKAL: 'PT',
  LADIES: 'LD',
  LOWER_BERTH: 'SS',
};

export interface ClassBerth {
  seatId: number;
  class: TravelClass;
  /** The coach's position in the train (coaches of a class in train order). */
  coachPosition: number;
  number: number;
  berthType: BerthType;
}

/**
 * Earmarks berths of one class: lower-berth (senior) quota on lower berths spread over the
 * coaches, lowest numbers first; ladies' quota together in the class's middle coach; Premium
 * Tatkal and then Tatkal from the back of the class (the "Tatkal coaches" at the end, highest
 * numbers first); the rest GENERAL. A share larger than what is left takes what is left.
 */
export function earmark(berths: ClassBerth[], shares: Partial<Record<Quota, number>>): Map<number, Quota> {
  const ordered = [...berths].sort((a, b) => a.coachPosition - b.coachPosition || a.number - b.number);
  const quota = new Map<number, Quota>();
  const free = (b: ClassBerth) => !quota.has(b.seatId);
  const coaches = [...new Set(ordered.map((b) => b.coachPosition))];

  // Lower berths for seniors, round-robin over the coaches.
  let lower = shares.LOWER_BERTH ?? 0;
  const lowersByCoach = coaches.map((c) => ordered.filter((b) => b.coachPosition === c && b.berthType === 'LB'));
  for (let round = 0; lower > 0 && lowersByCoach.some((l) => l.length > round); round++) {
    for (const list of lowersByCoach) {
      if (lower > 0 && list[round]) {
        quota.set(list[round]!.seatId, 'LOWER_BERTH');
        lower--;
      }
    }
  }
  // Ladies together in the middle coach, then the ones after it.
  const middle = coaches[Math.floor(coaches.length / 2)];
  const fromMiddle = [
    ...ordered.filter((b) => b.coachPosition >= (middle ?? 0)),
    ...ordered.filter((b) => b.coachPosition < (middle ?? 0)),
  ];
  take(fromMiddle.filter(free), shares.LADIES ?? 0, 'LADIES', quota);
  // Tatkal from the back.
  const fromBack = [...ordered].reverse();
  take(fromBack.filter(free), shares.PREMIUM_TATKAL ?? 0, 'PREMIUM_TATKAL', quota);
  take(fromBack.filter(free), shares.TATKAL ?? 0, 'TATKAL', quota);
  for (const b of ordered) if (free(b)) quota.set(b.seatId, 'GENERAL');
  return quota;
}

function take(berths: ClassBerth[], n: number, q: Quota, into: Map<number, Quota>) {
  for (const b of berths.slice(0, Math.max(0, n))) into.set(b.seatId, q);
}
