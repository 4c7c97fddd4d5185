import { formatClock } from '@tatkal/common';
import { classesByTrainId, stopsByTrainId, trainByNumber } from '../domain/network.ts';
import type * as Types from '../generated/resolvers.ts';

export const TrainResolvers: Types.TrainResolvers = {
  __resolveReference: (ref, ctx) => trainByNumber(ctx).load(ref.number),
  stops: (t, _, ctx) => stopsByTrainId(ctx).load(t.id),
  classes: (t, _, ctx) => classesByTrainId(ctx).load(t.id),
};

export const TrainStopResolvers: Types.TrainStopResolvers = {
  sequence: (s) => s.seq,
  arrival: (s) => formatClock(s.arrivalMin),
  departure: (s) => formatClock(s.departureMin),
  day: (s) => Math.floor((s.departureMin ?? s.arrivalMin ?? 0) / 1440) + 1,
};
