// What a verified provider event does, in ONE transaction: store the event once (unique provider
// event id), move the payment (and refund) through the state machine, write the outbox row that
// tells booking. A duplicate, a replay or an out-of-order event changes nothing.
import { randomUUID } from 'node:crypto';
import type { PaymentStatus, PrismaClient } from '@tatkal/db';
import { eventEnvelope, type Logger } from '@tatkal/common';
import { z } from 'zod';

const ref = z.string().min(1).max(200);
const amountPaise = z.number().int().optional();
const currency = z.string().min(1).max(10).optional();

/**
 * What every provider event carries, whatever its type: an event of a type we do not handle must
 * still be well formed (else 400) before it is acknowledged and ignored.
 */
const anyEventSchema = z.object({
  id: ref,
  type: z.string().min(1).max(100),
  created: z.number().int().optional(),
  data: z.object({ providerRef: ref, refundId: ref.optional(), amountPaise, currency }),
});

const paymentEvent = <T extends string>(type: T) =>
  anyEventSchema.extend({
    type: z.literal(type),
    data: z.object({ providerRef: ref, amountPaise, currency }),
  });

/**
 * The events the provider sends (src/provider/simulator.ts), one member per type. A refund event
 * names the refund; a payment event states what was paid (checked against the payment, not here).
 */
export const providerEventSchema = z.discriminatedUnion('type', [
  paymentEvent('payment.succeeded'),
  paymentEvent('payment.failed'),
  anyEventSchema.extend({
    type: z.literal('refund.succeeded'),
    data: z.object({
      providerRef: ref,
      amountPaise,
      currency,
      refundId: z
        .string({ error: (issue) => (issue.input === undefined ? 'required for refund events' : undefined) })
        .min(1)
        .max(200),
    }),
  }),
]);
export type ProviderEvent = z.infer<typeof providerEventSchema>;
export type ProviderEventType = ProviderEvent['type'];
export const EVENT_TYPES = providerEventSchema.options.map((o) => o.shape.type.value);

export const isKnownType = (type: string): type is ProviderEventType =>
  (EVENT_TYPES as readonly string[]).includes(type);

export type ParsedWebhookBody =
  | { kind: 'event'; event: ProviderEvent }
  /** Well formed, of a type this service does not handle (acknowledged, not stored). */
  | { kind: 'unhandled'; id: string; type: string }
  | { kind: 'invalid'; error: string };

const firstIssue = (error: z.ZodError) => {
  const issue = error.issues[0]!;
  return `invalid event: ${issue.path.join('.') || '(root)'}: ${issue.message}`;
};

/** Tells a provider event we handle from one we do not and from a malformed body (JSON already parsed). */
export function parseWebhookBody(json: unknown): ParsedWebhookBody {
  const parsed = providerEventSchema.safeParse(json);
  if (parsed.success) return { kind: 'event', event: parsed.data };
  // What is wrong with any event comes first, then what is wrong for its type.
  const common = anyEventSchema.safeParse(json);
  if (!common.success) return { kind: 'invalid', error: firstIssue(common.error) };
  if (!isKnownType(common.data.type)) return { kind: 'unhandled', id: common.data.id, type: common.data.type };
  return { kind: 'invalid', error: firstIssue(parsed.error) };
}

/**
 * What a payment.succeeded says was paid against what was asked: the amount must be stated and
 * equal, the currency equal when stated. A provider charging another amount (a tampered checkout,
 * a bug) must not confirm a booking.
 */
function paidMismatch(
  event: Extract<ProviderEvent, { type: 'payment.succeeded' }>,
  payment: { amount_paise: number; currency: string },
): { amountPaise?: number; currency?: string } | null {
  const { amountPaise, currency } = event.data;
  if (
    amountPaise === payment.amount_paise &&
    (currency === undefined || currency.toUpperCase() === payment.currency.toUpperCase())
  )
    return null;
  return { amountPaise, currency };
}
/**
 * The payment state machine. Anything not listed is a no-op: a late payment.failed never
 * un-pays a payment, a repeated payment.succeeded never re-confirms.
 */
const TRANSITIONS: Record<PaymentStatus, Partial<Record<ProviderEventType, PaymentStatus>>> = {
  PENDING: { 'payment.succeeded': 'SUCCEEDED', 'payment.failed': 'FAILED' },
  SUCCEEDED: { 'refund.succeeded': 'REFUNDED' },
  FAILED: {},
  REFUNDED: {},
};

export function nextStatus(current: PaymentStatus, type: ProviderEventType): PaymentStatus | null {
  return TRANSITIONS[current][type] ?? null;
}

export type WebhookOutcome =
  | 'APPLIED'
  /** The same provider event id was stored before. */
  | 'DUPLICATE'
  /** Stored, but the state machine has no such step from the current state. */
  | 'NO_OP'
  /** Stored and counted, not applied: a payment.succeeded for another amount or currency than the payment's. */
  | 'AMOUNT_MISMATCH'
  /** Nothing stored: no payment (or refund) with that reference; the provider will retry. */
  | 'UNKNOWN_PAYMENT'
  | 'UNKNOWN_REFUND';

/** `body` is the event exactly as received (stored for audit, unknown fields included). */
export async function applyProviderEvent(
  prisma: PrismaClient,
  event: ProviderEvent,
  logger: Logger,
  body: object = event,
): Promise<WebhookOutcome> {
  const log = logger.child({ providerEventId: event.id, type: event.type, providerRef: event.data.providerRef });
  const outcome = await prisma.$transaction(
    async (tx) => {
      // Lock the payment first: deliveries of events for one payment run one after the other, and a
      // refund.succeeded waits for the transaction that is still creating its refund row.
      const rows = await tx.$queryRaw<
        {
          id: string;
          reservation_id: string;
          amount_paise: number;
          currency: string;
          status: PaymentStatus;
          provider_ref: string;
        }[]
      >`
        SELECT id::text, reservation_id::text, amount_paise, currency, status::text AS status, provider_ref
        FROM payment.payments WHERE provider_ref = ${event.data.providerRef} FOR UPDATE`;
      const payment = rows[0];
      if (!payment) return { outcome: 'UNKNOWN_PAYMENT' as const };
      const refund =
        event.type === 'refund.succeeded'
          ? await tx.refund.findUnique({ where: { providerRefundId: event.data.refundId } })
          : null;
      if (event.type === 'refund.succeeded' && (!refund || refund.paymentId !== payment.id))
        return { outcome: 'UNKNOWN_REFUND' as const };

      // Raw SQL on this path: no ORM query to compile per delivery, and one statement fewer.
      const stored = await tx.$queryRaw<{ id: string }[]>`
        INSERT INTO payment.webhook_events (id, provider_event_id, type, payload)
        VALUES (${randomUUID()}::uuid, ${event.id}, ${event.type}, ${JSON.stringify(body)}::jsonb)
        ON CONFLICT (provider_event_id) DO NOTHING
        RETURNING id::text`;
      if (stored.length === 0) return { outcome: 'DUPLICATE' as const };
      const mismatch = event.type === 'payment.succeeded' ? paidMismatch(event, payment) : null;
      if (mismatch)
        return {
          outcome: 'AMOUNT_MISMATCH' as const,
          expected: { amountPaise: payment.amount_paise, currency: payment.currency },
          received: mismatch,
          status: payment.status,
        };

      const next = nextStatus(payment.status, event.type);
      // A refund can succeed after the payment is already REFUNDED (a second, partial refund).
      const refundMoves = refund?.status === 'PENDING';
      if (!next && !refundMoves) return { outcome: 'NO_OP' as const, from: payment.status };

      if (refund && refundMoves) await tx.refund.update({ where: { id: refund.id }, data: { status: 'SUCCEEDED' } });
      const payload = eventEnvelope(
        event.type,
        {
          paymentId: payment.id,
          reservationId: payment.reservation_id,
          // For refund.succeeded: the amount refunded (a refund may be partial).
          amountPaise: refund ? refund.amountPaise : payment.amount_paise,
          providerRef: payment.provider_ref,
          ...(refund ? { refundId: refund.id } : {}),
        },
        { correlationId: payment.reservation_id },
      );
      // The payment's next status (if it moves) and its outbox event, in one statement.
      await tx.$executeRaw`
        WITH moved AS (
          UPDATE payment.payments SET status = ${next}::payment."PaymentStatus", updated_at = now()
          WHERE id = ${payment.id}::uuid AND ${next}::text IS NOT NULL
        )
        INSERT INTO payment.outbox (id, exchange, routing_key, payload)
        VALUES (${randomUUID()}::uuid, 'payments', ${event.type}, ${JSON.stringify(payload)}::jsonb)`;
      return { outcome: 'APPLIED' as const, from: payment.status, to: next ?? payment.status };
    },
    { maxWait: 5_000, timeout: 10_000 },
  );
  if (outcome.outcome === 'AMOUNT_MISMATCH') {
    log.error(
      { expected: outcome.expected, received: outcome.received, status: outcome.status },
      'provider event amount or currency differs from the payment; stored, not applied',
    );
  } else if (outcome.outcome === 'NO_OP')
    log.warn({ status: outcome.from }, 'provider event does not apply to the payment in its current state; ignored');
  else if (outcome.outcome === 'APPLIED') log.info({ from: outcome.from, to: outcome.to }, 'provider event applied');
  else log.info({ outcome: outcome.outcome }, 'provider event not applied');
  return outcome.outcome;
}
