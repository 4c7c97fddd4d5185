import { chain, isAuthenticated, permissions, rateLimit } from '@tatkal/common';

/** Who may call what; resolvers check ownership (owner or admin) on the records themselves. */
export const paymentPermissions = permissions({
  Query: {
    payment: isAuthenticated,
    myPayments: isAuthenticated,
  },
  Mutation: {
    // Limited per user at the gateway (RATE_LIMIT_EXPENSIVE); here only callers that reach payment
    // another way (no gateway signature), so a gateway request costs one count, not two.
    createPayment: chain(
      isAuthenticated,
      rateLimit({ per: 'user', max: 30, windowMs: 60_000, limitedByGateway: true }),
    ),
  },
});
