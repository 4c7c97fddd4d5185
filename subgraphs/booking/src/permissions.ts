import { isAuthenticated, permissions } from '@tatkal/common';

/** Who may call what; resolvers check ownership (owner or admin) on the records themselves. */
export const bookingPermissions = permissions({
  Query: {
    reservation: isAuthenticated,
    myReservations: isAuthenticated,
  },
  Mutation: {
    reserveSeats: isAuthenticated,
    cancelReservation: isAuthenticated,
  },
});
