// The booking side of the payment saga: payment.succeeded confirms the hold (or, when its berths
// are gone, the lifecycle's confirm writes reservation.refund_required), payment.failed releases it. The inbox
// row and the state change commit together, so a redelivered event changes nothing.
import type { PrismaClient } from '@tatkal/db';
import {
  DeadLetterError,
  eventTopology,
  isUuid,
  recordInbox,
  startConsumer,
  type AmqpConnection,
  type Consumer,
  type Envelope,
  type HandlerContext,
  type Logger,
} from '@tatkal/common';
import { confirm, release } from '../domain/lifecycle/index.ts';
import type { ReservationSettings } from '../domain/types.ts';

export type PaymentEventOutcome =
  | 'DUPLICATE'
  | 'IGNORED'
  | Awaited<ReturnType<typeof confirm>>
  | Awaited<ReturnType<typeof release>>;

/** Applies one payment event exactly once (per message id). */
export async function applyPaymentEvent(
  prisma: PrismaClient,
  settings: ReservationSettings,
  envelope: Envelope,
  logger: Logger,
): Promise<PaymentEventOutcome> {
  const reservationId = envelope.data.reservationId;
  if (envelope.type !== 'payment.succeeded' && envelope.type !== 'payment.failed') {
    logger.info({ type: envelope.type }, 'payment event of no interest to booking');
    return 'IGNORED';
  }
  if (!isUuid(reservationId)) {
    // No retry can fix a payload without a reservation: straight to the DLQ for an operator.
    throw new DeadLetterError(`${envelope.type} ${envelope.id} has no valid data.reservationId`);
  }
  const outcome = await prisma.$transaction(
    async (tx) => {
      if (!(await recordInbox(tx, 'booking', envelope))) return 'DUPLICATE' as const;
      return envelope.type === 'payment.succeeded' ? confirm(tx, reservationId) : release(tx, reservationId, settings);
    },
    { maxWait: settings.txMaxWaitMs, timeout: settings.txTimeoutMs },
  );
  const log = logger.child({ reservationId, type: envelope.type, outcome });
  if (outcome === 'NOT_FOUND' || outcome === 'REFUND_REQUIRED') log.warn('payment event applied');
  else log.info('payment event applied');
  return outcome;
}

export interface PaymentEventsOptions {
  connection: AmqpConnection;
  prisma: PrismaClient;
  settings: ReservationSettings;
  logger: Logger;
  /** Exchange and queue name prefix ('' in production; unique per test). */
  prefix?: string;
  prefetch?: number;
  maxAttempts?: number;
  retryDelayMs?: number;
  /** Sees each applied outcome (tests, metrics). */
  onOutcome?: (outcome: PaymentEventOutcome, envelope: Envelope) => void;
}

/** Consumes `booking.payment-events` (bound to payments / payment.*). */
export function startPaymentEventsConsumer(opts: PaymentEventsOptions): Consumer {
  const spec = eventTopology(opts.prefix ?? '').queues.bookingPaymentEvents;
  return startConsumer({
    connection: opts.connection,
    queue: spec.queue,
    bindings: spec.bindings,
    prefetch: opts.prefetch ?? 10,
    maxAttempts: opts.maxAttempts,
    retryDelayMs: opts.retryDelayMs,
    logger: opts.logger,
    handler: async (envelope: Envelope, ctx: HandlerContext) => {
      const outcome = await applyPaymentEvent(opts.prisma, opts.settings, envelope, ctx.logger);
      opts.onOutcome?.(outcome, envelope);
    },
  });
}
