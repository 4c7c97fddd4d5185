import { stationByCode } from '../domain/network.ts';
import type * as Types from '../generated/resolvers.ts';

export const StationResolvers: Types.StationResolvers = {
  __resolveReference: (ref, ctx) => stationByCode(ctx).load(ref.code),
  zone: (s) => s.zone,
};
