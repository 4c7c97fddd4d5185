import { formatClock } from '@tatkal/common';
import type * as Types from '../generated/resolvers.ts';

export const TrainResolvers: Types.TrainResolvers = {
  __resolveReference: (ref, ctx) => ctx.loaders.trainByNumber.load(ref.number),
  stops: (t, _, ctx) => ctx.loaders.stopsByTrainId.load(t.id),
  classes: (t, _, ctx) => ctx.loaders.classesByTrainId.load(t.id),
};

export const TrainStopResolvers: Types.TrainStopResolvers = {
  sequence: (s) => s.seq,
  arrival: (s) => formatClock(s.arrivalMin),
  departure: (s) => formatClock(s.departureMin),
  day: (s) => Math.floor((s.departureMin ?? s.arrivalMin ?? 0) / 1440) + 1,
};
