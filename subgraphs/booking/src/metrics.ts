// Booking's own Prometheus metrics (docs/operations.md); the process registry serves them on /metrics.
import { counter, histogram } from '@tatkal/common';

export const reservationOutcomes = counter({
  name: 'tatkal_reservation_outcomes_total',
  help:
    'reserveSeats first answers: held, waitlisted, queued (answered QUEUED), replayed, ' +
    'or the error code in lower case (sold_out, seat_unavailable, try_again, ...)',
  labelNames: ['outcome'],
});

export const availabilityCacheReads = counter({
  name: 'tatkal_booking_availability_cache_total',
  help:
    'Availability reads per run, journey and quota: hit (from memory), miss (read from the database and kept), ' +
    'bypass (cache off, or Redis did not answer)',
  labelNames: ['result'],
});

export const holdsExpired = counter({
  name: 'tatkal_holds_expired_total',
  help: 'Unpaid holds the sweeper expired (berths freed, waitlist promoted)',
});

export const allocationBatchSize = histogram({
  name: 'tatkal_allocation_batch_size',
  help: 'Requests the allocator decided per transaction',
  buckets: [1, 2, 5, 10, 25, 50, 100, 200, 300, 500, 1000],
});

export const allocationBatchSeconds = histogram({
  name: 'tatkal_allocation_batch_seconds',
  help: 'Time of one allocation batch, from its first read to its commit',
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
});

export const inventoryPrepared = counter({
  name: 'tatkal_inventory_runs_prepared_total',
  help: 'Runs whose seat inventory was created ahead of their booking window',
});

export const runsScheduled = counter({
  name: 'tatkal_runs_scheduled_total',
  help: 'Train runs the run scheduler created on the rolling horizon',
});

export const chartsPrepared = counter({
  name: 'tatkal_charts_prepared_total',
  help: 'Charts prepared (first: 4 h before departure, second: 30 minutes before), by the scheduler or prepareChart',
  labelNames: ['chart'],
});
