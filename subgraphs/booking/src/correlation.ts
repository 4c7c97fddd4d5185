// The PNR on every log line of a booking mutation once it is known: cancelReservation names it
// in its arguments, reserveSeats learns it when the reservation is made (lines written after the
// resolver, such as the operation log line, carry it). The fields go into the request's log
// scope (packages/common/src/logger.ts). Only these two fields are wrapped: no cost elsewhere.
import { addLogFields } from '@tatkal/common';
import type { GraphQLResolveInfo } from 'graphql';
import type { BookingContext } from './context.ts';

// graphql-middleware's `resolve`: the field's own resolver, called with the field's arguments.
type Resolve = (
  parent?: unknown,
  args?: Record<string, unknown>,
  ctx?: BookingContext,
  info?: GraphQLResolveInfo,
) => unknown;

async function withResultPnr(
  resolve: Resolve,
  parent: unknown,
  args: Record<string, unknown>,
  ctx: BookingContext,
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
  ctx: BookingContext,
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
