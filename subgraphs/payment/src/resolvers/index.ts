import type { Payment, Refund } from '@tatkal/db';
import { byKeys, canRead, DateTimeScalar, isUuid, requestLoader, unauthenticated } from '@tatkal/common';
import type { PaymentContext } from '../context.ts';
import type { Resolvers } from '../generated/resolvers.ts';
import { createPayment, pageArgs, paymentPages, paymentsOf, type PaymentPage } from '../domain/payments.ts';

/** A payment is visible to its owner and to admins; to anyone else it does not exist. */
function visible(payment: Payment | null, ctx: PaymentContext): Payment | null {
  return payment && canRead(ctx.identity, payment.userId) ? payment : null;
}

// Batch loaders: an `_entities` call with N references costs one query per kind, not N.

const paymentsById = requestLoader(async (ids: string[], ctx: PaymentContext): Promise<(Payment | null)[]> => {
  const valid = ids.filter(isUuid);
  const rows = valid.length ? await ctx.prisma.payment.findMany({ where: { id: { in: valid } } }) : [];
  return byKeys(ids, rows, (p) => p.id);
});

/** Oldest first, as the schema promises. */
const refundsByPaymentId = requestLoader(async (ids: string[], ctx: PaymentContext): Promise<Refund[][]> => {
  const rows = await ctx.prisma.refund.findMany({
    where: { paymentId: { in: ids } },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
  });
  return ids.map((id) => rows.filter((r) => r.paymentId === id));
});

/** The latest payment of each reservation (a reservation has a handful at most: failed tries, then one live). */
const latestPaymentByReservation = requestLoader(
  async (ids: string[], ctx: PaymentContext): Promise<(Payment | null)[]> => {
    const valid = ids.filter(isUuid);
    const rows = valid.length
      ? await ctx.prisma.payment.findMany({
          where: { reservationId: { in: valid } },
          orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        })
      : [];
    return ids.map((id) => rows.find((p) => p.reservationId === id) ?? null);
  },
);

/** Keys are JSON [userId, first, after] with arguments already checked by `pageArgs`. */
const paymentPagesByUser = requestLoader(
  (keys: string[], ctx: PaymentContext): Promise<PaymentPage[]> =>
    paymentPages(
      ctx.prisma,
      keys.map((k) => {
        const [userId, first, after] = JSON.parse(k) as [string, number | null, string | null];
        return { userId, ...pageArgs(first, after) };
      }),
    ),
);

export const resolvers: Resolvers = {
  DateTime: DateTimeScalar,
  Query: {
    payment: async (_, args, ctx) => {
      if (!ctx.identity) throw unauthenticated();
      return isUuid(args.id) ? visible(await ctx.prisma.payment.findUnique({ where: { id: args.id } }), ctx) : null;
    },
    myPayments: (_, args, ctx) => paymentsOf(ctx.prisma, ctx.identity!.userId, args.first, args.after),
  },
  Mutation: {
    createPayment: (_, args, ctx) => {
      const identity = ctx.identity!; // the shield rule guarantees an identity
      return ctx.idempotency.run(
        {
          userId: identity.userId,
          operation: 'createPayment',
          key: args.idempotencyKey,
          request: { reservationId: args.reservationId },
        },
        (_complete, completion) =>
          createPayment(
            ctx,
            {
              identity,
              authorization: ctx.authorization ?? '',
              requestId: ctx.requestId,
              clientIp: ctx.clientIp,
              log: ctx.log,
            },
            args.reservationId,
            completion,
          ),
      );
    },
  },
  Payment: {
    __resolveReference: async (ref, ctx) => visible(await paymentsById(ctx).load(ref.id), ctx),
    refunds: (payment, _, ctx) => refundsByPaymentId(ctx).load(payment.id),
  },
  Reservation: {
    // Booking owns the reservation; payment only adds its payment, visible to the payer or an admin.
    __resolveReference: (ref) => ({ id: ref.id }),
    payment: async (reservation, _, ctx) => visible(await latestPaymentByReservation(ctx).load(reservation.id), ctx),
  },
  User: {
    __resolveReference: (ref) => ({ id: ref.id }),
    payments: (user, args, ctx) => {
      if (!isUuid(user.id) || !canRead(ctx.identity, user.id)) return { nodes: [], nextCursor: null };
      pageArgs(args.first, args.after); // bad arguments fail this field alone, not the whole batch
      return paymentPagesByUser(ctx).load(JSON.stringify([user.id, args.first ?? null, args.after ?? null]));
    },
  },
};
