import type { PrismaClient } from '@tatkal/db';
import type { Idempotency, Redis, RequestContext } from '@tatkal/common';
import type { AvailabilityCache } from './domain/availabilityCache.ts';
import type { LayoutCache } from './domain/layout.ts';
import type { ReservationQueue } from './domain/queue.ts';
import type { Refusals } from './domain/refusals.ts';
import type { ReservationSettings } from './domain/types.ts';

/** The reservation path's collaborators. */
export interface ReservationDeps {
  prisma: PrismaClient;
  idempotency: Idempotency;
  layouts: LayoutCache;
  settings: ReservationSettings;
  queue: ReservationQueue;
  refusals: Refusals;
  /** Availability served from memory; every write that changes a run's inventory tells it (after its commit). */
  availability: AvailabilityCache;
  /** The clock booking windows are judged by (tests move it); the system clock when absent. */
  now?: () => Date;
  /** Most reservations a run's cancellation cancels per transaction (RUN_CANCEL_BATCH_SIZE). */
  runCancelBatchSize?: number;
}

export interface BookingDeps {
  prisma: PrismaClient;
  redis: Redis | null;
  idempotency: Idempotency;
  reservations: ReservationDeps;
}

/**
 * A request's context. Its batch loaders are not wired in: each is declared with `requestLoader`
 * beside its batch function (domain/network.ts, views.ts, availability.ts) and called with the
 * context, `runById(ctx).load(id)`, which gives the request its own DataLoader on first use.
 */
export interface BookingContext extends RequestContext, BookingDeps {}

export function bookingContext(deps: BookingDeps, base: RequestContext): BookingContext {
  return { ...base, ...deps };
}
