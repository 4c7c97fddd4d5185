import type { PrismaClient } from '@tatkal/db';
import type { Idempotency, Redis, RequestContext } from '@tatkal/common';
import { availabilityLoaders, type AvailabilityLoaders } from './domain/availability.ts';
import { createLoaders, type Loaders } from './domain/network.ts';
import type { LayoutCache } from './domain/layout.ts';
import type { ReservationQueue } from './domain/queue.ts';
import type { Refusals } from './domain/refusals.ts';
import type { ReservationSettings } from './domain/types.ts';
import {
  reservationPageLoader,
  reservationViewLoader,
  type ReservationPageLoader,
  type ReservationViewLoader,
} from './domain/views.ts';

/** The reservation path's collaborators. */
export interface ReservationDeps {
  prisma: PrismaClient;
  idempotency: Idempotency;
  layouts: LayoutCache;
  settings: ReservationSettings;
  queue: ReservationQueue;
  refusals: Refusals;
}

export interface BookingDeps {
  prisma: PrismaClient;
  redis: Redis | null;
  idempotency: Idempotency;
  reservations: ReservationDeps;
}

export interface BookingContext extends RequestContext, BookingDeps {
  /** Per-request batch loaders: one query per kind however many references a plan sends. */
  loaders: Loaders & {
    availability: AvailabilityLoaders;
    reservationView: ReservationViewLoader;
    reservationPage: ReservationPageLoader;
  };
}

export function bookingContext(deps: BookingDeps, base: RequestContext): BookingContext {
  const network = createLoaders(deps.prisma);
  const reservationView = reservationViewLoader(deps.prisma, network);
  return {
    ...base,
    ...deps,
    loaders: {
      ...network,
      availability: availabilityLoaders(deps.prisma),
      reservationView,
      reservationPage: reservationPageLoader(deps.prisma, reservationView),
    },
  };
}
