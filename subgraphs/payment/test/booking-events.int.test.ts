// The payment side of the saga against the real RabbitMQ and PostgreSQL: booking events that
// need money back reach requestRefund (src/domain/refunds.ts) once per message id (payment.inbox),
// in the inbox's transaction; unpaid cancellations are ignored; an impossible refund goes straight
// to the DLQ. The payment provider (a third party) is an in-memory stand-in that honours
// idempotency keys like the real API.
import { randomBytes, randomUUID } from 'node:crypto';
import amqp, { type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createAmqpConnection,
  deleteEventTopology,
  dlqName,
  inspectDlq,
  eventTopology,
  metricsRegistry,
  registerEventTopology,
  type AmqpConnection,
  type Consumer,
  type Envelope,
} from '@tatkal/common';
import { refundRequester } from '../src/domain/refunds.ts';
import { startBookingEventsConsumer } from '../src/events/bookingEvents.ts';
import type { ProviderClient, ProviderRefund } from '../src/provider/client.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { AMQP_URL } from '../../../test/support/env.ts';
import { testLogger } from '../../../test/support/logger.ts';
import { parseMetrics } from '../../../test/support/metrics.ts';
import { waitFor } from '../../../test/support/wait.ts';

const prefix = `t${randomBytes(4).toString('hex')}_`;
const topology = eventTopology(prefix);
let db: TestDatabase;
let admin: ChannelModel;
let connection: AmqpConnection;
let consumer: Consumer;
const calls: { idempotencyKey: string; amountPaise: number; reason: string }[] = [];
const providerRefunds = new Map<string, ProviderRefund>();
const provider: ProviderClient = {
  createPayment: () => Promise.reject(new Error('not used here')),
  async createRefund(input) {
    calls.push({ idempotencyKey: input.idempotencyKey, amountPaise: input.amountPaise, reason: input.reason });
    await new Promise((r) => setTimeout(r, 20));
    const known = providerRefunds.get(input.idempotencyKey);
    if (known) return known;
    const refund = {
      id: `re_${randomBytes(6).toString('hex')}`,
      status: 'pending',
      payment: input.providerRef,
      amountPaise: input.amountPaise,
    };
    providerRefunds.set(input.idempotencyKey, refund);
    return refund;
  },
};

async function paidReservation(amountPaise: number) {
  const reservationId = randomUUID();
  await db.prisma.payment.create({
    data: {
      reservationId,
      userId: randomUUID(),
      amountPaise,
      status: 'SUCCEEDED',
      providerRef: `sim_${randomBytes(8).toString('hex')}`,
      checkoutUrl: 'http://127.0.0.1/checkout',
    },
  });
  return reservationId;
}

const event = (type: string, data: Record<string, unknown>): Envelope => ({
  id: randomUUID(),
  type,
  version: 1,
  occurredAt: new Date().toISOString(),
  correlationId: '4123456789',
  data,
});

async function publish(...events: Envelope[]) {
  const ch = await admin.createConfirmChannel();
  for (const e of events)
    ch.publish(topology.exchanges.booking, e.type, Buffer.from(JSON.stringify(e)), {
      persistent: true,
      messageId: e.id,
      type: e.type,
      contentType: 'application/json',
    });
  await ch.waitForConfirms();
  await ch.close();
}

const refundsOf = (reservationId: string) =>
  db.prisma.refund.findMany({
    where: { payment: { reservationId } },
    select: { amountPaise: true, status: true, reason: true },
    orderBy: { amountPaise: 'desc' },
  });
/**
 * Deliveries of the booking-events queue the consumer is done with for good (acked, or moved to
 * the DLQ), from its counter (tatkal_consumer_deliveries_total): a delivery counted here has
 * written all it ever will.
 */
const finished = async () => {
  const labels = { queue: topology.queues.paymentBookingEvents.queue };
  const scrape = parseMetrics(await metricsRegistry.metrics());
  return (
    scrape.sum('tatkal_consumer_deliveries_total', { ...labels, outcome: 'ack' }) +
    scrape.sum('tatkal_consumer_deliveries_total', { ...labels, outcome: 'dead_lettered' })
  );
};
/** Waits until `count` more deliveries than `before` are finished: every copy published was handled. */
const handled = (before: number, count: number) =>
  waitFor(`${count} deliveries handled`, async () => (await finished()) >= before + count);

const queued = async (queue: string) => {
  const ch = await admin.createChannel();
  try {
    return (await ch.checkQueue(queue)).messageCount;
  } finally {
    await ch.close();
  }
};

beforeAll(async () => {
  db = await createTestDatabase('booking_events');
  admin = await amqp.connect(AMQP_URL);
  connection = createAmqpConnection({ url: AMQP_URL, logger: testLogger, name: 'booking-events-test' });
  registerEventTopology(connection, prefix);
  await connection.waitForConnection(10_000);
  consumer = startBookingEventsConsumer({
    connection,
    prisma: db.prisma,
    requestRefund: refundRequester(provider),
    logger: testLogger,
    prefix,
    retryDelayMs: 50,
    maxAttempts: 2,
  });
  await consumer.ready;
});

afterAll(async () => {
  await consumer?.stop();
  await connection?.close();
  if (admin) {
    await deleteEventTopology(admin, prefix);
    await admin.close();
  }
  await db?.drop();
});

describe('booking events -> payment refunds', () => {
  it('a paid cancellation and a refund_required each request one refund; 5 concurrent duplicates do not', async () => {
    const cancelledId = await paidReservation(150_000);
    const lateId = await paidReservation(90_000);
    const cancelled = event('reservation.cancelled', {
      reservationId: cancelledId,
      pnr: '4123456789',
      refundPaise: 75_000,
      fullyCancelled: false,
    });
    const late = event('reservation.refund_required', {
      reservationId: lateId,
      pnr: '4123456780',
      status: 'EXPIRED',
      refundPaise: 90_000,
    });
    const before = await finished();
    await Promise.all(Array.from({ length: 5 }, () => publish(cancelled, late)));

    // All ten copies handled: a duplicate that would request a second refund has done so by now.
    await handled(before, 10);
    expect(await refundsOf(cancelledId)).toEqual([
      { amountPaise: 75_000, status: 'PENDING', reason: `RESERVATION_CANCELLED:${cancelled.id}` },
    ]);
    expect(await refundsOf(lateId)).toEqual([
      { amountPaise: 90_000, status: 'PENDING', reason: 'HOLD_EXPIRED_BERTHS_GONE' },
    ]);
    const inbox = await db.prisma.paymentInbox.findMany({
      where: { messageId: { in: [cancelled.id, late.id] } },
      orderBy: { type: 'asc' },
    });
    expect(inbox.map((r) => [r.messageId, r.type])).toEqual([
      [cancelled.id, 'reservation.cancelled'],
      [late.id, 'reservation.refund_required'],
    ]);
    expect(await queued(dlqName(topology.queues.paymentBookingEvents.queue))).toBe(0);
    // Duplicates never reached the provider.
    expect(
      calls.filter(
        (c) => c.reason === `RESERVATION_CANCELLED:${cancelled.id}` || c.reason === 'HOLD_EXPIRED_BERTHS_GONE',
      ),
    ).toHaveLength(2);
  });

  it('two partial cancellations of one paid reservation are two refunds', async () => {
    const reservationId = await paidReservation(200_000);
    const first = event('reservation.cancelled', {
      reservationId,
      pnr: '4123456783',
      refundPaise: 50_000,
      fullyCancelled: false,
    });
    const second = event('reservation.cancelled', {
      reservationId,
      pnr: '4123456783',
      refundPaise: 40_000,
      fullyCancelled: false,
    });
    await publish(first, second);
    await waitFor('two refunds', async () => (await refundsOf(reservationId)).length === 2);
    expect(await refundsOf(reservationId)).toEqual([
      { amountPaise: 50_000, status: 'PENDING', reason: `RESERVATION_CANCELLED:${first.id}` },
      { amountPaise: 40_000, status: 'PENDING', reason: `RESERVATION_CANCELLED:${second.id}` },
    ]);
  });

  it('an unpaid cancellation asks for nothing and records nothing', async () => {
    const reservationId = randomUUID();
    const unpaid = event('reservation.cancelled', {
      reservationId,
      pnr: '4123456781',
      refundPaise: 0,
      fullyCancelled: true,
    });
    const before = calls.length;
    const finishedBefore = await finished();
    await publish(unpaid);
    await handled(finishedBefore, 1);
    expect(calls.length).toBe(before);
    expect(await db.prisma.paymentInbox.count({ where: { messageId: unpaid.id } })).toBe(0);
  });

  it('a refund that cannot happen (no payment) goes to the DLQ at once and leaves no inbox row', async () => {
    const reservationId = randomUUID();
    const orphan = event('reservation.refund_required', {
      reservationId,
      pnr: '4123456782',
      status: 'EXPIRED',
      refundPaise: 1_000,
    });
    const before = calls.length;
    await publish(orphan);
    const dlq = dlqName(topology.queues.paymentBookingEvents.queue);
    await waitFor('message in the DLQ', async () => (await queued(dlq)) === 1);
    const peek = await inspectDlq(admin, dlq);
    expect(peek.messages.map((m) => [m.messageId, m.headers['x-dead-letter-reason'], m.headers['x-attempts']])).toEqual(
      [[orphan.id, 'rejected', 1]],
    );
    expect(String(peek.messages[0]!.headers['x-last-error'])).toMatch(/has no successful payment to refund/);
    expect(calls.length).toBe(before);
    expect(await db.prisma.paymentInbox.count({ where: { messageId: orphan.id } })).toBe(0);
  });
});
