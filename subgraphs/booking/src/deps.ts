import { createIdempotency, createLockManager, type Redis } from '@tatkal/common';
import type { PrismaClient } from '@tatkal/db';
import type { BookingDeps } from './context.ts';
import { createFreeSeatReader } from './domain/inventory.ts';
import { createLayoutCache } from './domain/layout.ts';
import { defaultReservationSettings, type ReservationSettings } from './domain/reservations.ts';
import { reservationOutcomes } from './metrics.ts';

/** The booking service's long-lived collaborators, one of each per process. */
export function createBookingDeps(prisma: PrismaClient, redis: Redis | null, settings: Partial<ReservationSettings> = {}): BookingDeps {
  const locks = createLockManager(redis);
  return {
    prisma,
    redis,
    locks,
    idempotency: createIdempotency({ db: prisma, schema: 'booking', redis }),
    reservations: {
      prisma,
      locks,
      layouts: createLayoutCache(prisma),
      freeSeats: createFreeSeatReader(prisma),
      settings: { ...defaultReservationSettings, ...settings },
      onOutcome: (outcome) => reservationOutcomes.inc({ outcome }),
    },
  };
}
