import { chain, isAdmin, isAuthenticated, permissions, rateLimit } from '@tatkal/common';

/** Who may call what; resolvers check ownership (owner or admin) on the records themselves. */
export const bookingPermissions = permissions({
  Query: {
    reservation: isAuthenticated,
    myReservations: isAuthenticated,
    cancellationQuote: isAuthenticated,
  },
  Mutation: {
    // Also limited per user at the gateway; this holds for callers that reach booking another way.
    reserveSeats: chain(isAuthenticated, rateLimit({ per: 'user', max: 30, windowMs: 60_000 })),
    cancelReservation: isAuthenticated,
    cancelRun: isAdmin,
    prepareChart: isAdmin,
  },
});
