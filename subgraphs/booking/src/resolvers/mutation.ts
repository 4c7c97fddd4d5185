import type { BookingContext } from '../context.ts';
import { cancelReservation } from '../domain/cancel.ts';
import type { ReserveInput } from '../domain/types.ts';

export const MutationResolvers = {
  // Validated, then queued for the run's allocator: the outcome, or QUEUED with a position
  // (domain/queue.ts). The shield rule guarantees an identity.
  reserveSeats: (_: unknown, args: { input: ReserveInput; idempotencyKey: string }, ctx: BookingContext) =>
    ctx.reservations.queue.reserveSeats(ctx.identity!.userId, args.input, args.idempotencyKey),
  cancelReservation: async (
    _: unknown,
    args: { pnr: string; passengerIds?: string[] | null; idempotencyKey: string },
    ctx: BookingContext,
  ) => {
    const view = await ctx.idempotency.run(
      {
        userId: ctx.identity!.userId,
        operation: 'cancelReservation',
        key: args.idempotencyKey,
        request: { pnr: args.pnr, passengerIds: args.passengerIds ?? null },
      },
      () => cancelReservation(ctx.reservations, ctx.identity!, { pnr: args.pnr, passengerIds: args.passengerIds }),
    );
    // Berths were freed: what newcomers were refused from memory no longer holds.
    ctx.reservations.refusals.invalidate(view.runId, view.class);
    return view;
  },
};
