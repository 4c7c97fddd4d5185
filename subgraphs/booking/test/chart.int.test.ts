// Chart preparation (docs/api.md, "Chart preparation") against the real PostgreSQL and Redis: two
// booking instances (their own Prisma clients) and a scheduler's look for due charts all prepare
// the first chart of one run at once. It happens once: unused Tatkal berths go to GENERAL, the
// pool moves up in order (RAC -> berth, WL -> RAC), each fully waitlisted PNR is cancelled once
// (paid: the fare less clerkage in its reservation.cancelled event; unpaid: nothing), and a
// confirmed berth can no longer be cancelled online.
import { randomBytes, randomUUID } from 'node:crypto';
import amqp, { type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addDays,
  AppError,
  createAmqpConnection,
  createRedis,
  deleteEventTopology,
  ErrorCode,
  eventTopology,
  metricsRegistry,
  registerEventTopology,
  startOutboxRelay,
  todayInIndia,
  type AmqpConnection,
  type Identity,
  type Redis,
} from '@tatkal/common';
import { createPrisma, type PrismaClient, type Quota } from '@tatkal/db';
import { racAudit } from '../../../packages/testkit/src/trainRun.ts';
import { bookingContext, type BookingDeps } from '../src/context.ts';
import { createBookingDeps } from '../src/deps.ts';
import { cancellationQuote, cancelReservation } from '../src/domain/cancel.ts';
import { dueCharts, prepareChart } from '../src/domain/chart.ts';
import { confirm } from '../src/domain/lifecycle/index.ts';
import type { QueuedView } from '../src/domain/queue.ts';
import { departureOf } from '../src/domain/refunds.ts';
import { chartsPrepared } from '../src/metrics.ts';
import { buildBookingServer } from '../src/server.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { refundRequester } from '../../payment/src/domain/refunds.ts';
import { startBookingEventsConsumer } from '../../payment/src/events/bookingEvents.ts';
import type { ProviderClient, ProviderRefund } from '../../payment/src/provider/client.ts';
import { AMQP_URL, REDIS_URL } from '../../../test/support/env.ts';
import { execute } from '../../../test/support/graphql.ts';
import { parseMetrics } from '../../../test/support/metrics.ts';
import { testLogger } from '../../../test/support/logger.ts';
import { identity } from '../../../test/support/tokens.ts';
import { waitFor } from '../../../test/support/wait.ts';
import { createTestRun, doubleBookingAudit, type TestRun } from './fixtures.ts';

let db: TestDatabase;
let redis: Redis;
let second: PrismaClient;
let a: BookingDeps;
let b: BookingDeps;
const { server } = buildBookingServer({ logger: testLogger, production: false });

/** Clerkage per passenger: ₹60 and 18% GST on it (docs/api.md, "Cancellation and refunds"). */
const CLERKAGE = 6000 + 1080;

// The run leaves tomorrow: its Tatkal window opened today at 11:00 IST. Requests are judged at
// 12:00 IST today whenever the test runs (the window is open then).
const today = todayInIndia();
const requestClock = () => new Date(`${today}T06:30:00Z`);

beforeAll(async () => {
  db = await createTestDatabase('chart');
  redis = createRedis(REDIS_URL);
  second = createPrisma(db.url, { max: 10, applicationName: 'test:chart-b' });
  const settings = {
    txMaxWaitMs: 60_000,
    txTimeoutMs: 60_000,
    queueWaitMs: 60_000,
    monthlyPnrs: 0,
    monthlyPnrsVerified: 0,
    unpaidHoldsPerAccount: 0,
  };
  a = createBookingDeps(db.prisma, redis, testLogger, settings, requestClock);
  b = createBookingDeps(second, redis, testLogger, settings, requestClock);
  await server.start();
});

afterAll(async () => {
  await server.stop();
  await second?.$disconnect();
  redis?.disconnect();
  await db?.drop();
});

const passenger = (i: number) => ({
  name: `Chart Passenger ${String.fromCharCode(65 + (i % 26))}`,
  age: 40,
  gender: 'MALE' as const,
});

interface Booked {
  who: Identity;
  view: QueuedView;
}

async function book(run: TestRun, opts: { n?: number; quota?: Quota } = {}): Promise<Booked> {
  // Tatkal needs an identity-verified account.
  const who = identity(randomUUID(), 'CUSTOMER', opts.quota === 'TATKAL');
  const view = await a.reservations.queue.reserveSeats(
    who,
    {
      runId: run.runId,
      from: run.stations[0],
      to: run.stations[3],
      class: 'SLEEPER',
      quota: opts.quota ?? 'GENERAL',
      passengers: Array.from({ length: opts.n ?? 1 }, (_, i) => passenger(i)),
    },
    randomUUID(),
  );
  return { who, view };
}

const chartCount = async () => (await chartsPrepared.get()).values.find((v) => v.labels.chart === 'first')?.value ?? 0;

describe('the first chart, prepared from two instances and the scheduler at once', () => {
  let run: TestRun;
  let chartAt: Date;
  const general: Booked[] = [];
  let tatkal: Booked;
  const rac: Booked[] = [];
  const wl: Record<'w1' | 'w2' | 'w3' | 'w4' | 'w5', Booked> = {} as never;

  it('books berths (GENERAL and Tatkal), RAC and WL; pays all but one RAC and one WL PNR', async () => {
    // One sleeper coach of 16: side lower 7 an RAC berth (2 halves), 15 berths of which 4 Tatkal.
    run = await createTestRun(db.prisma, {
      cls: 'SLEEPER',
      coaches: 1,
      berthsPerCoach: 16,
      racBerths: 1,
      quotas: { TATKAL: 4 },
      daysAhead: 1,
    });
    expect(run.date).toBe(addDays(today, 1));
    chartAt = new Date(
      (
        await departureOf(db.prisma, await db.prisma.trainRun.findUniqueOrThrow({ where: { id: run.runId } }))
      ).getTime() -
        4 * 3_600_000 +
        60_000,
    );
    for (let i = 0; i < 11; i++) general.push(await book(run));
    expect(general.map((g) => g.view.passengers[0]!.status)).toEqual(Array(11).fill('HELD'));
    tatkal = await book(run, { quota: 'TATKAL' });
    expect(tatkal.view.passengers[0]!.status).toBe('HELD');
    for (let i = 0; i < 2; i++) rac.push(await book(run));
    expect(rac.map((r) => [r.view.passengers[0]!.status, r.view.passengers[0]!.racNumber])).toEqual([
      ['RAC', 1],
      ['RAC', 2],
    ]);
    wl.w1 = await book(run);
    wl.w2 = await book(run, { n: 2 });
    wl.w3 = await book(run);
    wl.w4 = await book(run);
    wl.w5 = await book(run, { n: 2 });
    expect(Object.values(wl).flatMap((w) => w.view.passengers.map((p) => [p.status, p.waitlistNumber]))).toEqual(
      [1, 2, 3, 4, 5, 6, 7].map((n) => ['WAITLISTED', n]),
    );
    // Unpaid: RAC 2 and WL 5 (W4).
    const paying = [...general, tatkal, rac[0]!, wl.w1, wl.w2, wl.w3, wl.w5];
    expect(await Promise.all(paying.map((p) => confirm(db.prisma, p.view.id)))).toEqual(paying.map(() => 'CONFIRMED'));
  }, 120_000);

  it('prepares the chart once: releases, promotes in order, cancels fully waitlisted PNRs once', async () => {
    const chartsBefore = await chartCount();
    const outboxBefore = await db.prisma.bookingOutbox.count();
    const fare = general[0]!.view.farePaise;
    const outcomes = await Promise.all([
      prepareChart({ ...a.reservations, logger: testLogger }, run.runId, 'FIRST', chartAt),
      prepareChart({ ...b.reservations, logger: testLogger }, run.runId, 'FIRST', chartAt),
      (async () => {
        // A scheduler tick on instance b: the run's first chart is due at departure - 4 h.
        const due = await dueCharts(second, chartAt);
        expect(due).toContainEqual({ id: run.runId, chart: 'FIRST' });
        return prepareChart({ ...b.reservations, logger: testLogger }, run.runId, 'FIRST', chartAt);
      })(),
    ]);
    const prepared = outcomes.filter((o) => o.prepared);
    expect(prepared).toHaveLength(1);
    expect(outcomes.filter((o) => !o.prepared)).toEqual(
      Array(2).fill({
        runId: run.runId,
        chart: 'FIRST',
        prepared: false,
        releasedBerths: 0,
        promotedReservations: 0,
        cancelledReservations: 0,
        refundPaise: 0,
      }),
    );
    // RAC 1, RAC 2, W1 moved up; W2's two passengers too; W3, W4, W5 cancelled.
    expect(prepared[0]).toMatchObject({
      runId: run.runId,
      chart: 'FIRST',
      prepared: true,
      promotedReservations: 4,
      cancelledReservations: 3,
      refundPaise: 3 * (fare - CLERKAGE),
    });
    // Three of the four Tatkal berths were unused (the schema: "Unused quota berths released").
    expect.soft(prepared[0]!.releasedBerths, 'releasedBerths counts the unused quota berths').toBe(3);
    expect(await chartCount()).toBe(chartsBefore + 1);

    const runRow = await db.prisma.trainRun.findUniqueOrThrow({ where: { id: run.runId } });
    expect(runRow.chartPreparedAt).toEqual(chartAt);
    expect(runRow.secondChartAt).toBeNull();
    const quotas = await db.prisma.$queryRaw<{ quota: string; n: number }[]>`
      SELECT quota::text, count(*)::int AS n FROM booking.run_seats
      WHERE run_id = ${run.runId}::uuid AND NOT rac GROUP BY quota`;
    expect(quotas).toEqual([{ quota: 'GENERAL', n: 15 }]);

    const passengers = await db.prisma.passenger.findMany({
      where: { reservation: { runId: run.runId } },
      orderBy: [{ reservation: { createdAt: 'asc' } }, { position: 'asc' }],
    });
    const of = (x: Booked) => passengers.filter((p) => p.reservationId === x.view.id);
    const place = (x: Booked) =>
      of(x).map((p) => [p.status, p.racSlot !== null ? 'RAC' : p.seatId !== null ? 'berth' : null]);
    // The three released berths: RAC 1 and RAC 2 (unpaid: HELD), then W1 (WL 1 -> RAC -> berth).
    expect(place(rac[0]!)).toEqual([['CONFIRMED', 'berth']]);
    expect(place(rac[1]!)).toEqual([['HELD', 'berth']]);
    expect(place(wl.w1)).toEqual([['CONFIRMED', 'berth']]);
    // The two RAC halves: W2's passengers (WL 2 and 3), in order.
    expect(of(wl.w2).map((p) => [p.status, p.berthType, p.racNumber, p.racSlot !== null])).toEqual([
      ['RAC', 'SL', 4, true],
      ['RAC', 'SL', 5, true],
    ]);
    // Fully waitlisted: cancelled; paid ones refunded the fare less clerkage, the unpaid one nothing.
    for (const x of [wl.w3, wl.w4, wl.w5]) {
      const r = await db.prisma.reservation.findUniqueOrThrow({ where: { id: x.view.id } });
      expect(r.status).toBe('CANCELLED');
    }
    expect(of(wl.w3).map((p) => [p.status, p.refundPaise])).toEqual([['CANCELLED', fare - CLERKAGE]]);
    expect(of(wl.w5).map((p) => [p.status, p.refundPaise])).toEqual(Array(2).fill(['CANCELLED', fare - CLERKAGE]));
    expect(of(wl.w4).map((p) => [p.status, p.refundPaise])).toEqual([['CANCELLED', null]]);
    const cancelled = await db.prisma.bookingOutbox.findMany({ where: { routingKey: 'reservation.cancelled' } });
    const byPnr = cancelled.map(
      (e) => (e.payload as { data: { pnr: string; refundPaise: number; reason?: string } }).data,
    );
    expect(byPnr.map((d) => [d.pnr, d.refundPaise, d.reason]).sort()).toEqual(
      [
        [wl.w3.view.pnr, fare - CLERKAGE, 'CHART_WAITLISTED'],
        [wl.w4.view.pnr, 0, 'CHART_WAITLISTED'],
        [wl.w5.view.pnr, 2 * (fare - CLERKAGE), 'CHART_WAITLISTED'],
      ].sort(),
    );
    expect(await db.prisma.bookingOutbox.count()).toBeGreaterThan(outboxBefore);
    expect(await racAudit(db.prisma, run.runId)).toEqual({ racOverShared: 0, racMaskMismatch: 0, racSoldAsBerth: 0 });
    expect(await doubleBookingAudit(db.prisma, run.runId)).toEqual({
      overlaps: 0,
      maskMismatch: 0,
      seatedPassengers: 15,
      distinctSeats: 15,
    });
  }, 120_000);

  it('a second call answers prepared: false and writes nothing', async () => {
    const snapshot = async () => ({
      outbox: await db.prisma.bookingOutbox.count(),
      passengers: await db.prisma.passenger.findMany({
        where: { reservation: { runId: run.runId } },
        orderBy: { id: 'asc' },
      }),
      reservations: await db.prisma.reservation.findMany({ where: { runId: run.runId }, orderBy: { id: 'asc' } }),
      run: await db.prisma.trainRun.findUniqueOrThrow({ where: { id: run.runId } }),
    });
    const before = await snapshot();
    const charts = await chartCount();
    const again = await prepareChart(
      { ...b.reservations, logger: testLogger },
      run.runId,
      'FIRST',
      new Date(chartAt.getTime() + 60_000),
    );
    expect(again).toMatchObject({ prepared: false, releasedBerths: 0, cancelledReservations: 0, refundPaise: 0 });
    expect(await snapshot()).toEqual(before);
    expect(await chartCount()).toBe(charts);
    // Not due any more (its second chart is, 30 minutes before departure).
    expect(await dueCharts(second, chartAt)).not.toContainEqual(expect.objectContaining({ id: run.runId }));
  });

  it('after the chart: a confirmed berth cannot be cancelled online; an RAC one still can', async () => {
    const holder = general[0]!;
    const quote = await cancellationQuote(a.reservations, holder.who, { pnr: holder.view.pnr });
    expect(quote).toMatchObject({ refundPaise: 0, refusal: 'CANCELLATION_CLOSED' });
    const refused = await cancelReservation(a.reservations, holder.who, { pnr: holder.view.pnr }).catch((e) => e);
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).code).toBe(ErrorCode.CANCELLATION_CLOSED);
    expect((await db.prisma.reservation.findUniqueOrThrow({ where: { id: holder.view.id } })).status).toBe('CONFIRMED');
    // The Tatkal ticket too.
    const tq = await cancelReservation(b.reservations, tatkal.who, { pnr: tatkal.view.pnr }).catch((e) => e);
    expect((tq as AppError).code).toBe(ErrorCode.CANCELLATION_CLOSED);

    // RAC passengers (W2) may cancel until 30 minutes before departure: the fare less clerkage each.
    const w2 = await cancelReservation(b.reservations, wl.w2.who, { pnr: wl.w2.view.pnr });
    expect(w2.status).toBe('CANCELLED');
    expect(w2.passengers.map((p) => p.refundPaise)).toEqual(
      Array(2).fill(wl.w2.view.passengers[0]!.farePaise - CLERKAGE),
    );

    // The reservation shows the chart.
    const res = await execute(
      server,
      'query($pnr: String!) { reservation(pnr: $pnr) { chartPrepared status passengers { status coach berth } } }',
      { pnr: holder.view.pnr },
      bookingContext(a, { identity: holder.who, requestId: 'test', log: testLogger }),
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!.reservation).toMatchObject({ chartPrepared: true, status: 'CONFIRMED' });
    expect(res.data!.reservation.passengers[0].berth).toBe(holder.view.passengers[0]!.berth);
    expect(await racAudit(db.prisma, run.runId)).toEqual({ racOverShared: 0, racMaskMismatch: 0, racSoldAsBerth: 0 });
  });

  it('the second chart, 30 minutes before departure: once, from two instances at once', async () => {
    const secondAt = new Date(chartAt.getTime() + 3.5 * 3_600_000);
    expect(await dueCharts(second, secondAt)).toContainEqual({ id: run.runId, chart: 'SECOND' });
    const outcomes = await Promise.all([
      prepareChart({ ...a.reservations, logger: testLogger }, run.runId, 'SECOND', secondAt),
      prepareChart({ ...b.reservations, logger: testLogger }, run.runId, 'SECOND', secondAt),
    ]);
    expect(outcomes.map((o) => o.prepared).sort()).toEqual([false, true]);
    // Nothing left to release, promote or cancel: W2's RAC halves were given up with nobody waiting.
    expect(outcomes.find((o) => o.prepared)).toMatchObject({
      releasedBerths: 0,
      promotedReservations: 0,
      cancelledReservations: 0,
      refundPaise: 0,
    });
    const runRow = await db.prisma.trainRun.findUniqueOrThrow({ where: { id: run.runId } });
    expect(runRow).toMatchObject({ chartPreparedAt: chartAt, secondChartAt: secondAt });
    expect(await dueCharts(second, secondAt)).not.toContainEqual(expect.objectContaining({ id: run.runId }));
  });
});

describe("the chart's refunds at payment: once each, across restarts of booking's relay and payment's consumer", () => {
  const prefix = `t${randomBytes(4).toString('hex')}_`;
  const topology = eventTopology(prefix);
  let broker: ChannelModel;
  let connection: AmqpConnection;
  // The provider (a third party): an in-memory stand-in honouring idempotency keys as the real API does.
  const calls: { idempotencyKey: string; amountPaise: number }[] = [];
  const providerRefunds = new Map<string, ProviderRefund>();
  const provider: ProviderClient = {
    createPayment: () => Promise.reject(new Error('not used here')),
    async createRefund(req) {
      calls.push({ idempotencyKey: req.idempotencyKey, amountPaise: req.amountPaise });
      const known = providerRefunds.get(req.idempotencyKey);
      if (known) return known;
      const refund = {
        id: `re_${randomBytes(6).toString('hex')}`,
        status: 'pending',
        payment: req.providerRef,
        amountPaise: req.amountPaise,
      };
      providerRefunds.set(req.idempotencyKey, refund);
      return refund;
    },
  };
  const startConsumer = () =>
    startBookingEventsConsumer({
      connection,
      prisma: db.prisma,
      requestRefund: refundRequester(provider),
      logger: testLogger,
      prefix,
      prefetch: 1,
      retryDelayMs: 50,
    });
  const startRelay = () =>
    startOutboxRelay({
      prisma: db.prisma,
      table: 'booking',
      connection,
      logger: testLogger,
      intervalMs: 50,
      exchangeName: topology.exchangeName,
    });

  beforeAll(async () => {
    broker = await amqp.connect(AMQP_URL);
    connection = createAmqpConnection({ url: AMQP_URL, logger: testLogger, name: 'chart-test' });
    registerEventTopology(connection, prefix);
    await connection.waitForConnection(10_000);
  });
  afterAll(async () => {
    await connection?.close();
    if (broker) await deleteEventTopology(broker, prefix).finally(() => broker.close());
  });

  it('every paid cancellation (the chart and after) is refunded once, exactly its refundPaise', async () => {
    // The refunds booking asked for: every reservation.cancelled of this database with money back.
    const rows = await db.prisma.bookingOutbox.findMany({ where: { routingKey: 'reservation.cancelled' } });
    // The envelope the relay publishes: the row's id is the event's id (and the message id).
    const asked = rows
      .map((r) => ({
        id: r.id,
        ...(r.payload as { data: { reservationId: string; refundPaise: number; reason?: string } }),
      }))
      .filter((e) => e.data.refundPaise > 0);
    // W3 and W5 at the chart; W2 cancelled on RAC after it.
    expect(asked.filter((e) => e.data.reason === 'CHART_WAITLISTED')).toHaveLength(2);
    expect(asked).toHaveLength(3);
    // Each was paid at payment (a payment of its reservation's fare).
    for (const e of asked) {
      const r = await db.prisma.reservation.findUniqueOrThrow({
        where: { id: e.data.reservationId },
        include: { passengers: true },
      });
      await db.prisma.payment.create({
        data: {
          reservationId: r.id,
          userId: r.userId,
          amountPaise: r.passengers.reduce((sum, p) => sum + p.farePaise, 0),
          status: 'SUCCEEDED',
          providerRef: `sim_${randomBytes(8).toString('hex')}`,
          checkoutUrl: 'http://127.0.0.1/checkout',
        },
      });
    }
    const refunds = () => db.prisma.refund.findMany({ include: { payment: { select: { reservationId: true } } } });

    const ids = asked.map((e) => e.id);
    // The other rows (holds, confirmations, promotions) are not this test's: out of the relay's way.
    await db.prisma.$executeRaw`
      UPDATE booking.outbox SET published_at = now() WHERE NOT (id = ANY(${ids}::uuid[]))`;
    const acks = async () =>
      parseMetrics(await metricsRegistry.metrics()).sum('tatkal_consumer_deliveries_total', {
        queue: topology.queues.paymentBookingEvents.queue,
        outcome: 'ack',
      });
    const acksBefore = await acks();
    const unpublished = () => db.prisma.bookingOutbox.count({ where: { id: { in: ids }, publishedAt: null } });

    let consumer = startConsumer();
    await consumer.ready;
    let relay = startRelay();
    // Payment's consumer stops as soon as the first refund is requested (the rest wait in its queue).
    await waitFor('a first refund at payment', async () => (await refunds()).length >= 1, { intervalMs: 5 });
    await consumer.stop();
    await waitFor('the refunds published', async () => (await unpublished()) === 0);
    await relay.stop();
    // Booking's relay as if it had crashed after publishing, before marking the rows: it publishes
    // every one of them again when it starts.
    await db.prisma.bookingOutbox.updateMany({ where: { id: { in: ids } }, data: { publishedAt: null } });
    consumer = startConsumer();
    await consumer.ready;
    relay = startRelay();
    try {
      await waitFor('the refunds published again', async () => (await unpublished()) === 0);
      // Every copy (three events, each published twice) handled for good.
      await waitFor('every delivery acknowledged', async () => (await acks()) >= acksBefore + 2 * asked.length, {
        message: async () => `${(await acks()) - acksBefore} acknowledged`,
      });
    } finally {
      await relay.stop();
      await consumer.stop();
    }
    const found = await refunds();
    expect(
      found.map((r) => [r.payment.reservationId, r.amountPaise]).sort(),
      'one Refund per cancellation, of exactly the refund booking computed',
    ).toEqual(asked.map((e) => [e.data.reservationId, e.data.refundPaise]).sort());
    // The provider was asked once per refund (a retried request reuses its idempotency key).
    expect(new Set(calls.map((c) => c.idempotencyKey)).size).toBe(asked.length);
  }, 120_000);
});
