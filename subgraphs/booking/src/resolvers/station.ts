import type { Station } from '@tatkal/db';
import type { BookingContext } from '../context.ts';

export const StationResolvers = {
  __resolveReference: (ref: { code: string }, ctx: BookingContext) => ctx.loaders.stationByCode.load(ref.code),
  zone: (s: Station) => s.zone,
};
