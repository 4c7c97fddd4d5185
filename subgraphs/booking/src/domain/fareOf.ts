// The fare a request pays now (fares/ is pure): its journey's distance, the train's superfast
// flag and, for Premium Tatkal, how full the run's PT berths of the class are.
import type { Quota, TravelClass } from '@tatkal/db';
import { AppError, ErrorCode } from '@tatkal/common';
import { type FareBreakdown, fareBreakdown, quotaOffered } from './fares/index.ts';
import type { Tx } from './inventory.ts';

type Db = Pick<Tx, '$queryRaw'>;

/**
 * Fraction of a run's Premium Tatkal berths of a class taken on a journey (`mask`): the dynamic
 * fare's input, the same availability shows.
 */
export async function premiumTatkalFill(db: Db, runId: string, cls: TravelClass, mask: bigint): Promise<number> {
  const rows = await db.$queryRaw<{ sold: number; total: number }[]>`
    SELECT count(*) FILTER (WHERE occupied_mask & ${mask} <> 0)::int AS sold, count(*)::int AS total
    FROM booking.run_seats
    WHERE run_id = ${runId}::uuid AND class = ${cls}::booking."TravelClass" AND quota = 'PREMIUM_TATKAL'`;
  const { sold, total } = rows[0] ?? { sold: 0, total: 0 };
  return total === 0 ? 0 : sold / total;
}

/** One passenger's fare; QUOTA_NOT_AVAILABLE where the quota is not sold in the class (Tatkal in 1A). */
export async function fareNow(
  db: Db,
  journey: { runId: string; cls: TravelClass; quota: Quota; distanceKm: number; superfast: boolean; mask: bigint },
): Promise<FareBreakdown> {
  if (!quotaOffered(journey.cls, journey.quota))
    throw new AppError(ErrorCode.QUOTA_NOT_AVAILABLE, `${journey.quota} is not sold in ${journey.cls}`);
  return fareBreakdown({
    cls: journey.cls,
    distanceKm: journey.distanceKm,
    superfast: journey.superfast,
    quota: journey.quota,
    premiumTatkalFill:
      journey.quota === 'PREMIUM_TATKAL'
        ? await premiumTatkalFill(db, journey.runId, journey.cls, journey.mask)
        : undefined,
  });
}
