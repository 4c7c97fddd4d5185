import type { Payment } from '@tatkal/db';
import { DateTimeScalar, unauthenticated } from '@tatkal/common';
import type { PaymentContext } from '../context.ts';

const isUuid = (id: string) => /^[0-9a-f-]{36}$/i.test(id);

/** A payment is visible to its owner and to admins; to anyone else it does not exist. */
function visible(payment: Payment | null, ctx: PaymentContext): Payment | null {
  if (!payment || !ctx.identity) return null;
  return ctx.identity.role === 'ADMIN' || payment.userId === ctx.identity.userId ? payment : null;
}

export const resolvers = {
  DateTime: DateTimeScalar,
  Query: {
    payment: async (_: unknown, args: { id: string }, ctx: PaymentContext) => {
      if (!ctx.identity) throw unauthenticated();
      return isUuid(args.id) ? visible(await ctx.prisma.payment.findUnique({ where: { id: args.id } }), ctx) : null;
    },
  },
  Payment: {
    __resolveReference: async (ref: { id: string }, ctx: PaymentContext) =>
      isUuid(ref.id) ? visible(await ctx.prisma.payment.findUnique({ where: { id: ref.id } }), ctx) : null,
  },
};
