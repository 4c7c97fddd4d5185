// The booking side of the payment saga against the real RabbitMQ and PostgreSQL: payment events
// published to the payments exchange confirm or release holds exactly once (inbox), survive a
// stopped consumer, and handle payments that arrive after the hold expired.
import { randomBytes, randomUUID } from 'node:crypto';
import amqp, { type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createAmqpConnection,
  deleteEventTopology,
  createRedis,
  eventTopology,
  registerEventTopology,
  type AmqpConnection,
  type Consumer,
  type Envelope,
  type Redis,
} from '@tatkal/common';
import { loadBookingConfig } from '../src/config.ts';
import type { BookingDeps } from '../src/context.ts';
import { createBookingDeps } from '../src/deps.ts';
import { expireDue } from '../src/domain/lifecycle/index.ts';
import {
  applyPaymentEvent,
  paymentEventApplier,
  startPaymentEventsConsumer,
  type PaymentEventOutcome,
} from '../src/events/paymentEvents.ts';
import { countingPrisma } from '../../../test/support/queryCount.ts';
import { startBookingService } from '../src/service.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { AMQP_URL, REDIS_URL } from '../../../test/support/env.ts';
import { createBrokerProxy } from '../../../test/support/brokerProxy.ts';
import { captureLogger, testLogger } from '../../../test/support/logger.ts';
import { scrape } from '../../../test/support/metrics.ts';
import { waitFor } from '../../../test/support/wait.ts';
import { createTestRun, doubleBookingAudit, type TestRun } from './fixtures.ts';

const prefix = `t${randomBytes(4).toString('hex')}_`;
const topology = eventTopology(prefix);
let db: TestDatabase;
let redis: Redis;
let deps: BookingDeps;
let admin: ChannelModel;
let connection: AmqpConnection;
let consumer: Consumer;
const outcomes = new Map<string, PaymentEventOutcome[]>();

const startConsumer = () => {
  consumer = startPaymentEventsConsumer({
    connection,
    prisma: db.prisma,
    settings: deps.reservations.settings,
    logger: testLogger,
    prefix,
    prefetch: 20,
    retryDelayMs: 100,
    onOutcome: (outcome, env) => outcomes.set(env.id, [...(outcomes.get(env.id) ?? []), outcome]),
  });
  return consumer.ready;
};

const passenger = (i = 0) => ({
  name: `Payer ${String.fromCharCode(65 + (i % 26))}`,
  age: 30 + (i % 40),
  gender: (i % 2 ? 'FEMALE' : 'MALE') as 'FEMALE' | 'MALE',
});

async function reserve(run: TestRun, userId: string = randomUUID()) {
  return deps.reservations.queue.reserveSeats(
    { userId, role: 'CUSTOMER', tokenId: randomUUID(), verified: false },
    { runId: run.runId, from: run.stations[0], to: run.stations[3], class: 'SLEEPER', passengers: [passenger()] },
    randomUUID(),
  );
}

function paymentEvent(
  type: 'payment.succeeded' | 'payment.failed',
  reservation: { id: string; pnr: string; farePaise: number },
): Envelope {
  return {
    id: randomUUID(),
    type,
    version: 1,
    occurredAt: new Date().toISOString(),
    correlationId: reservation.pnr,
    data: {
      paymentId: randomUUID(),
      reservationId: reservation.id,
      amountPaise: reservation.farePaise,
      providerRef: `sim_${randomBytes(6).toString('hex')}`,
    },
  };
}

/** Publishes the way the payment relay does: persistent, with messageId = envelope id, confirmed. */
async function publish(...events: Envelope[]) {
  const ch = await admin.createConfirmChannel();
  for (const e of events) {
    ch.publish(topology.exchanges.payments, e.type, Buffer.from(JSON.stringify(e)), {
      persistent: true,
      messageId: e.id,
      correlationId: e.correlationId ?? undefined,
      type: e.type,
      contentType: 'application/json',
    });
  }
  await ch.waitForConfirms();
  await ch.close();
}

const status = async (id: string) => (await db.prisma.reservation.findUniqueOrThrow({ where: { id } })).status;
const outboxKeys = async (reservationId: string) =>
  (
    await db.prisma.bookingOutbox.findMany({
      where: { payload: { path: ['data', 'reservationId'], equals: reservationId } },
      orderBy: { createdAt: 'asc' },
    })
  ).map((r) => r.routingKey);

beforeAll(async () => {
  db = await createTestDatabase('payment_events');
  redis = createRedis(REDIS_URL);
  deps = createBookingDeps(db.prisma, redis, testLogger, {
    txMaxWaitMs: 30_000,
    txTimeoutMs: 30_000,
    queueWaitMs: 60_000,
  });
  admin = await amqp.connect(AMQP_URL);
  connection = createAmqpConnection({ url: AMQP_URL, logger: testLogger, name: 'payment-events-test' });
  registerEventTopology(connection, prefix);
  await connection.waitForConnection(10_000);
  await startConsumer();
});

afterAll(async () => {
  await consumer?.stop();
  await connection?.close();
  if (admin) {
    await deleteEventTopology(admin, prefix);
    await admin.close();
  }
  redis?.disconnect();
  await db?.drop();
});

describe('payment events -> booking', () => {
  it('payment.succeeded confirms a HELD reservation and records the message in booking.inbox', async () => {
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 4 });
    const held = await reserve(run);
    expect(held.status).toBe('HELD');
    const event = paymentEvent('payment.succeeded', held);
    await publish(event);

    await waitFor('reservation confirmed', async () => (await status(held.id)) === 'CONFIRMED');
    await waitFor('outcome recorded', () => outcomes.get(event.id));
    expect(outcomes.get(event.id)).toEqual(['CONFIRMED']);
    const r = await db.prisma.reservation.findUniqueOrThrow({ where: { id: held.id }, include: { passengers: true } });
    expect(r.holdExpiresAt).toBeNull();
    expect(r.confirmedAt).not.toBeNull();
    expect(r.passengers.map((p) => p.status)).toEqual(['CONFIRMED']);
    expect(
      await db.prisma.bookingInbox.findMany({
        where: { messageId: event.id },
        select: { messageId: true, type: true },
      }),
    ).toEqual([{ messageId: event.id, type: 'payment.succeeded' }]);
    expect(await outboxKeys(held.id)).toEqual(['reservation.held', 'reservation.confirmed']);
  });

  it('the same message delivered 10 times concurrently changes the state once', async () => {
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 4 });
    const held = await reserve(run);
    const event = paymentEvent('payment.succeeded', held);
    await Promise.all(Array.from({ length: 10 }, () => publish(event)));

    await waitFor('10 deliveries handled', () => (outcomes.get(event.id)?.length ?? 0) === 10);
    const seen = outcomes.get(event.id)!;
    expect(seen.filter((o) => o === 'CONFIRMED')).toHaveLength(1);
    expect(seen.filter((o) => o === 'DUPLICATE')).toHaveLength(9);
    expect(await status(held.id)).toBe('CONFIRMED');
    expect(await outboxKeys(held.id)).toEqual(['reservation.held', 'reservation.confirmed']);
    expect(await db.prisma.bookingInbox.count({ where: { messageId: event.id } })).toBe(1);
  });

  it('payment.failed releases the hold and promotes the waitlist', async () => {
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 1 });
    const held = await reserve(run);
    const waiting = await reserve(run);
    // Both are held (unpaid); the second one's passenger waits on WL 1.
    expect([held.status, waiting.status]).toEqual(['HELD', 'HELD']);
    expect(waiting.passengers.map((p) => [p.status, p.waitlistNumber])).toEqual([['WAITLISTED', 1]]);
    const event = paymentEvent('payment.failed', held);
    await publish(event);

    const passengerStatus = async () =>
      (await db.prisma.passenger.findMany({ where: { reservationId: waiting.id } })).map((p) => p.status);
    await waitFor('waitlist promoted', async () => (await passengerStatus()).join() === 'HELD');
    expect(outcomes.get(event.id)).toEqual(['RELEASED']);
    expect(await status(held.id)).toBe('EXPIRED');
    // The promoted reservation keeps its status (unpaid: HELD) and its hold.
    const after = await db.prisma.reservation.findUniqueOrThrow({ where: { id: waiting.id } });
    expect([after.status, after.holdExpiresAt?.toISOString()]).toEqual(['HELD', waiting.holdExpiresAt]);
    expect(await outboxKeys(held.id)).toEqual(['reservation.held', 'reservation.released']);
    expect(await outboxKeys(waiting.id)).toEqual(['reservation.held', 'reservation.promoted']);
    const promoted = await db.prisma.passenger.findMany({ where: { reservationId: waiting.id } });
    expect(promoted.map((p) => [p.status, p.coachCode, p.berthNumber])).toEqual([['HELD', 'S1', 1]]);
    expect(await doubleBookingAudit(db.prisma, run.runId)).toEqual({
      overlaps: 0,
      maskMismatch: 0,
      seatedPassengers: 1,
      distinctSeats: 1,
    });
  });

  it('loses nothing while the consumer is stopped: 20 payments sent meanwhile confirm once it starts', async () => {
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 20 });
    const holds = [];
    for (let i = 0; i < 20; i++) holds.push(await reserve(run));
    expect(holds.every((h) => h.status === 'HELD')).toBe(true);

    await consumer.stop();
    const events = holds.map((h) => paymentEvent('payment.succeeded', h));
    await publish(...events);
    // Nobody consumed them: all 20 wait ready in the durable queue (none delivered), still held.
    const ch = await admin.createChannel();
    await waitFor(
      '20 messages ready in the queue',
      async () => (await ch.checkQueue(topology.queues.bookingPaymentEvents.queue)).messageCount === 20,
    );
    await ch.close();
    expect(await db.prisma.reservation.count({ where: { runId: run.runId, status: 'HELD' } })).toBe(20);

    await startConsumer();
    await waitFor(
      '20 holds confirmed',
      async () => (await db.prisma.reservation.count({ where: { runId: run.runId, status: 'CONFIRMED' } })) === 20,
    );
    // onOutcome runs after each event's transaction commits: the last may still be on its way.
    await waitFor('20 outcomes seen', () => events.every((e) => outcomes.has(e.id)));
    expect(events.map((e) => outcomes.get(e.id))).toEqual(events.map(() => ['CONFIRMED']));
    expect(await db.prisma.bookingInbox.count({ where: { messageId: { in: events.map((e) => e.id) } } })).toBe(20);
    expect(await doubleBookingAudit(db.prisma, run.runId)).toEqual({
      overlaps: 0,
      maskMismatch: 0,
      seatedPassengers: 20,
      distinctSeats: 20,
    });
  });

  it('payments arriving together confirm in one transaction, with the outcomes each would get alone', async () => {
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 30 });
    const holds = [];
    for (let i = 0; i < 14; i++) holds.push(await reserve(run));
    const counting = countingPrisma(db.url);
    try {
      const apply = paymentEventApplier(counting.prisma, deps.reservations.settings, testLogger);
      // Ten holds paid at once: one batch (lock, inbox, confirm) whatever their number.
      const ten = holds.slice(0, 10).map((h) => paymentEvent('payment.succeeded', h));
      let results: PaymentEventOutcome[] = [];
      const sql = await counting.statementsDuring(async () => {
        results = await Promise.all(ten.map((e) => apply(e, testLogger)));
      });
      expect(results).toEqual(ten.map(() => 'CONFIRMED'));
      expect(
        sql.filter((q) => !/^(BEGIN|COMMIT)/.test(q)),
        sql.join('\n'),
      ).toHaveLength(3);
      const confirmedEvents = async (id: string) =>
        (await outboxKeys(id)).filter((k) => k === 'reservation.confirmed').length;
      for (const h of holds.slice(0, 10)) expect(await confirmedEvents(h.id)).toBe(1);

      // A mixed batch: the same message twice, a second message for a confirmed reservation, a
      // missing reservation, an expired hold (the long way: reacquired), a payment failure, held ones.
      const [heldA, heldB, expiredHold, failing] = holds.slice(10);
      await expire(expiredHold!.id);
      const twice = paymentEvent('payment.succeeded', heldA!);
      const mixed = [
        twice,
        twice,
        paymentEvent('payment.succeeded', holds[0]!),
        paymentEvent('payment.succeeded', { id: randomUUID(), pnr: '0000000000', farePaise: 1 }),
        paymentEvent('payment.succeeded', expiredHold!),
        paymentEvent('payment.failed', failing!),
        paymentEvent('payment.succeeded', heldB!),
      ];
      const got = await Promise.all(mixed.map((e) => apply(e, testLogger)));
      // The repeated message's second copy is applied after the batch: a duplicate.
      expect(got).toEqual([
        'CONFIRMED',
        'DUPLICATE',
        'ALREADY_CONFIRMED',
        'NOT_FOUND',
        'REACQUIRED',
        'RELEASED',
        'CONFIRMED',
      ]);
      // Delivered again later, alone or batched, every one of them is a duplicate.
      expect(await Promise.all(mixed.map((e) => apply(e, testLogger)))).toEqual(mixed.map(() => 'DUPLICATE'));
      expect(await applyPaymentEvent(db.prisma, deps.reservations.settings, twice, testLogger)).toBe('DUPLICATE');
      expect(await status(heldA!.id)).toBe('CONFIRMED');
      expect(await confirmedEvents(heldA!.id)).toBe(1);
      expect(await doubleBookingAudit(db.prisma, run.runId)).toMatchObject({ overlaps: 0, maskMismatch: 0 });
    } finally {
      await counting.disconnect();
    }
  });

  /** Expires one hold as the sweeper would once its time is up. */
  async function expire(reservationId: string) {
    await db.prisma.reservation.update({
      where: { id: reservationId },
      data: { holdExpiresAt: new Date(Date.now() - 1_000) },
    });
    await expireDue(db.prisma, deps.reservations.settings);
    expect(await status(reservationId)).toBe('EXPIRED');
  }

  it('a payment for an EXPIRED hold whose berths are still free confirms it on the same berths', async () => {
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 2 });
    const held = await reserve(run);
    await expire(held.id);
    const event = paymentEvent('payment.succeeded', held);
    await publish(event);

    await waitFor('re-acquired', async () => (await status(held.id)) === 'CONFIRMED');
    expect(outcomes.get(event.id)).toEqual(['REACQUIRED']);
    const passengers = await db.prisma.passenger.findMany({ where: { reservationId: held.id } });
    expect(passengers.map((p) => [p.status, p.coachCode, p.berthNumber])).toEqual([
      ['CONFIRMED', held.passengers[0]!.coach, held.passengers[0]!.berth],
    ]);
    expect(await outboxKeys(held.id)).toEqual(['reservation.held', 'reservation.expired', 'reservation.confirmed']);
    expect(await doubleBookingAudit(db.prisma, run.runId)).toEqual({
      overlaps: 0,
      maskMismatch: 0,
      seatedPassengers: 1,
      distinctSeats: 1,
    });
  });

  it('a payment for an EXPIRED hold whose berths were taken asks for a refund (refund_required event)', async () => {
    const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 1 });
    const held = await reserve(run);
    await expire(held.id);
    const other = await reserve(run);
    expect(other.status).toBe('HELD');
    const event = paymentEvent('payment.succeeded', held);
    await publish(event);

    await waitFor('outcome recorded', () => outcomes.get(event.id));
    expect(outcomes.get(event.id)).toEqual(['REFUND_REQUIRED']);
    expect(await status(held.id)).toBe('EXPIRED');
    expect(await status(other.id)).toBe('HELD');
    expect(await outboxKeys(held.id)).toEqual([
      'reservation.held',
      'reservation.expired',
      'reservation.refund_required',
    ]);
    const refund = await db.prisma.bookingOutbox.findFirstOrThrow({
      where: {
        routingKey: 'reservation.refund_required',
        payload: { path: ['data', 'reservationId'], equals: held.id },
      },
    });
    expect(refund.exchange).toBe('booking');
    expect(refund.payload).toMatchObject({
      type: 'reservation.refund_required',
      version: 1,
      correlationId: held.pnr,
      data: { reservationId: held.id, pnr: held.pnr, status: 'EXPIRED', refundPaise: held.farePaise },
    });
    expect(await doubleBookingAudit(db.prisma, run.runId)).toEqual({
      overlaps: 0,
      maskMismatch: 0,
      seatedPassengers: 1,
      distinctSeats: 1,
    });
  });
});

describe('the booking service and an absent broker', () => {
  it('starts and serves GraphQL without RabbitMQ, then connects when the broker appears and catches up', async () => {
    // "The broker" is a TCP proxy to RabbitMQ on a port nobody listens on yet.
    const proxy = await createBrokerProxy();

    const servicePrefix = `${prefix}svc_`;
    const serviceTopology = eventTopology(servicePrefix);
    const serviceQueue = serviceTopology.queues.bookingPaymentEvents.queue;
    const { logger, lines } = captureLogger('booking-test');
    const service = await startBookingService(
      loadBookingConfig({
        NODE_ENV: 'test',
        PORT: '0',
        DATABASE_URL: db.url,
        REDIS_URL,
        AMQP_URL: proxy.url,
        AUTH_JWKS_URL: 'http://127.0.0.1:1/.well-known/jwks.json',
        SWEEP_INTERVAL_MS: '0',
        INVENTORY_HORIZON_DAYS: '0',
        EVENTS_PREFIX: servicePrefix,
        OUTBOX_INTERVAL_MS: '50',
      }),
      logger,
    );
    try {
      const ready = await fetch(`${service.url}/ready`);
      expect([ready.status, await ready.json()]).toEqual([200, { status: 'ready', checks: { database: true } }]);
      const gql = await fetch(`${service.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
      expect(await gql.json()).toEqual({ data: { __typename: 'Query' } });

      // A hold made while the broker is away (the service found it unreachable): its event waits
      // in the outbox.
      await waitFor('the service to find the broker unreachable', () =>
        lines.some((l) => l.msg === 'RabbitMQ unreachable; retrying'),
      );
      const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 2 });
      const held = await reserve(run);
      const heldRow = () =>
        db.prisma.bookingOutbox.findFirstOrThrow({
          where: { routingKey: 'reservation.held', payload: { path: ['data', 'reservationId'], equals: held.id } },
        });
      expect((await heldRow()).publishedAt).toBeNull();

      // /metrics shows the waiting row; queue gauges are absent (no broker to ask), and the
      // scrape does not wait for one: the broker only appears after it answered.
      const waiting = await scrape(service.url);
      expect(waiting.sum('tatkal_outbox_unpublished_rows', { table: 'booking' })).toBeGreaterThanOrEqual(1);
      expect(waiting.sum('tatkal_outbox_oldest_unpublished_age_seconds', { table: 'booking' })).toBeGreaterThan(0);
      expect(waiting.find('tatkal_queue_depth_messages', { queue: serviceQueue })).toEqual([]);

      await proxy.start();
      await waitFor('held event published', async () => (await heldRow()).publishedAt);
      // Nobody subscribes to reservation.held: it is kept in booking.unrouted, not retried.
      expect((await heldRow()).attempts).toBe(0);
      // The relay catches up on every row; the lag gauges say so.
      await waitFor(
        'outbox drained',
        async () => (await scrape(service.url)).sum('tatkal_outbox_unpublished_rows', { table: 'booking' }) === 0,
      );
      expect(
        (await scrape(service.url)).sum('tatkal_outbox_oldest_unpublished_age_seconds', { table: 'booking' }),
      ).toBe(0);

      // The service's own consumer now confirms paid holds.
      const ch = await admin.createConfirmChannel();
      const paid = paymentEvent('payment.succeeded', held);
      ch.publish(serviceTopology.exchanges.payments, paid.type, Buffer.from(JSON.stringify(paid)), {
        persistent: true,
        messageId: paid.id,
      });
      // And a malformed message, which goes to the DLQ.
      ch.publish(serviceTopology.exchanges.payments, 'payment.succeeded', Buffer.from('not an event'), {
        persistent: true,
        messageId: `poison-${paid.id}`,
      });
      await ch.waitForConfirms();
      await ch.close();
      await waitFor('confirmed by the service', async () => (await status(held.id)) === 'CONFIRMED');

      // The consumer's lines for that delivery carry its message id and the PNR (correlation id).
      expect(lines.find((l) => l.msg === 'payment event applied' && l.reservationId === held.id)).toMatchObject({
        messageId: paid.id,
        correlationId: held.pnr,
        outcome: 'CONFIRMED',
      });
      // The queue gauges, read from the broker at scrape time: the poison message in the DLQ.
      await waitFor(
        'poison counted in the DLQ',
        async () => (await scrape(service.url)).sum('tatkal_queue_dlq_messages', { queue: serviceQueue }) === 1,
      );
      const after = await scrape(service.url);
      expect(after.sum('tatkal_queue_depth_messages', { queue: serviceQueue })).toBe(0);
      expect(after.sum('tatkal_consumer_deliveries_total', { queue: serviceQueue, outcome: 'ack' })).toBe(1);
      expect(after.sum('tatkal_consumer_deliveries_total', { queue: serviceQueue, outcome: 'dead_lettered' })).toBe(1);
    } finally {
      await service.close();
      await proxy.stop();
      await deleteEventTopology(admin, servicePrefix);
    }
  });

  it("the service's sweeper expires an unpaid hold and counts it", async () => {
    const service = await startBookingService(
      loadBookingConfig({
        NODE_ENV: 'test',
        PORT: '0',
        DATABASE_URL: db.url,
        REDIS_URL,
        AMQP_URL,
        EVENTS_ENABLED: 'false',
        AUTH_JWKS_URL: 'http://127.0.0.1:1/.well-known/jwks.json',
        SWEEP_INTERVAL_MS: '50',
        INVENTORY_HORIZON_DAYS: '0',
      }),
      testLogger,
    );
    try {
      const expiredBefore = (await scrape(service.url)).sum('tatkal_holds_expired_total');
      const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 2 });
      const held = await reserve(run);
      await db.prisma.reservation.update({
        where: { id: held.id },
        data: { holdExpiresAt: new Date(Date.now() - 1_000) },
      });
      await waitFor('hold expired by the sweeper', async () => (await status(held.id)) === 'EXPIRED');
      await waitFor(
        'expiry counted',
        async () => (await scrape(service.url)).sum('tatkal_holds_expired_total') === expiredBefore + 1,
      );
    } finally {
      await service.close();
    }
  });
});
