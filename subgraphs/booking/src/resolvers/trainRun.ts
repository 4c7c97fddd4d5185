import type { Quota, TrainRun, TravelClass } from '@tatkal/db';
import { notFound } from '@tatkal/common';
import type { BookingContext } from '../context.ts';
import { availabilityRows, classCounts } from '../domain/availability.ts';
import { availabilityVersion } from '../domain/availabilityCache.ts';
import { isoDate, routeSegment, runById, runByTrainAndDate, stopsByTrainId, trainById } from '../domain/network.ts';
import type * as Types from '../generated/resolvers.ts';
import { required } from './required.ts';

/**
 * A run's availability for a journey: the counts from the availability cache (availabilityCache.ts;
 * public, one entry per run, inventory state, journey and quota), the window's `open` as of now.
 */
export async function availabilityOfRun(
  run: TrainRun,
  from: string,
  to: string,
  cls: TravelClass | null | undefined,
  quota: Quota | null | undefined,
  ctx: BookingContext,
) {
  const q = quota ?? 'GENERAL';
  const { version, at } = await availabilityVersion(ctx).load(run.id);
  const key = JSON.stringify([run.id, run.inventoryReady, from, to, q]);
  const { counts, journey } = await ctx.reservations.availability.read(key, version, at, () =>
    journeyCounts(run, from, to, q, ctx),
  );
  return availabilityRows(counts, { ...journey, now: ctx.reservations.now?.() ?? new Date() }, cls);
}

/** What availability reads from the database for a journey: berth counts and what prices it. */
async function journeyCounts(run: TrainRun, from: string, to: string, quota: Quota, ctx: BookingContext) {
  const stops = await stopsByTrainId(ctx).load(run.trainId);
  const segment = routeSegment(stops, from, to);
  const counts = await classCounts(ctx, { run, fromSeq: segment.from.seq, toSeq: segment.to.seq }, quota);
  const { settings } = ctx.reservations;
  const train = await required(trainById(ctx).load(run.trainId), `Train of run ${run.id}`);
  const journey = {
    runDate: isoDate(run.date),
    distanceKm: segment.distanceKm,
    superfast: train.superfast,
    waitlistLimit: settings.waitlistLimit,
    arpDays: settings.bookingWindowDays,
    openingTimes: settings.openingTimes,
  };
  return { counts, journey };
}

export const TrainRunResolvers: Types.TrainRunResolvers = {
  __resolveReference: (ref, ctx) =>
    'id' in ref ? runById(ctx).load(ref.id) : runByTrainAndDate(ctx).load(`${ref.trainNumber}|${ref.date}`),
  trainNumber: async (run, _, ctx) => {
    const train = await trainById(ctx).load(run.trainId);
    if (!train) throw notFound(`Train of run ${run.id} not found`);
    return train.number;
  },
  date: (run) => isoDate(run.date),
  train: (run, _, ctx) => required(trainById(ctx).load(run.trainId), `Train of run ${run.id}`),
  availability: (run, args, ctx) => availabilityOfRun(run, args.from, args.to, args.class, args.quota, ctx),
  chartPrepared: (run) => run.chartPreparedAt !== null,
};
