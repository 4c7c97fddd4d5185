import type { Train } from '@tatkal/db';
import { formatClock } from '@tatkal/common';
import type { BookingContext } from '../context.ts';
import type { StopWithStation } from '../domain/network.ts';

export const TrainResolvers = {
  __resolveReference: (ref: { number: string }, ctx: BookingContext) => ctx.loaders.trainByNumber.load(ref.number),
  stops: (t: Train, _: unknown, ctx: BookingContext) => ctx.loaders.stopsByTrainId.load(t.id),
  classes: (t: Train, _: unknown, ctx: BookingContext) => ctx.loaders.classesByTrainId.load(t.id),
};

export const TrainStopResolvers = {
  sequence: (s: StopWithStation) => s.seq,
  arrival: (s: StopWithStation) => formatClock(s.arrivalMin),
  departure: (s: StopWithStation) => formatClock(s.departureMin),
  day: (s: StopWithStation) => Math.floor((s.departureMin ?? s.arrivalMin ?? 0) / 1440) + 1,
};
