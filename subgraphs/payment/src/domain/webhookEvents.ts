// What a verified provider event does, in ONE transaction: store the event once (unique provider
// event id), move the payment (and refund) through the state machine, write the outbox row that
// tells booking. A duplicate, a replay or an out-of-order event changes nothing.
import { randomUUID } from 'node:crypto';
import type { PaymentStatus, Prisma, PrismaClient } from '@tatkal/db';
import { ALONE, eventEnvelope, groupCommitOrAlone, type Logger } from '@tatkal/common';
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

/** A payment as a provider event's transaction locks it. */
interface LockedPayment {
  id: string;
  reservation_id: string;
  amount_paise: number;
  currency: string;
  status: PaymentStatus;
  provider_ref: string;
}

/** What applying one event did, with what its log line says. */
type Applied =
  | { outcome: 'APPLIED'; from: PaymentStatus; to: PaymentStatus }
  | { outcome: 'NO_OP'; from: PaymentStatus }
  | {
      outcome: 'AMOUNT_MISMATCH';
      expected: { amountPaise: number; currency: string };
      received: { amountPaise?: number; currency?: string };
      status: PaymentStatus;
    }
  | { outcome: 'DUPLICATE' | 'UNKNOWN_PAYMENT' | 'UNKNOWN_REFUND' };

/** The event booking (and anyone) hears of a payment's move, as its outbox row carries it. */
function outboxEvent(
  type: ProviderEventType,
  payment: LockedPayment,
  refund: { id: string; amountPaise: number } | null,
) {
  return eventEnvelope(
    type,
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
}

function logOutcome(log: Logger, applied: Applied) {
  if (applied.outcome === 'AMOUNT_MISMATCH') {
    log.error(
      { expected: applied.expected, received: applied.received, status: applied.status },
      'provider event amount or currency differs from the payment; stored, not applied',
    );
  } else if (applied.outcome === 'NO_OP')
    log.warn({ status: applied.from }, 'provider event does not apply to the payment in its current state; ignored');
  else if (applied.outcome === 'APPLIED') log.info({ from: applied.from, to: applied.to }, 'provider event applied');
  else log.info({ outcome: applied.outcome }, 'provider event not applied');
}

/** A stored payment event against its locked payment: what applying it does (the state machine). */
function decide(
  event: Extract<ProviderEvent, { type: 'payment.succeeded' | 'payment.failed' }>,
  payment: LockedPayment,
): Applied {
  const mismatch = event.type === 'payment.succeeded' ? paidMismatch(event, payment) : null;
  if (mismatch)
    return {
      outcome: 'AMOUNT_MISMATCH',
      expected: { amountPaise: payment.amount_paise, currency: payment.currency },
      received: mismatch,
      status: payment.status,
    };
  const next = nextStatus(payment.status, event.type);
  return next ? { outcome: 'APPLIED', from: payment.status, to: next } : { outcome: 'NO_OP', from: payment.status };
}

/** Most payment events applied in one transaction. */
const WEBHOOK_BATCH = 64;

type PaymentEvent = Extract<ProviderEvent, { type: 'payment.succeeded' | 'payment.failed' }>;

/**
 * `applyProviderEvent` for concurrent deliveries: payment.succeeded / payment.failed events that
 * arrive while a batch is being written are applied together in ONE transaction (group commit):
 * their payments locked in id order, their webhook_events rows in one statement, the moves and
 * outbox rows in one statement. Each delivery gets the outcome it would get alone. A refund event,
 * a second event for one payment or a repeated event id in the batch, and every event of a batch
 * whose transaction failed, are applied alone.
 */
export function providerEventApplier(prisma: PrismaClient, logger: Logger) {
  const batched = groupCommitOrAlone<{ event: PaymentEvent; body: object }, Applied>({
    maxBatch: WEBHOOK_BATCH,
    // A repeated event, or a second event for a payment, goes alone after the batch.
    keysOf: ({ event }) => [`event:${event.id}`, `payment:${event.data.providerRef}`],
    onError: (err, events) => logger.warn({ err, events }, 'batch of provider events failed; applying them one by one'),
    write: (items) => prisma.$transaction((tx) => applyBatch(tx, items), { maxWait: 5_000, timeout: 10_000 }),
  });
  return async (event: ProviderEvent, log: Logger, body: object = event): Promise<WebhookOutcome> => {
    if (event.type === 'refund.succeeded') return applyProviderEvent(prisma, event, log, body);
    const applied = await batched({ event, body });
    if (applied === ALONE) return applyProviderEvent(prisma, event, log, body);
    // Logged here, in the delivery's own log scope (its request id), not the batch's.
    logOutcome(
      log.child({ providerEventId: event.id, type: event.type, providerRef: event.data.providerRef }),
      applied,
    );
    return applied.outcome;
  };
}

/**
 * Payments' moves (`to` null: the payment stays, e.g. a second partial refund) and the outbox event
 * of each, in one statement however many.
 */
async function recordMoves(
  tx: Prisma.TransactionClient,
  moves: {
    payment: LockedPayment;
    type: ProviderEventType;
    to: PaymentStatus | null;
    refund: { id: string; amountPaise: number } | null;
  }[],
) {
  if (moves.length === 0) return;
  await tx.$executeRaw`
    WITH d AS (
      SELECT * FROM unnest(${moves.map((m) => m.payment.id)}::uuid[], ${moves.map((m) => m.to)}::text[],
        ${moves.map(() => randomUUID())}::uuid[], ${moves.map((m) => m.type)}::text[],
        ${moves.map((m) => JSON.stringify(outboxEvent(m.type, m.payment, m.refund)))}::jsonb[])
        AS d(id, status, outbox_id, routing_key, payload)
    ), moved AS (
      UPDATE payment.payments p SET status = d.status::payment."PaymentStatus", updated_at = now()
      FROM d WHERE p.id = d.id AND d.status IS NOT NULL
    )
    INSERT INTO payment.outbox (id, exchange, routing_key, payload)
    SELECT outbox_id, 'payments', routing_key, payload FROM d`;
}

async function applyBatch(tx: Prisma.TransactionClient, items: { event: PaymentEvent; body: object }[]) {
  const payments = await tx.$queryRaw<LockedPayment[]>`
    SELECT id::text, reservation_id::text, amount_paise, currency, status::text AS status, provider_ref
    FROM payment.payments WHERE provider_ref = ANY(${items.map((i) => i.event.data.providerRef)}::text[])
    ORDER BY id FOR UPDATE`;
  const byRef = new Map(payments.map((p) => [p.provider_ref, p]));
  // Nothing is stored for an unknown payment: the provider retries it.
  const known = items.filter((i) => byRef.has(i.event.data.providerRef));
  const stored = new Set(
    known.length === 0
      ? []
      : (
          await tx.$queryRaw<{ provider_event_id: string }[]>`
            INSERT INTO payment.webhook_events (id, provider_event_id, type, payload)
            SELECT * FROM unnest(${known.map(() => randomUUID())}::uuid[], ${known.map((i) => i.event.id)}::text[],
              ${known.map((i) => i.event.type)}::text[], ${known.map((i) => JSON.stringify(i.body))}::jsonb[])
            ON CONFLICT (provider_event_id) DO NOTHING
            RETURNING provider_event_id`
        ).map((r) => r.provider_event_id),
  );
  const results = items.map((i): Applied => {
    const payment = byRef.get(i.event.data.providerRef);
    if (!payment) return { outcome: 'UNKNOWN_PAYMENT' };
    if (!stored.has(i.event.id)) return { outcome: 'DUPLICATE' };
    return decide(i.event, payment);
  });
  await recordMoves(
    tx,
    items.flatMap((i, k) => {
      const r = results[k]!;
      const payment = byRef.get(i.event.data.providerRef)!;
      return r.outcome === 'APPLIED' ? [{ payment, type: i.event.type, to: r.to, refund: null }] : [];
    }),
  );
  return results;
}

/** `body` is the event exactly as received (stored for audit, unknown fields included). */
export async function applyProviderEvent(
  prisma: PrismaClient,
  event: ProviderEvent,
  logger: Logger,
  body: object = event,
): Promise<WebhookOutcome> {
  const log = logger.child({ providerEventId: event.id, type: event.type, providerRef: event.data.providerRef });
  const outcome = await prisma.$transaction(
    async (tx): Promise<Applied> => {
      // Lock the payment first: deliveries of events for one payment run one after the other, and a
      // refund.succeeded waits for the transaction that is still creating its refund row.
      const rows = await tx.$queryRaw<LockedPayment[]>`
        SELECT id::text, reservation_id::text, amount_paise, currency, status::text AS status, provider_ref
        FROM payment.payments WHERE provider_ref = ${event.data.providerRef} FOR UPDATE`;
      const payment = rows[0];
      if (!payment) return { outcome: 'UNKNOWN_PAYMENT' };
      const refund =
        event.type === 'refund.succeeded'
          ? await tx.refund.findUnique({ where: { providerRefundId: event.data.refundId } })
          : null;
      if (event.type === 'refund.succeeded' && (!refund || refund.paymentId !== payment.id))
        return { outcome: 'UNKNOWN_REFUND' };

      // Raw SQL on this path: no ORM query to compile per delivery, and one statement fewer.
      const stored = await tx.$queryRaw<{ id: string }[]>`
        INSERT INTO payment.webhook_events (id, provider_event_id, type, payload)
        VALUES (${randomUUID()}::uuid, ${event.id}, ${event.type}, ${JSON.stringify(body)}::jsonb)
        ON CONFLICT (provider_event_id) DO NOTHING
        RETURNING id::text`;
      if (stored.length === 0) return { outcome: 'DUPLICATE' };
      if (event.type !== 'refund.succeeded') {
        const applied = decide(event, payment);
        if (applied.outcome === 'APPLIED')
          await recordMoves(tx, [{ payment, type: event.type, to: applied.to, refund: null }]);
        return applied;
      }
      const next = nextStatus(payment.status, event.type);
      // A refund can succeed after the payment is already REFUNDED (a second, partial refund).
      const refundMoves = refund?.status === 'PENDING';
      if (!next && !refundMoves) return { outcome: 'NO_OP', from: payment.status };
      if (refund && refundMoves) await tx.refund.update({ where: { id: refund.id }, data: { status: 'SUCCEEDED' } });
      await recordMoves(tx, [{ payment, type: event.type, to: next, refund }]);
      return { outcome: 'APPLIED', from: payment.status, to: next ?? payment.status };
    },
    { maxWait: 5_000, timeout: 10_000 },
  );
  logOutcome(log, outcome);
  return outcome.outcome;
}
