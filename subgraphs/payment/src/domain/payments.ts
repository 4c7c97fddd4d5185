// createPayment: the server checks the hold with booking (as the caller), takes the amount from
// booking's fare, registers the payment with the provider and stores it PENDING.
import { randomUUID } from 'node:crypto';
import { pageIdsPerUser, Prisma, type Payment, type PrismaClient } from '@tatkal/db';
import {
  ALONE,
  AppError,
  ErrorCode,
  groupCommitOrAlone,
  badInput,
  isUuid,
  notFound,
  tryAgain,
  type Identity,
  type Logger,
  type SqlFragment,
} from '@tatkal/common';
import { BookingUnavailableError, type BookingClient } from '../bookingClient.ts';
import { ProviderError, type ProviderClient } from '../provider/client.ts';

/** payment.payments as the Payment model reads it (for raw SQL). */
const PAYMENT_COLUMNS = Prisma.sql`
  id::text, reservation_id::text AS "reservationId", user_id::text AS "userId", amount_paise AS "amountPaise",
  currency, status::text AS status, provider_ref AS "providerRef", checkout_url AS "checkoutUrl",
  created_at AS "createdAt", updated_at AS "updatedAt"`;

export interface PaymentDeps {
  prisma: PrismaClient;
  booking: BookingClient;
  provider: ProviderClient;
  inserts: PaymentInserts;
}

/** A new payment's insert with its idempotency record's completion; true when it was inserted. */
export type PaymentInserts = (payment: Payment, done?: { sql: SqlFragment }) => Promise<boolean>;

/** Insert statements of payments created together, at most this many per statement. */
const INSERT_BATCH = 128;

/**
 * Inserts new payments, one statement for those created together (the payment minute's
 * createPayments; a statement costs payment and PostgreSQL far more than a row). Each payment is
 * one row under the partial unique index payments_one_live_per_reservation: a second live payment
 * for a reservation is not inserted (ON CONFLICT DO NOTHING), and its idempotency record's
 * completion, a CTE of the same statement, applies only if its row was. A reservation twice in a
 * batch, and every payment of a batch whose statement failed, is inserted alone.
 */
export function createPaymentInserts(prisma: PrismaClient, log: Pick<Logger, 'warn'>): PaymentInserts {
  type Item = { payment: Payment; done?: { sql: SqlFragment } };
  const insert = (items: Item[]) => {
    // In reservation order: two replicas' batches never wait on each other's rows in opposite orders.
    const ps = items.map((i) => i.payment).sort((a, b) => (a.reservationId < b.reservationId ? -1 : 1));
    const completions = items.flatMap((item, i) =>
      item.done
        ? [
            Prisma.sql`, done${Prisma.raw(String(i))} AS (${item.done.sql}
            AND EXISTS (SELECT 1 FROM ins WHERE ins.id = ${item.payment.id}::uuid))`,
          ]
        : [],
    );
    return prisma.$queryRaw<{ id: string }[]>`
      WITH ins AS (
        INSERT INTO payment.payments
          (id, reservation_id, user_id, amount_paise, currency, status, provider_ref, checkout_url,
           created_at, updated_at)
        SELECT d.id, d.reservation_id, d.user_id, d.amount_paise, 'INR', 'PENDING', d.provider_ref,
          d.checkout_url, d.at, d.at
        FROM unnest(${ps.map((p) => p.id)}::uuid[], ${ps.map((p) => p.reservationId)}::uuid[],
          ${ps.map((p) => p.userId)}::uuid[], ${ps.map((p) => p.amountPaise)}::int[],
          ${ps.map((p) => p.providerRef)}::text[], ${ps.map((p) => p.checkoutUrl)}::text[],
          ${ps.map((p) => p.createdAt)}::timestamptz[])
          WITH ORDINALITY AS d(id, reservation_id, user_id, amount_paise, provider_ref, checkout_url, at, ord)
        ORDER BY d.ord
        ON CONFLICT (reservation_id) WHERE status IN ('PENDING', 'SUCCEEDED') DO NOTHING
        RETURNING id
      )${completions.length ? Prisma.join(completions, '') : Prisma.empty}
      SELECT id::text FROM ins`;
  };
  const batches = groupCommitOrAlone<Item, boolean>({
    maxBatch: INSERT_BATCH,
    keysOf: (item) => [item.payment.reservationId],
    write: async (items) => {
      const inserted = new Set((await insert(items)).map((r) => r.id));
      return items.map((i) => inserted.has(i.payment.id));
    },
    onError: (err, items) => log.warn({ err, items }, 'createPayment: a batch of inserts failed; each goes alone'),
  });
  return async (payment, done) => {
    const inserted = await batches({ payment, done });
    if (inserted !== ALONE) return inserted;
    return (await insert([{ payment, done }])).length > 0;
  };
}

export interface Caller {
  identity: Identity;
  authorization: string;
  requestId: string;
  /** The client's address, as payment received it: booking's signed caller carries it on. */
  clientIp?: string;
  log: Logger;
}

/**
 * At most one live (PENDING or SUCCEEDED) payment per reservation: a second createPayment for the
 * same reservation, under any key, returns the live one (the same checkout) instead of charging
 * twice. After a FAILED payment a new one may be created while the hold lasts.
 */
export async function createPayment(
  deps: PaymentDeps,
  caller: Caller,
  reservationId: string,
  /** The idempotency record's completion (`Idempotency.run`), stored by the insert's own statement. */
  completion?: (result: Payment) => { sql: SqlFragment; applied: () => void },
): Promise<Payment> {
  if (!isUuid(reservationId)) throw badInput('reservationId must be a reservation id (UUID)', 'reservationId');
  let reservation: Awaited<ReturnType<BookingClient['reservation']>>;
  try {
    reservation = await deps.booking.reservation(reservationId, {
      authorization: caller.authorization,
      requestId: caller.requestId,
      identity: caller.identity,
      clientIp: caller.clientIp,
    });
  } catch (err) {
    if (!(err instanceof BookingUnavailableError)) throw err;
    caller.log.warn({ err }, 'createPayment: booking check failed');
    throw tryAgain();
  }
  if (!reservation) throw notFound('No such reservation');
  if (reservation.status !== 'HELD') {
    throw new AppError(
      ErrorCode.INVALID_STATE,
      `Reservation ${reservation.pnr} is ${reservation.status}; only a held reservation can be paid`,
      { status: reservation.status },
    );
  }
  if (!reservation.holdExpiresAt || reservation.holdExpiresAt.getTime() <= Date.now()) {
    throw new AppError(ErrorCode.HOLD_EXPIRED, `The hold on ${reservation.pnr} has expired`);
  }
  const amountPaise = reservation.farePaise;

  // The provider is called outside any transaction: a transaction held open across an HTTP call
  // keeps a pooled connection from the webhook sidecar, which shares the pool and must answer fast.
  // Our payment id is the provider's idempotency key: a retry of this call gets the same payment.
  const id = randomUUID();
  let remote: Awaited<ReturnType<ProviderClient['createPayment']>>;

  try {
    remote = await deps.provider.createPayment({
      idempotencyKey: id,
      amountPaise,
      currency: 'INR',
      metadata: { paymentId: id, reservationId },
    });
  } catch (err) {
    if (err instanceof ProviderError) {
      caller.log.warn({ err }, 'createPayment: provider call failed');
      throw tryAgain();
    }
    throw err;
  }
  // One statement (shared with the payments created at the same moment, `createPaymentInserts`):
  // the partial unique index payments_one_live_per_reservation refuses a second live
  // payment, so a request that lost the race, or came with another key after the first payment,
  // inserts nothing and returns the live one (ours stays unused at the provider, which nobody is
  // sent to, like an abandoned Stripe PaymentIntent). No read before it; the idempotency record's
  // answer is stored by the same statement when the insert happened (its time is ours, so the
  // answer is known before the statement).
  const now = new Date();
  const ours: Payment = {
    id,
    reservationId,
    userId: caller.identity.userId,
    amountPaise,
    currency: 'INR',
    status: 'PENDING',
    providerRef: remote.id,
    checkoutUrl: remote.checkoutUrl,
    createdAt: now,
    updatedAt: now,
  };
  const done = completion?.(ours);
  if (await deps.inserts(ours, done)) {
    done?.applied();
    return ours;
  }
  // Another request's payment is the live one (raw SQL: no ORM query compiled per call).
  const [live] = await deps.prisma.$queryRaw<Payment[]>`
    SELECT ${PAYMENT_COLUMNS} FROM payment.payments
    WHERE reservation_id = ${reservationId}::uuid AND status IN ('PENDING', 'SUCCEEDED')
    LIMIT 1`;
  // The winner failed between our insert and this read: the client may simply try again.
  if (!live) throw tryAgain();
  return live;
}

const decodeCursor = (cursor: string): { createdAt: Date; id: string } => {
  const [ts, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(Number(ts));
  if (!id || !isUuid(id) || Number.isNaN(createdAt.getTime())) throw badInput('Invalid cursor', 'after');
  return { createdAt, id };
};

/** Validated paging arguments (BAD_USER_INPUT otherwise). */
export function pageArgs(first: number | null | undefined, after: string | null | undefined) {
  const take = first ?? 20;
  if (take < 1 || take > 100) throw badInput('first must be between 1 and 100', 'first');
  return { take, cursor: after ? decodeCursor(after) : null };
}

const encodeCursor = (p: Payment) => Buffer.from(`${p.createdAt.getTime()}|${p.id}`).toString('base64url');

export interface PaymentPage {
  nodes: Payment[];
  /** Pass as `after` for the next page; null on the last page. */
  nextCursor: string | null;
}

/** A user's payments, newest first, keyset-paged by (createdAt, id) like reservations. */
export async function paymentsOf(
  prisma: PrismaClient,
  userId: string,
  first: number | null | undefined,
  after: string | null | undefined,
): Promise<PaymentPage> {
  const { take, cursor } = pageArgs(first, after);
  const rows = await prisma.payment.findMany({
    where: {
      userId,
      ...(cursor
        ? { OR: [{ createdAt: { lt: cursor.createdAt } }, { createdAt: cursor.createdAt, id: { lt: cursor.id } }] }
        : {}),
    },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: take + 1,
  });
  const nodes = rows.slice(0, take);
  const last = nodes[nodes.length - 1];
  return { nodes, nextCursor: rows.length > take && last ? encodeCursor(last) : null };
}

export interface PageRequest {
  userId: string;
  take: number;
  cursor: { createdAt: Date; id: string } | null;
}

/**
 * One page for each of many users (User.payments of many entity references) in two queries: the
 * ids of every page in one LATERAL query on (user_id, created_at), then the rows. Same order and
 * cursors as `paymentsOf`.
 */
export async function paymentPages(prisma: PrismaClient, requests: PageRequest[]): Promise<PaymentPage[]> {
  const valid = requests.map((r, i) => ({ ...r, i })).filter((r) => isUuid(r.userId));
  const picked = await pageIdsPerUser(
    prisma,
    'payment.payments',
    valid.map((r) => ({
      userId: r.userId,
      take: r.take,
      after: r.cursor && { createdAtMs: r.cursor.createdAt.getTime(), id: r.cursor.id },
    })),
  );
  const rows = picked.length ? await prisma.payment.findMany({ where: { id: { in: picked.map((p) => p.id) } } }) : [];
  const byId = new Map(rows.map((r) => [r.id, r]));
  const idsByOrd = new Map<number, string[]>();
  for (const p of picked) idsByOrd.set(p.ord, [...(idsByOrd.get(p.ord) ?? []), p.id]);
  const pages: PaymentPage[] = requests.map(() => ({ nodes: [], nextCursor: null }));
  valid.forEach((r, ord) => {
    const newestFirst = (idsByOrd.get(ord) ?? []).map((id) => byId.get(id)!);
    const nodes = newestFirst.slice(0, r.take);
    const last = nodes[nodes.length - 1];
    pages[r.i] = { nodes, nextCursor: newestFirst.length > r.take && last ? encodeCursor(last) : null };
  });
  return pages;
}
