// The payment side of the booking saga: a paid reservation cancelled (data.refundPaise > 0), or a
// payment that came after its hold expired and lost its berths (reservation.refund_required),
// becomes a refund. The inbox row and the refund request commit in one transaction, so a
// redelivered event never refunds twice.
import type { Prisma, PrismaClient } from '@tatkal/db';
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
import { RefundNotPossibleError, type RefundRequest } from '../domain/refunds.ts';

/**
 * `requestRefund` of src/domain/refunds.ts bound to the provider (`refundRequester`), injected by
 * service.ts. It is called with the consumer's transaction client so the Refund row commits
 * together with the inbox row; it refunds once per (payment, reason).
 */
export type RequestRefund = (db: Prisma.TransactionClient, input: RefundRequest) => Promise<unknown>;

export type BookingEventOutcome = 'DUPLICATE' | 'IGNORED' | 'REFUND_REQUESTED';

/** What an event asks of payment: a refund (reason, amount) or nothing. */
export function refundFor(envelope: Envelope): RefundRequest | null {
  const { reservationId, refundPaise } = envelope.data;
  const amount = typeof refundPaise === 'number' && Number.isInteger(refundPaise) ? refundPaise : 0;
  if (envelope.type !== 'reservation.cancelled' && envelope.type !== 'reservation.refund_required') return null;
  if (envelope.type === 'reservation.cancelled' && amount <= 0) return null; // unpaid: nothing to give back
  if (!isUuid(reservationId) || amount <= 0) {
    // No retry can repair the payload: straight to the DLQ for an operator.
    throw new DeadLetterError(
      `${envelope.type} ${envelope.id} needs data.reservationId and a positive data.refundPaise`,
    );
  }
  // Each (partial) cancellation is its own refund, so its reason names the event; a late payment
  // is refunded once per reservation.
  return {
    reservationId,
    amountPaise: amount,
    reason:
      envelope.type === 'reservation.cancelled' ? `RESERVATION_CANCELLED:${envelope.id}` : 'HOLD_EXPIRED_BERTHS_GONE',
  };
}

export async function applyBookingEvent(
  prisma: PrismaClient,
  requestRefund: RequestRefund,
  envelope: Envelope,
  logger: Logger,
): Promise<BookingEventOutcome> {
  const refund = refundFor(envelope);
  if (!refund) return 'IGNORED';
  const outcome = await prisma
    .$transaction(
      async (tx) => {
        if (!(await recordInbox(tx, 'payment', envelope))) return 'DUPLICATE' as const;
        await requestRefund(tx, refund);
        return 'REFUND_REQUESTED' as const;
      },
      // The provider is called inside; its idempotency key makes a rolled-back attempt safe.
      { maxWait: 5_000, timeout: 15_000 },
    )
    .catch((err: unknown) => {
      // No payment to refund, or more than is still refundable: retrying changes nothing.
      throw err instanceof RefundNotPossibleError ? new DeadLetterError(err.message) : err;
    });
  logger.info({ ...refund, outcome }, 'booking event applied');
  return outcome;
}

export interface BookingEventsOptions {
  connection: AmqpConnection;
  prisma: PrismaClient;
  requestRefund: RequestRefund;
  logger: Logger;
  prefix?: string;
  prefetch?: number;
  maxAttempts?: number;
  retryDelayMs?: number;
}

/** Consumes `payment.booking-events` (bound to booking / reservation.cancelled and reservation.refund_required). */
export function startBookingEventsConsumer(opts: BookingEventsOptions): Consumer {
  const spec = eventTopology(opts.prefix ?? '').queues.paymentBookingEvents;
  return startConsumer({
    connection: opts.connection,
    queue: spec.queue,
    bindings: spec.bindings,
    prefetch: opts.prefetch ?? 10,
    maxAttempts: opts.maxAttempts,
    retryDelayMs: opts.retryDelayMs,
    logger: opts.logger,
    handler: async (envelope: Envelope, ctx: HandlerContext) => {
      await applyBookingEvent(opts.prisma, opts.requestRefund, envelope, ctx.logger);
    },
  });
}
