import { chain, isAdmin, isAuthenticated, permissions, rateLimit } from '@tatkal/common';

/** Who may call what; resolvers check ownership (owner or admin) on the records themselves. */
export const bookingPermissions = permissions({
  Query: {
    reservation: isAuthenticated,
    myReservations: isAuthenticated,
    cancellationQuote: isAuthenticated,
  },
  Mutation: {
    // Limited per user at the gateway (RATE_LIMIT_EXPENSIVE); here only callers that reach booking
    // another way (no gateway signature), so a gateway request costs one count, not two.
    reserveSeats: chain(isAuthenticated, rateLimit({ per: 'user', max: 30, windowMs: 60_000, limitedByGateway: true })),
    cancelReservation: isAuthenticated,
    cancelRun: isAdmin,
    prepareChart: isAdmin,
  },
});
