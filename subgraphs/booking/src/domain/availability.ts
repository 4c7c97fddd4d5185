import type { Quota, TravelClass } from '@tatkal/db';
import { CLASS_CODE, requestLoader } from '@tatkal/common';
import type { BookingContext } from '../context.ts';
import { type FareBreakdown, fareBreakdown, quotaOffered } from './fares/index.ts';
import { segmentMask } from './network.ts';
import { type Pool, poolOf } from './allocation/allocate.ts';
import { waitlistedByRun } from './lifecycle/index.ts';
import { QUOTA_CODE } from './tatkal/quotas.ts';
import { type OpeningTimes, opensAt } from './tatkal/windows.ts';

export interface ClassAvailability {
  class: TravelClass;
  code: string;
  quota: Quota;
  quotaCode: string;
  totalBerths: number;
  availableBerths: number;
  /** RAC passengers now (GENERAL only), and RAC halves still free for this journey. */
  racLength: number;
  racAvailable: number;
  waitlistLength: number;
  /** What a booking now would get, as IRCTC shows it: AVAILABLE 42, RAC 12, WL 34, REGRET. */
  statusCode: string;
  farePaise: number;
  /** One passenger's fare now, part by part (Premium Tatkal's rises as its berths fill). */
  fare: FareBreakdown;
  /** When the quota's booking window opens (windows.ts). */
  opensAt: Date;
  open: boolean;
}

/** One journey on one run. */
export interface Journey {
  run: { id: string; trainId: number; date: Date; inventoryReady: boolean };
  fromSeq: number;
  toSeq: number;
}

/** Per class, in coach order, for one quota: its berths, those taken on the journey, passengers waiting. */
export type ClassCounts = {
  class: TravelClass;
  quota: Quota;
  total: number;
  taken: number;
  waitlisted: number;
  rac: number;
  racTotal: number;
  racTaken: number;
}[];

// Per-request loaders behind availability: however many runs a request asks about, one query
// each for berths per class (and the quota shares) of the trains, berths per pool and taken per
// (run, segment mask), and waitlisted passengers per run.

/** A class's seats, its RAC berths among them (inventory.ts's rule), and its quota shares. */
type ClassBerths = { class: TravelClass; total: number; rac: number; shares: Partial<Record<Quota, number>> };

const berthsByTrain = requestLoader(async (trainIds: number[], ctx: BookingContext): Promise<ClassBerths[][]> => {
  const rows = await ctx.prisma.$queryRaw<
    { train_id: number; class: TravelClass; total: bigint; rac: bigint; shares: Partial<Record<Quota, number>> }[]
  >`
    WITH per_coach AS (
      -- A coach's first rac_berths side lower berths are RAC berths (as createInventory earmarks them).
      SELECT c.train_id, c.class, c.position, count(*) AS seats,
             least(c.rac_berths, count(*) FILTER (WHERE s.berth_type = 'SL')) AS rac
      FROM booking.coaches c JOIN booking.seats s ON s.coach_id = c.id
      WHERE c.train_id = ANY(${trainIds}::int[])
      GROUP BY c.id)
    SELECT pc.train_id, pc.class, sum(pc.seats)::bigint AS total, sum(pc.rac)::bigint AS rac,
           (SELECT coalesce(json_object_agg(q.quota, q.berths), '{}') FROM booking.quota_shares q
            WHERE q.train_id = pc.train_id AND q.class = pc.class) AS shares
    FROM per_coach pc
    GROUP BY pc.train_id, pc.class
    ORDER BY pc.train_id, min(pc.position)`;
  return trainIds.map((id) =>
    rows
      .filter((r) => r.train_id === id)
      .map((r) => ({ class: r.class, total: Number(r.total), rac: Number(r.rac), shares: r.shares })),
  );
});

type PoolCounts = Map<Pool, { total: number; taken: number; racTotal: number; racTaken: number }>;

// Only runs with inventory rows (their berths per quota, chart releases included). The run's
// rows are read whole either way (no index on the mask): counting them all costs nothing more.
const countsByJourney = requestLoader(
  async (keys: { runId: string; mask: bigint }[], ctx: BookingContext): Promise<PoolCounts[]> => {
    // Berths (RAC berths apart), and the RAC halves of the run (GENERAL's) beside them.
    const rows = await ctx.prisma.$queryRaw<
      { key: number; class: TravelClass; quota: Quota; rac: boolean; total: bigint; taken: bigint }[]
    >`
      WITH k AS (
        SELECT * FROM unnest(${keys.map((k) => k.runId)}::uuid[], ${keys.map((k) => k.mask.toString())}::bigint[])
          WITH ORDINALITY AS k(run_id, mask, key))
      SELECT k.key::int - 1 AS key, rs.class, rs.quota, false AS rac, count(*)::bigint AS total,
             count(*) FILTER (WHERE (rs.occupied_mask & k.mask) <> 0)::bigint AS taken
      FROM k JOIN booking.run_seats rs ON rs.run_id = k.run_id AND NOT rs.rac
      GROUP BY k.key, rs.class, rs.quota
      UNION ALL
      SELECT k.key::int - 1, h.class, 'GENERAL', true, count(*)::bigint,
             count(*) FILTER (WHERE (h.occupied_mask & k.mask) <> 0)::bigint
      FROM k JOIN booking.rac_slots h ON h.run_id = k.run_id
      GROUP BY k.key, h.class`;
    return keys.map((_, i) => {
      const counts: PoolCounts = new Map();
      for (const r of rows.filter((row) => row.key === i)) {
        const pool = poolOf(r.class, r.quota);
        const c = counts.get(pool) ?? { total: 0, taken: 0, racTotal: 0, racTaken: 0 };
        if (r.rac) Object.assign(c, { racTotal: Number(r.total), racTaken: Number(r.taken) });
        else Object.assign(c, { total: Number(r.total), taken: Number(r.taken) });
        counts.set(pool, c);
      }
      return counts;
    });
  },
  { cacheKeyFn: (k) => `${k.runId}|${k.mask}` },
);

const waitlistByRun = requestLoader(
  async (runIds: string[], ctx: BookingContext): Promise<Map<Pool, { rac: number; wl: number }>[]> => {
    const rows = await waitlistedByRun(ctx.prisma, runIds);
    return runIds.map(
      (id) =>
        new Map(
          rows
            .filter((r) => r.run_id === id)
            .map((r) => [poolOf(r.class, r.quota), { rac: Number(r.rac), wl: Number(r.wl) }]),
        ),
    );
  },
);

/** A class's berths of one quota on a run not yet prepared: the train's shares (GENERAL: the rest but RAC berths). */
function sharedBerths(c: ClassBerths, quota: Quota): number {
  if (quota !== 'GENERAL') return c.shares[quota] ?? 0;
  const earmarked = Object.values(c.shares).reduce((sum, n) => sum + (n ?? 0), 0);
  return Math.max(0, c.total - c.rac - earmarked);
}

/** Berth counts per class of one quota for a journey on a run; classes without that quota left out. */
export async function classCounts(ctx: BookingContext, j: Journey, quota: Quota = 'GENERAL'): Promise<ClassCounts> {
  const [berths, pools, waiting] = await Promise.all([
    berthsByTrain(ctx).load(j.run.trainId),
    j.run.inventoryReady ? countsByJourney(ctx).load({ runId: j.run.id, mask: segmentMask(j.fromSeq, j.toSeq) }) : null,
    waitlistByRun(ctx).load(j.run.id),
  ]);
  return berths
    .map((b) => {
      const pool = poolOf(b.class, quota);
      const none = { total: 0, taken: 0, racTotal: 0, racTaken: 0 };
      const counted = pools
        ? (pools.get(pool) ?? none)
        : { ...none, total: sharedBerths(b, quota), racTotal: quota === 'GENERAL' ? 2 * b.rac : 0 };
      const w = waiting.get(pool) ?? { rac: 0, wl: 0 };
      return { class: b.class, quota, ...counted, waitlisted: w.wl, rac: w.rac };
    })
    .filter((c) => quota === 'GENERAL' || c.total > 0);
}

/** What a booking now would get (IRCTC's codes); REGRET once the waitlist is full. */
export function statusCode(c: ClassCounts[number], waitlistLimit: number): string {
  const waiting = c.rac + c.waitlisted > 0;
  if (!waiting && c.total > c.taken) return `AVAILABLE ${c.total - c.taken}`;
  if (c.waitlisted === 0 && c.racTotal > c.racTaken) return `RAC ${c.rac + 1}`;
  if (c.waitlisted < waitlistLimit) return `WL ${c.waitlisted + 1}`;
  return 'REGRET';
}

/**
 * Free berths per class for a journey of `distanceKm`, with the fare and window; only `onlyClass`
 * if given. Classes where the quota is not sold (Tatkal in First AC) are left out.
 */
export function availabilityRows(
  counts: ClassCounts,
  journey: {
    runDate: string;
    distanceKm: number;
    superfast: boolean;
    arpDays: number;
    waitlistLimit: number;
    openingTimes?: OpeningTimes;
    now: Date;
  },
  onlyClass?: TravelClass | null,
): ClassAvailability[] {
  return counts
    .filter((c) => (!onlyClass || c.class === onlyClass) && quotaOffered(c.class, c.quota))
    .map((c) => {
      const opens = opensAt(journey.runDate, c.class, c.quota, journey.arpDays, journey.openingTimes);
      const fare = fareBreakdown({
        cls: c.class,
        distanceKm: journey.distanceKm,
        superfast: journey.superfast,
        quota: c.quota,
        // The same fill the request will be priced at (fareOf.ts): this journey's share taken.
        premiumTatkalFill: c.quota === 'PREMIUM_TATKAL' ? (c.total === 0 ? 0 : c.taken / c.total) : undefined,
      });
      return {
        class: c.class,
        code: CLASS_CODE[c.class],
        quota: c.quota,
        quotaCode: QUOTA_CODE[c.quota],
        totalBerths: c.total,
        availableBerths: c.total - c.taken,
        racLength: c.rac,
        racAvailable: c.racTotal - c.racTaken,
        waitlistLength: c.waitlisted,
        statusCode: statusCode(c, journey.waitlistLimit),
        farePaise: fare.totalPaise,
        fare,
        opensAt: opens,
        open: journey.now >= opens,
      };
    });
}
