import { cancelReservation } from '../domain/cancel.ts';
import type * as Types from '../generated/resolvers.ts';

export const MutationResolvers: Types.MutationResolvers = {
  // Validated, then queued for the run's allocator: the outcome, or QUEUED with a position
  // (domain/queue.ts). The shield rule guarantees an identity.
  reserveSeats: (_, args, ctx) => ctx.reservations.queue.reserveSeats(ctx.identity!, args.input, args.idempotencyKey),
  cancelReservation: async (_, args, ctx) => {
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
    ctx.reservations.refusals.invalidate(view.runId, view.class, view.quota);
    return view;
  },
};
