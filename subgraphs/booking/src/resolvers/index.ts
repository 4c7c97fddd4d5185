import { DateScalar, DateTimeScalar } from '@tatkal/common';
import type { Resolvers } from '../generated/resolvers.ts';
import { ChartReportResolvers, MutationResolvers, RunCancellationResolvers } from './mutation.ts';
import { QueryResolvers } from './query.ts';
import { ReservationResolvers, UserResolvers } from './reservation.ts';
import { StationResolvers } from './station.ts';
import { TrainResolvers, TrainStopResolvers } from './train.ts';
import { TrainRunResolvers } from './trainRun.ts';

export const resolvers: Resolvers = {
  Date: DateScalar,
  DateTime: DateTimeScalar,
  Query: QueryResolvers,
  Mutation: MutationResolvers,
  RunCancellation: RunCancellationResolvers,
  ChartReport: ChartReportResolvers,
  Reservation: ReservationResolvers,
  User: UserResolvers,
  Station: StationResolvers,
  Train: TrainResolvers,
  TrainStop: TrainStopResolvers,
  TrainRun: TrainRunResolvers,
};
