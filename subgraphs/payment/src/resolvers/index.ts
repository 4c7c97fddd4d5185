import type { Payment } from '@tatkal/db';
import { DateTimeScalar, isRetryableDbError, tryAgain, unauthenticated, type Identity } from '@tatkal/common';
import type { PaymentContext } from '../context.ts';
import { createPayment, isUuid, paymentsOf } from '../domain/payments.ts';

const canRead = (who: Identity | null, userId: string) => !!who && (who.role === 'ADMIN' || who.userId === userId);

/** A payment is visible to its owner and to admins; to anyone else it does not exist. */
function visible(payment: Payment | null, ctx: PaymentContext): Payment | null {
  return payment && canRead(ctx.identity, payment.userId) ? payment : null;
}

export const resolvers = {
  DateTime: DateTimeScalar,
  Query: {
    payment: async (_: unknown, args: { id: string }, ctx: PaymentContext) => {
      if (!ctx.identity) throw unauthenticated();
      return isUuid(args.id) ? visible(await ctx.prisma.payment.findUnique({ where: { id: args.id } }), ctx) : null;
    },
    myPayments: (_: unknown, args: { first?: number | null; after?: string | null }, ctx: PaymentContext) =>
      paymentsOf(ctx.prisma, ctx.identity!.userId, args.first, args.after),
  },
  Mutation: {
    createPayment: (_: unknown, args: { reservationId: string; idempotencyKey: string }, ctx: PaymentContext) => {
      const identity = ctx.identity!; // the shield rule guarantees an identity
      return ctx.idempotency
        .run({ userId: identity.userId, operation: 'createPayment', key: args.idempotencyKey, request: { reservationId: args.reservationId } }, () =>
          createPayment(ctx, { identity, authorization: ctx.authorization ?? '', requestId: ctx.requestId, log: ctx.log }, args.reservationId),
        )
        .catch((err: unknown) => {
          throw isRetryableDbError(err) ? tryAgain() : err;
        });
    },
  },
  Payment: {
    __resolveReference: async (ref: { id: string }, ctx: PaymentContext) =>
      isUuid(ref.id) ? visible(await ctx.prisma.payment.findUnique({ where: { id: ref.id } }), ctx) : null,
    refunds: (payment: { id: string }, _: unknown, ctx: PaymentContext) =>
      ctx.prisma.refund.findMany({ where: { paymentId: payment.id }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] }),
  },
  Reservation: {
    // Booking owns the reservation; payment only adds its payment, visible to the payer or an admin.
    __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
    payment: async (reservation: { id: string }, _: unknown, ctx: PaymentContext) => {
      if (!isUuid(reservation.id)) return null;
      const latest = await ctx.prisma.payment.findFirst({ where: { reservationId: reservation.id }, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] });
      return visible(latest, ctx);
    },
  },
  User: {
    __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
    payments: (user: { id: string }, args: { first?: number | null; after?: string | null }, ctx: PaymentContext) =>
      isUuid(user.id) && canRead(ctx.identity, user.id) ? paymentsOf(ctx.prisma, user.id, args.first, args.after) : { nodes: [], nextCursor: null },
  },
};
