import type { TrainRun, TravelClass } from '@tatkal/db';
import { notFound } from '@tatkal/common';
import type { BookingContext } from '../context.ts';
import { availabilityRows, classCounts } from '../domain/availability.ts';
import { isoDate, routeSegment } from '../domain/network.ts';

type RunRef = { id: string } | { trainNumber: string; date: string };

export async function availabilityOfRun(
  run: TrainRun,
  from: string,
  to: string,
  cls: TravelClass | null | undefined,
  ctx: BookingContext,
) {
  const stops = await ctx.loaders.stopsByTrainId.load(run.trainId);
  const segment = routeSegment(stops, from, to);
  const counts = await classCounts(ctx.loaders.availability, { run, fromSeq: segment.from.seq, toSeq: segment.to.seq });
  return availabilityRows(counts, segment.distanceKm, cls);
}

export const TrainRunResolvers = {
  __resolveReference: (ref: RunRef, ctx: BookingContext) =>
    'id' in ref
      ? ctx.loaders.runById.load(ref.id)
      : ctx.loaders.runByTrainAndDate.load(`${ref.trainNumber}|${ref.date}`),
  trainNumber: async (run: TrainRun, _: unknown, ctx: BookingContext) => {
    const train = await ctx.loaders.trainById.load(run.trainId);
    if (!train) throw notFound(`Train of run ${run.id} not found`);
    return train.number;
  },
  date: (run: TrainRun) => isoDate(run.date),
  train: (run: TrainRun, _: unknown, ctx: BookingContext) => ctx.loaders.trainById.load(run.trainId),
  availability: (run: TrainRun, args: { from: string; to: string; class?: TravelClass | null }, ctx: BookingContext) =>
    availabilityOfRun(run, args.from, args.to, args.class, ctx),
};
