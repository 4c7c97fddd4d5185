import type { PrismaClient } from '@tatkal/db';
import type { Idempotency, LockManager, Redis, RequestContext } from '@tatkal/common';
import { createLoaders, type Loaders } from './domain/network.ts';
import type { ReservationDeps } from './domain/reservations.ts';

export interface BookingDeps {
  prisma: PrismaClient;
  redis: Redis | null;
  locks: LockManager;
  idempotency: Idempotency;
  reservations: ReservationDeps;
}

export interface BookingContext extends RequestContext, BookingDeps {
  loaders: Loaders;
}

export function bookingContext(deps: BookingDeps, base: RequestContext): BookingContext {
  return { ...base, ...deps, loaders: createLoaders(deps.prisma) };
}
