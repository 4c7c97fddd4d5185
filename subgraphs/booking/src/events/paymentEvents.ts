// The booking side of the payment saga: payment.succeeded confirms the hold (or, when its berths
// are gone, the lifecycle's confirm writes reservation.refund_required), payment.failed releases it. The inbox
// row and the state change commit together, so a redelivered event changes nothing.
import type { PrismaClient } from '@tatkal/db';
import {
  DeadLetterError,
  eventTopology,
  ALONE,
  groupCommitOrAlone,
  isUuid,
  recordInbox,
  recordInboxes,
  startConsumer,
  type AmqpConnection,
  type Consumer,
  type Envelope,
  type HandlerContext,
  type Logger,
} from '@tatkal/common';
import { confirm, confirmHeld, lockForConfirm, quickConfirm, release } from '../domain/lifecycle/index.ts';
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
  logApplied(logger, envelope, outcome);
  return outcome;
}

/** Most payment.succeeded events confirmed in one transaction. */
const CONFIRM_BATCH = 64;

/**
 * `applyPaymentEvent` for a stream of events: payment.succeeded events that arrive while a batch
 * is being written are applied together in ONE transaction (group commit): their reservations
 * locked in id order, their inbox rows in one statement, the held ones confirmed in one statement.
 * Per event the outcome is the one `applyPaymentEvent` gives. Anything the fast path does not
 * cover (another event type, a reservation to reacquire or refund, a second event for one
 * reservation or one message id in the batch) and every event of a batch whose transaction failed
 * is applied alone, so an error belongs to its own message (retry, DLQ).
 */
export function paymentEventApplier(prisma: PrismaClient, settings: ReservationSettings, logger: Logger) {
  const batched = groupCommitOrAlone<Envelope, PaymentEventOutcome>({
    maxBatch: CONFIRM_BATCH,
    // A second copy of a message, or a second event for a reservation, goes alone after the batch.
    keysOf: (e) => [`message:${e.id}`, `reservation:${e.data.reservationId as string}`],
    onError: (err, events) => logger.warn({ err, events }, 'batch of payment events failed; applying them one by one'),
    write: (batch) =>
      prisma.$transaction(
        async (tx) => {
          const reservationOf = (e: Envelope) => e.data.reservationId as string;
          const locked = await lockForConfirm(tx, batch.map(reservationOf));
          const quick = batch.map((e) => quickConfirm(locked.get(reservationOf(e))));
          const fresh = await recordInboxes(
            tx,
            'booking',
            batch.filter((_, i) => quick[i] !== null),
          );
          const held = batch.filter((e, i) => quick[i] === 'CONFIRM' && fresh.has(e.id));
          await confirmHeld(
            tx,
            held.map((e) => locked.get(reservationOf(e))!),
          );
          return batch.map((e, i) => {
            const q = quick[i] ?? null;
            return q === null ? ALONE : !fresh.has(e.id) ? 'DUPLICATE' : q === 'CONFIRM' ? 'CONFIRMED' : q;
          });
        },
        { maxWait: settings.txMaxWaitMs, timeout: settings.txTimeoutMs },
      ),
  });

  return async (envelope: Envelope, log: Logger): Promise<PaymentEventOutcome> => {
    if (envelope.type !== 'payment.succeeded' || !isUuid(envelope.data.reservationId)) {
      return applyPaymentEvent(prisma, settings, envelope, log);
    }
    const outcome = await batched(envelope);
    if (outcome === ALONE) return applyPaymentEvent(prisma, settings, envelope, log);
    logApplied(log, envelope, outcome);
    return outcome;
  };
}

function logApplied(logger: Logger, envelope: Envelope, outcome: PaymentEventOutcome) {
  const log = logger.child({ reservationId: envelope.data.reservationId, type: envelope.type, outcome });
  if (outcome === 'NOT_FOUND' || outcome === 'REFUND_REQUIRED') log.warn('payment event applied');
  else log.info('payment event applied');
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
  const apply = paymentEventApplier(opts.prisma, opts.settings, opts.logger);
  return startConsumer({
    connection: opts.connection,
    queue: spec.queue,
    bindings: spec.bindings,
    // As many as one batch confirms (CONFIRM_BATCH): a rush's payments arrive together.
    prefetch: opts.prefetch ?? CONFIRM_BATCH,
    maxAttempts: opts.maxAttempts,
    retryDelayMs: opts.retryDelayMs,
    logger: opts.logger,
    handler: async (envelope: Envelope, ctx: HandlerContext) => {
      const outcome = await apply(envelope, ctx.logger);
      opts.onOutcome?.(outcome, envelope);
    },
  });
}
