// What a chaos run's ledger reads once the system has settled: booking's reservations and
// passengers, payment's payments and refunds, the provider's own record (payments, refunds,
// webhook deliveries), the outboxes, the queues and their DLQs. The checks are ledger.ts's.
import amqp from 'amqplib';
import type pg from 'pg';
import { eventTopology, inspectDlq, unroutedName } from '@tatkal/common';

export interface ProviderPayment {
  id: string;
  amountPaise: number;
  status: string;
  refundedPaise: number;
  metadata: { reservationId?: string; paymentId?: string };
}
export interface ProviderRefund {
  id: string;
  payment: string;
  amountPaise: number;
  reason: string;
  status: string;
}
interface Delivery {
  eventId: string;
  type: string;
  copy: number;
  status: string;
  attempts: number;
  heldMs?: number;
}

export interface State {
  reservations: Map<
    string,
    {
      confirmedAt: Date | null;
      id: string;
      pnr: string;
      userId: string;
      status: string;
      farePaise: number;
      holdExpiresAt: Date | null;
    }
  >;
  passengers: Map<string, { id: string; status: string; farePaise: number; refundPaise: number | null }[]>;
  payments: { id: string; reservationId: string; status: string; amountPaise: number; providerRef: string }[];
  refunds: {
    paymentId: string;
    amountPaise: number;
    status: string;
    reason: string;
    providerRefundId: string | null;
  }[];
  provider: { payments: ProviderPayment[]; refunds: ProviderRefund[]; deliveries: Delivery[] };
  outbox: { booking: number; payment: number };
  queues: { queue: string; messages: number }[];
  dlq: { queue: string; messageId: string | undefined; type: string | undefined; reason: unknown; body: string }[];
}

const json = async <T>(url: string): Promise<T> => (await (await fetch(url)).json()) as T;

export async function collectState(
  watcher: pg.Pool,
  providerUrl: string,
  amqpUrl: string,
  prefix: string,
  runId: string,
  withDlq = false,
): Promise<State> {
  const r = await watcher.query(
    `SELECT id, pnr, user_id, status, fare_paise, hold_expires_at, confirmed_at
       FROM booking.reservations WHERE run_id = $1`,
    [runId],
  );
  const p = await watcher.query(
    `SELECT p.id, p.reservation_id, p.status, p.fare_paise, p.refund_paise
       FROM booking.passengers p JOIN booking.reservations r ON r.id = p.reservation_id WHERE r.run_id = $1`,
    [runId],
  );
  const pay = await watcher.query(
    `SELECT id, reservation_id, status, amount_paise, provider_ref FROM payment.payments`,
  );
  const ref = await watcher.query(
    `SELECT payment_id, amount_paise, status, reason, provider_refund_id FROM payment.refunds`,
  );
  const ob = await watcher.query<{ b: number; p: number }>(
    `SELECT (SELECT count(*)::int FROM booking.outbox WHERE published_at IS NULL) AS b,
            (SELECT count(*)::int FROM payment.outbox WHERE published_at IS NULL) AS p`,
  );
  const passengers = new Map<string, State['passengers'] extends Map<string, infer V> ? V : never>();
  for (const row of p.rows)
    passengers.set(row.reservation_id, [
      ...(passengers.get(row.reservation_id) ?? []),
      { id: row.id, status: row.status, farePaise: row.fare_paise, refundPaise: row.refund_paise },
    ]);
  const topology = eventTopology(prefix);
  const queues: State['queues'] = [];
  const dlq: State['dlq'] = [];
  const conn = await amqp.connect(amqpUrl);
  try {
    const ch = await conn.createChannel();
    for (const spec of Object.values(topology.queues))
      for (const q of [spec.queue, `${spec.queue}.retry`])
        queues.push({ queue: q, messages: (await ch.checkQueue(q)).messageCount });
    for (const e of Object.values(topology.exchanges)) {
      const q = unroutedName(e);
      queues.push({
        queue: q,
        messages: await ch.checkQueue(q).then(
          (x) => x.messageCount,
          () => 0,
        ),
      });
    }
    await ch.close();
    if (withDlq)
      for (const spec of Object.values(topology.queues)) {
        const seen = await inspectDlq(conn, spec.queue, 1_000);
        for (const m of seen.messages)
          dlq.push({
            queue: seen.queue,
            messageId: m.messageId,
            type: m.type,
            reason: m.headers['x-dead-letter-reason'] ?? m.headers['x-last-error'] ?? null,
            body: m.body.slice(0, 300),
          });
        if (seen.count > seen.messages.length)
          dlq.push({
            queue: seen.queue,
            messageId: undefined,
            type: undefined,
            reason: `${seen.count - seen.messages.length} more not read`,
            body: '',
          });
      }
  } finally {
    await conn.close().catch(() => {});
  }
  return {
    reservations: new Map(
      r.rows.map((x) => [
        x.id,
        {
          id: x.id,
          pnr: x.pnr,
          userId: x.user_id,
          status: x.status,
          farePaise: x.fare_paise,
          holdExpiresAt: x.hold_expires_at,
          confirmedAt: x.confirmed_at,
        },
      ]),
    ),
    passengers,
    payments: pay.rows.map((x) => ({
      id: x.id,
      reservationId: x.reservation_id,
      status: x.status,
      amountPaise: x.amount_paise,
      providerRef: x.provider_ref,
    })),
    refunds: ref.rows.map((x) => ({
      paymentId: x.payment_id,
      amountPaise: x.amount_paise,
      status: x.status,
      reason: x.reason,
      providerRefundId: x.provider_refund_id,
    })),
    provider: {
      payments: await json<ProviderPayment[]>(`${providerUrl}/payments`),
      refunds: await json<ProviderRefund[]>(`${providerUrl}/refunds`),
      deliveries: await json<Delivery[]>(`${providerUrl}/deliveries`),
    },
    outbox: { booking: ob.rows[0]!.b, payment: ob.rows[0]!.p },
    queues,
    dlq,
  };
}
