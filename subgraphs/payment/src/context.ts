import type { PrismaClient } from '@tatkal/db';
import type { Idempotency, RequestContext } from '@tatkal/common';
import type { BookingClient } from './bookingClient.ts';
import type { PaymentInserts } from './domain/payments.ts';
import type { ProviderClient } from './provider/client.ts';

/** The payment service's long-lived collaborators, one of each per process. */
export interface PaymentDeps {
  prisma: PrismaClient;
  idempotency: Idempotency;
  booking: BookingClient;
  provider: ProviderClient;
  /** New payments' inserts, batched per process. */
  inserts: PaymentInserts;
}

export interface PaymentContext extends RequestContext, PaymentDeps {}
