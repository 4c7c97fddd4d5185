import type { Quota, TrainRun, TravelClass } from '@tatkal/db';
import { notFound } from '@tatkal/common';
import type { BookingContext } from '../context.ts';
import { availabilityRows, classCounts } from '../domain/availability.ts';
import { isoDate, routeSegment, runById, runByTrainAndDate, stopsByTrainId, trainById } from '../domain/network.ts';
import type * as Types from '../generated/resolvers.ts';
import { required } from './required.ts';

export async function availabilityOfRun(
  run: TrainRun,
  from: string,
  to: string,
  cls: TravelClass | null | undefined,
  quota: Quota | null | undefined,
  ctx: BookingContext,
) {
  const stops = await stopsByTrainId(ctx).load(run.trainId);
  const segment = routeSegment(stops, from, to);
  const counts = await classCounts(ctx, { run, fromSeq: segment.from.seq, toSeq: segment.to.seq }, quota ?? 'GENERAL');
  const { settings, now } = ctx.reservations;
  const train = await required(trainById(ctx).load(run.trainId), `Train of run ${run.id}`);
  const journey = {
    runDate: isoDate(run.date),
    distanceKm: segment.distanceKm,
    superfast: train.superfast,
    waitlistLimit: settings.waitlistLimit,
    arpDays: settings.bookingWindowDays,
    openingTimes: settings.openingTimes,
  };
  return availabilityRows(counts, { ...journey, now: now?.() ?? new Date() }, cls);
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
