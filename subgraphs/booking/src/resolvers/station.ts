import type * as Types from '../generated/resolvers.ts';

export const StationResolvers: Types.StationResolvers = {
  __resolveReference: (ref, ctx) => ctx.loaders.stationByCode.load(ref.code),
  zone: (s) => s.zone,
};
