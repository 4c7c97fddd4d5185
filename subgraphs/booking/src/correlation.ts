// The PNR on every log line of a booking mutation once it is known: cancelReservation names it
// in its arguments, reserveSeats learns it when the reservation is made (lines written after the
// resolver, such as the operation log line, carry it). The fields go into the request's log
// scope (packages/common/src/logger.ts). Only these two fields are wrapped: no cost elsewhere.
import { addLogFields } from '@tatkal/common';
import type { GraphQLResolveInfo } from 'graphql';

// graphql-middleware's `resolve` (its parameters are typed loosely there too).
type Resolve = (parent?: any, args?: any, ctx?: any, info?: GraphQLResolveInfo) => unknown;

async function withResultPnr(
  resolve: Resolve,
  parent: unknown,
  args: unknown,
  ctx: unknown,
  info: GraphQLResolveInfo,
): Promise<unknown> {
  const result = await resolve(parent, args, ctx, info);
  const pnr = result && typeof result === 'object' ? (result as { pnr?: unknown }).pnr : undefined;
  if (typeof pnr === 'string') addLogFields({ pnr });
  return result;
}

async function withArgumentPnr(
  resolve: Resolve,
  parent: unknown,
  args: { pnr?: unknown },
  ctx: unknown,
  info: GraphQLResolveInfo,
): Promise<unknown> {
  if (typeof args.pnr === 'string') addLogFields({ pnr: args.pnr.trim() });
  return resolve(parent, args, ctx, info);
}

/** graphql-middleware for the booking schema (server.ts). */
export const pnrLogFields = {
  Mutation: {
    reserveSeats: withResultPnr,
    cancelReservation: withArgumentPnr,
  },
};
