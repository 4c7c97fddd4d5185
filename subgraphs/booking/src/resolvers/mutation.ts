import { isRetryableDbError, tryAgain } from '@tatkal/common';
import type { BookingContext } from '../context.ts';
import { cancelReservation, reserveSeats, validateReserve, type ReserveInput } from '../domain/reservations.ts';

export const MutationResolvers = {
  reserveSeats: async (_: unknown, args: { input: ReserveInput; idempotencyKey: string }, ctx: BookingContext) => {
    const userId = ctx.identity!.userId; // the shield rule guarantees an identity
    return ctx.idempotency
      .runAtomically({ userId, operation: 'reserveSeats', key: args.idempotencyKey, request: args.input }, async (complete) => {
        const valid = await validateReserve(ctx.reservations, args.input);
        // The response is recorded in the reservation's own transaction: no claim beforehand.
        return reserveSeats(ctx.reservations, userId, valid, complete);
      })
      .catch((err: unknown) => {
        throw isRetryableDbError(err) ? tryAgain() : err;
      });
  },
  cancelReservation: (_: unknown, args: { pnr: string; passengerIds?: string[] | null; idempotencyKey: string }, ctx: BookingContext) =>
    ctx.idempotency.run(
      { userId: ctx.identity!.userId, operation: 'cancelReservation', key: args.idempotencyKey, request: { pnr: args.pnr, passengerIds: args.passengerIds ?? null } },
      () => cancelReservation(ctx.reservations, ctx.identity!, { pnr: args.pnr, passengerIds: args.passengerIds }),
    ),
};
