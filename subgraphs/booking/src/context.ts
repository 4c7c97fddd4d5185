import type { PrismaClient } from '@tatkal/db';
import type { Idempotency, LockManager, Redis, RequestContext } from '@tatkal/common';
import { availabilityLoaders, type AvailabilityLoaders } from './domain/availability.ts';
import { createLoaders, type Loaders } from './domain/network.ts';
import { reservationPageLoader, reservationViewLoader, type ReservationPageLoader, type ReservationViewLoader } from './domain/reservationViews.ts';
import type { ReservationDeps } from './domain/reservations.ts';

export interface BookingDeps {
  prisma: PrismaClient;
  redis: Redis | null;
  locks: LockManager;
  idempotency: Idempotency;
  reservations: ReservationDeps;
}

export interface BookingContext extends RequestContext, BookingDeps {
  /** Per-request batch loaders: one query per kind however many references a plan sends. */
  loaders: Loaders & { availability: AvailabilityLoaders; reservationView: ReservationViewLoader; reservationPage: ReservationPageLoader };
}

export function bookingContext(deps: BookingDeps, base: RequestContext): BookingContext {
  const network = createLoaders(deps.prisma);
  const reservationView = reservationViewLoader(deps.prisma, network);
  return {
    ...base,
    ...deps,
    loaders: { ...network, availability: availabilityLoaders(deps.prisma), reservationView, reservationPage: reservationPageLoader(deps.prisma, reservationView) },
  };
}
