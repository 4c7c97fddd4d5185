import { chain, isAuthenticated, permissions, rateLimit } from '@tatkal/common';

/** Who may call what; resolvers check ownership (owner or admin) on the records themselves. */
export const paymentPermissions = permissions({
  Query: {
    payment: isAuthenticated,
    myPayments: isAuthenticated,
  },
  Mutation: {
    // Also limited per user at the gateway; this holds for callers that reach payment another way.
    createPayment: chain(isAuthenticated, rateLimit({ per: 'user', max: 30, windowMs: 60_000 })),
  },
});
