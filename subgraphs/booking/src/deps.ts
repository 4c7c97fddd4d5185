import { createIdempotency, createLeaseManager, type Logger, type Redis } from '@tatkal/common';
import { Prisma, type PrismaClient } from '@tatkal/db';
import type { BookingDeps } from './context.ts';
import { createAvailabilityCache } from './domain/availabilityCache.ts';
import { createLayoutCache } from './domain/layout.ts';
import { createReservationQueue } from './domain/queue.ts';
import { createRefusals } from './domain/refusals.ts';
import { defaultReservationSettings, type ReservationSettings } from './domain/types.ts';
import { allocationBatchSeconds, allocationBatchSize, availabilityCacheReads, reservationOutcomes } from './metrics.ts';

/** The booking service's long-lived collaborators, one of each per process. */
export function createBookingDeps(
  prisma: PrismaClient,
  redis: Redis | null,
  logger: Logger,
  overrides: Partial<ReservationSettings> & { runCancelBatchSize?: number } = {},
  /** The clock requests are judged by (booking windows); tests move it. */
  now?: () => Date,
  /** Waiting-room draws: a CSPRNG unless a test seeds its own. */
  random?: () => number,
): BookingDeps {
  const { runCancelBatchSize, ...rest } = overrides;
  const settings = { ...defaultReservationSettings, ...rest };
  const idempotency = createIdempotency({ db: prisma, sql: Prisma, schema: 'booking', redis });
  const layouts = createLayoutCache(prisma);
  const refusals = createRefusals(redis, settings.waitlistLimit);
  const availability = createAvailabilityCache({
    redis,
    ttlMs: settings.availabilityCacheMs,
    onResult: (result) => availabilityCacheReads.inc({ result }),
  });
  const queue = createReservationQueue({
    prisma,
    redis,
    idempotency,
    layouts,
    leases: createLeaseManager(redis, settings.leaseMs),
    refusals,
    settings,
    logger,
    now,
    random,
    onOutcome: (outcome) => reservationOutcomes.inc({ outcome }),
    onBatch: (report) => {
      if (report.decided.length > 0) availability.changed(report.runId);
      allocationBatchSize.observe(report.decided.length);
      allocationBatchSeconds.observe(report.ms / 1000);
    },
  });
  return {
    prisma,
    redis,
    idempotency,
    reservations: { prisma, idempotency, layouts, settings, queue, refusals, availability, now, runCancelBatchSize },
  };
}
