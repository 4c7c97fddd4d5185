// Refunds asked for by booking events (a paid cancellation, a payment that came after its hold
// expired and lost its berths). The Refund row is PENDING until the provider's refund.succeeded
// webhook marks it SUCCEEDED and the payment REFUNDED (src/domain/webhookEvents.ts).
import type { Prisma, PrismaClient, Refund } from '@tatkal/db';
import type { ProviderClient } from '../provider/client.ts';

export interface RefundRequest {
  reservationId: string;
  amountPaise: number;
  reason: string;
}

type Db = PrismaClient | Prisma.TransactionClient;

export class RefundNotPossibleError extends Error {
  override name = 'RefundNotPossibleError';
}

/**
 * Records a PENDING refund for the reservation's paid payment and asks the provider to refund it.
 * Once per (reservation, reason): a second call returns the first refund and asks nothing.
 *
 * Called with a transaction client (the booking-event consumer's, so the refund commits together
 * with its inbox row) or with the PrismaClient (then it opens its own transaction). The payment
 * row is locked for the rest of that transaction: concurrent requests for the same reservation
 * wait here, and the refund.succeeded webhook waits until this refund is committed.
 *
 * The provider is called inside the transaction, keyed by (payment, reason): if the transaction
 * then rolls back, the retry gets the same provider refund back, so money moves once.
 */
export async function requestRefund(
  db: Db,
  input: RefundRequest,
  provider: ProviderClient,
): Promise<{ refund: Refund; created: boolean }> {
  if (!Number.isInteger(input.amountPaise) || input.amountPaise <= 0)
    throw new RefundNotPossibleError(`refund amount must be a positive number of paise, got ${input.amountPaise}`);
  if (!input.reason.trim()) throw new RefundNotPossibleError('a refund needs a reason');
  // A transaction client has no $disconnect (it does have a $transaction, for nesting).
  if ('$disconnect' in db)
    return (db as PrismaClient).$transaction((tx) => requestRefund(tx, input, provider), {
      maxWait: 5_000,
      timeout: 10_000,
    });

  const paid = await db.$queryRaw<{ id: string; provider_ref: string; amount_paise: number }[]>`
    SELECT id::text, provider_ref, amount_paise FROM payment.payments
    WHERE reservation_id = ${input.reservationId}::uuid AND status IN ('SUCCEEDED', 'REFUNDED')
    ORDER BY created_at DESC LIMIT 1
    FOR UPDATE`;
  const payment = paid[0];
  if (!payment)
    throw new RefundNotPossibleError(`reservation ${input.reservationId} has no successful payment to refund`);

  const existing = await db.refund.findFirst({
    where: { paymentId: payment.id, reason: input.reason },
    orderBy: { createdAt: 'asc' },
  });
  if (existing) return { refund: existing, created: false };

  const refunded = await db.refund.aggregate({
    where: { paymentId: payment.id, status: { not: 'FAILED' } },
    _sum: { amountPaise: true },
  });
  const refundable = payment.amount_paise - (refunded._sum.amountPaise ?? 0);
  if (input.amountPaise > refundable) {
    throw new RefundNotPossibleError(
      `refund of ${input.amountPaise} paise exceeds the ${refundable} paise still refundable on payment ${payment.id}`,
    );
  }
  const remote = await provider.createRefund({
    idempotencyKey: `refund:${payment.id}:${input.reason}`,
    providerRef: payment.provider_ref,
    amountPaise: input.amountPaise,
    reason: input.reason,
  });
  const refund = await db.refund.create({
    data: {
      paymentId: payment.id,
      amountPaise: input.amountPaise,
      status: 'PENDING',
      reason: input.reason,
      providerRefundId: remote.id,
    },
  });
  return { refund, created: true };
}

/** `requestRefund` bound to a provider, in the shape the booking-event consumer takes. */
export const refundRequester = (provider: ProviderClient) => (db: Prisma.TransactionClient, input: RefundRequest) =>
  requestRefund(db, input, provider);
