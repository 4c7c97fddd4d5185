import { createIdempotency, type IdentityAssertions, type Logger, type Redis } from '@tatkal/common';
import { Prisma, type PrismaClient } from '@tatkal/db';
import { createBookingClient } from './bookingClient.ts';
import type { PaymentDeps } from './context.ts';
import { createPaymentInserts } from './domain/payments.ts';
import { createProviderClient } from './provider/client.ts';

/** The payment service's long-lived collaborators, one of each per process. */
export function createPaymentDeps(
  prisma: PrismaClient,
  redis: Redis | null,
  urls: { bookingUrl: string; providerUrl: string; identityAssertions?: IdentityAssertions },
  /** Hears about a batch of inserts that failed (each payment is then inserted alone). */
  log: Pick<Logger, 'warn'>,
): PaymentDeps {
  return {
    prisma,
    idempotency: createIdempotency({ db: prisma, sql: Prisma, schema: 'payment', redis }),
    booking: createBookingClient(urls.bookingUrl, { assertions: urls.identityAssertions }),
    provider: createProviderClient(urls.providerUrl),
    inserts: createPaymentInserts(prisma, log),
  };
}
