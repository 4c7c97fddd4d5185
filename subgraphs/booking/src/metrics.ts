// Booking's own Prometheus metrics (docs/operations.md); the process registry serves them on /metrics.
import { counter } from '@tatkal/common';

export const reservationOutcomes = counter({
  name: 'tatkal_reservation_outcomes_total',
  help: 'reserveSeats outcomes: held, waitlisted, or the error code in lower case (sold_out, seat_unavailable, try_again, ...)',
  labelNames: ['outcome'],
});

export const holdsExpired = counter({
  name: 'tatkal_holds_expired_total',
  help: 'Unpaid holds the sweeper expired (berths freed, waitlist promoted)',
});
