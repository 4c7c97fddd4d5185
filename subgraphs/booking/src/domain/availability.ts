import type { TravelClass } from '@tatkal/db';
import { CLASS_CODE, requestLoader } from '@tatkal/common';
import type { BookingContext } from '../context.ts';
import { farePaise } from './rail.ts';
import { segmentMask } from './network.ts';
import { waitlistedByRun } from './lifecycle/index.ts';

export interface ClassAvailability {
  class: TravelClass;
  code: string;
  totalBerths: number;
  availableBerths: number;
  waitlistLength: number;
  farePaise: number;
}

/** One journey on one run. */
export interface Journey {
  run: { id: string; trainId: number; inventoryReady: boolean };
  fromSeq: number;
  toSeq: number;
}

/** Per class, in coach order: berths, berths taken on the journey's segments, passengers waiting. */
export type ClassCounts = { class: TravelClass; total: number; taken: number; waitlisted: number }[];

// Per-request loaders behind availability: however many runs a request asks about, one query
// each for berths per class of the trains, berths taken per (run, segment mask), and waitlisted
// passengers per run.

const berthsByTrain = requestLoader(
  async (trainIds: number[], ctx: BookingContext): Promise<{ class: TravelClass; total: number }[][]> => {
    const rows = await ctx.prisma.$queryRaw<{ train_id: number; class: TravelClass; total: bigint }[]>`
      SELECT c.train_id, c.class, count(*)::bigint AS total
      FROM booking.coaches c JOIN booking.seats s ON s.coach_id = c.id
      WHERE c.train_id = ANY(${trainIds}::int[])
      GROUP BY c.train_id, c.class
      ORDER BY c.train_id, min(c.position)`;
    return trainIds.map((id) =>
      rows.filter((r) => r.train_id === id).map((r) => ({ class: r.class, total: Number(r.total) })),
    );
  },
);

// Only runs with inventory rows: before the first booking every berth is free.
const takenByJourney = requestLoader(
  async (keys: { runId: string; mask: bigint }[], ctx: BookingContext): Promise<Map<TravelClass, number>[]> => {
    const rows = await ctx.prisma.$queryRaw<{ key: number; class: TravelClass; taken: bigint }[]>`
      SELECT k.key::int - 1 AS key, rs.class, count(*)::bigint AS taken
      FROM unnest(${keys.map((k) => k.runId)}::uuid[], ${keys.map((k) => k.mask.toString())}::bigint[])
        WITH ORDINALITY AS k(run_id, mask, key)
      JOIN booking.run_seats rs ON rs.run_id = k.run_id AND (rs.occupied_mask & k.mask) <> 0
      GROUP BY k.key, rs.class`;
    return keys.map((_, i) => new Map(rows.filter((r) => r.key === i).map((r) => [r.class, Number(r.taken)])));
  },
  { cacheKeyFn: (k) => `${k.runId}|${k.mask}` },
);

const waitlistByRun = requestLoader(
  async (runIds: string[], ctx: BookingContext): Promise<Map<TravelClass, number>[]> => {
    const rows = await waitlistedByRun(ctx.prisma, runIds);
    return runIds.map((id) => new Map(rows.filter((r) => r.run_id === id).map((r) => [r.class, Number(r.n)])));
  },
);

/** Berth counts per class for a journey on a run. */
export async function classCounts(ctx: BookingContext, j: Journey): Promise<ClassCounts> {
  const none = new Map<TravelClass, number>();
  const [berths, taken, waiting] = await Promise.all([
    berthsByTrain(ctx).load(j.run.trainId),
    j.run.inventoryReady ? takenByJourney(ctx).load({ runId: j.run.id, mask: segmentMask(j.fromSeq, j.toSeq) }) : none,
    waitlistByRun(ctx).load(j.run.id),
  ]);
  return berths.map((b) => ({
    class: b.class,
    total: b.total,
    taken: taken.get(b.class) ?? 0,
    waitlisted: waiting.get(b.class) ?? 0,
  }));
}

/** Free berths per class for a journey of `distanceKm`, with the fare; only `onlyClass` if given. */
export function availabilityRows(
  counts: ClassCounts,
  distanceKm: number,
  onlyClass?: TravelClass | null,
): ClassAvailability[] {
  return counts
    .filter((c) => !onlyClass || c.class === onlyClass)
    .map((c) => ({
      class: c.class,
      code: CLASS_CODE[c.class],
      totalBerths: c.total,
      availableBerths: c.total - c.taken,
      waitlistLength: c.waitlisted,
      farePaise: farePaise(c.class, distanceKm),
    }));
}
