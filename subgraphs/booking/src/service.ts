import {
  createAmqpConnection,
  createRedis,
  eventTopology,
  RedisRateLimitStore,
  registerEventTopology,
  startOutboxRelay,
  startIdempotencyPurge,
  startSubgraphService,
  type Logger,
} from '@tatkal/common';
import { connectPrisma, type createPrisma, databaseReady } from '@tatkal/db';
import type { BookingConfig } from './config.ts';
import { bookingContext } from './context.ts';
import { createBookingDeps } from './deps.ts';
import { startInventoryPreparer } from './domain/inventoryPreparer.ts';
import { startCancelledRunSweeper } from './domain/runs/cancel.ts';
import { startRunScheduler } from './domain/runs/scheduler.ts';
import { startSweeper } from './domain/sweeper.ts';
import { startChartScheduler } from './domain/chart.ts';
import { startPaymentEventsConsumer } from './events/paymentEvents.ts';
import { holdsExpired, inventoryPrepared, runsScheduled } from './metrics.ts';
import { buildBookingServer } from './server.ts';

/** Wires and starts the booking subgraph: used by index.ts and by end-to-end tests (port 0). */
export async function startBookingService(
  config: BookingConfig,
  logger: Logger,
  /** The clock booking windows and waiting rooms go by: the system clock unless a test moves it. */
  opts: { now?: () => Date } = {},
) {
  const prisma = await connectPrisma(config.DATABASE_URL, { max: config.DB_POOL_SIZE, applicationName: 'booking' });
  const redis = createRedis(config.REDIS_URL, { name: 'booking', commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS });
  const deps = createBookingDeps(
    prisma,
    redis,
    logger,
    {
      holdTtlMs: config.HOLD_TTL_MS,
      bookingWindowDays: config.BOOKING_WINDOW_DAYS,
      openingTimes: {
        general: config.GENERAL_OPENS,
        tatkalAc: config.TATKAL_OPENS_AC,
        tatkalNonAc: config.TATKAL_OPENS_NON_AC,
      },
      queueWaitMs: config.QUEUE_WAIT_MS,
      batchSize: config.ALLOCATION_BATCH_SIZE,
      waitlistLimit: config.WAITLIST_LIMIT,
      leaseMs: config.ALLOCATOR_LEASE_MS,
      waitingRoomMs: config.WAITING_ROOM_MINUTES * 60_000,
      tatkalPnrsPerAccount: config.TATKAL_PNRS_PER_ACCOUNT,
      tatkalPnrsPerAddress: config.TATKAL_PNRS_PER_ADDRESS,
      monthlyPnrs: config.MONTHLY_PNRS,
      monthlyPnrsVerified: config.MONTHLY_PNRS_VERIFIED,
      unpaidHoldsPerAccount: config.UNPAID_HOLDS_PER_ACCOUNT,
      agentTatkalPnrsPerRun: config.AGENT_TATKAL_PNRS_PER_RUN,
      txTimeoutMs: config.DB_TX_TIMEOUT_MS,
      runCancelBatchSize: config.RUN_CANCEL_BATCH_SIZE,
      availabilityCacheMs: config.AVAILABILITY_CACHE_MS,
    },
    opts.now,
  );
  const { server } = buildBookingServer({ logger, production: config.NODE_ENV === 'production' });
  const http = await startSubgraphService({
    config,
    server,
    logger,
    // Redis is only an accelerator here: booking stays ready (and correct) without it.
    readiness: { database: () => databaseReady(prisma) },
    extendContext: (base) => bookingContext(deps, base),
    // reserveSeats' graphql-rate-limit rule (permissions.ts) counts here; Redis down: not limited.
    rateLimitStore: new RedisRateLimitStore(redis, { prefix: 'rl:booking:', logger }),
  });
  const { queue, availability } = deps.reservations;
  // The sweeper's and payment events' writes do not name their runs: every run's availability is read again.
  const events = config.EVENTS_ENABLED
    ? startEvents(config, logger, prisma, deps.reservations.settings, (outcome) => {
        if (outcome === 'RELEASED' || outcome === 'REACQUIRED') availability.changedAll();
      })
    : null;
  const sweeper = startSweeper({
    prisma,
    settings: deps.reservations.settings,
    allocator: queue.allocator,
    admitDue: queue.admitDue,
    intervalMs: config.SWEEP_INTERVAL_MS,
    logger,
    onExpired: (n) => {
      holdsExpired.inc(n);
      availability.changedAll();
    },
    onPromoted: () => availability.changedAll(),
  });
  const purge = startIdempotencyPurge(deps.idempotency, logger);
  const preparer =
    config.INVENTORY_HORIZON_DAYS > 0
      ? startInventoryPreparer({
          prisma,
          horizonDays: config.INVENTORY_HORIZON_DAYS,
          intervalMs: config.INVENTORY_INTERVAL_MS,
          logger,
          onPrepared: (n) => inventoryPrepared.inc(n),
        })
      : null;
  // Runs exist the day before their GENERAL window opens (ARP + 1 days ahead); the preparer
  // above gives them berths when INVENTORY_HORIZON_DAYS covers that horizon (the default does).
  const scheduler = startRunScheduler({
    prisma,
    horizonDays: config.BOOKING_WINDOW_DAYS + 1,
    intervalMs: config.RUN_SCHEDULER_INTERVAL_MS,
    logger,
    onCreated: (n) => runsScheduled.inc(n),
  });
  const charts = startChartScheduler({
    prisma,
    idempotency: deps.idempotency,
    settings: deps.reservations.settings,
    availability,
    logger,
    intervalMs: config.CHART_INTERVAL_MS,
    now: opts.now,
  });
  // Reservations left on a cancelled run (a cancelRun cut short, a request queued as it ran).
  const cancelledRuns = startCancelledRunSweeper({
    ...deps.reservations,
    intervalMs: config.SWEEP_INTERVAL_MS,
    logger,
  });
  // Requests queued before a crash or restart are decided now, not at the next sweep.
  void queue.allocator
    .resume()
    .catch((err: unknown) => logger.error({ err }, 'resuming queued reservations failed; the sweeper retries'));
  return {
    url: http.url,
    close: async () => {
      await http.close();
      await queue.close();
      await sweeper.stop();
      await purge.stop();
      await preparer?.stop();
      await scheduler.stop();
      await charts.stop();
      await cancelledRuns.stop();
      await events?.close();
      redis.disconnect();
      await prisma.$disconnect();
    },
  };
}

/**
 * RabbitMQ side of booking: the outbox relay and the payment-event consumer on one connection.
 * Never blocks start-up: without a broker GraphQL is served, outbox rows wait, and both start
 * working when the connection comes up (logged).
 */
function startEvents(
  config: BookingConfig,
  logger: Logger,
  prisma: ReturnType<typeof createPrisma>,
  settings: Parameters<typeof startPaymentEventsConsumer>[0]['settings'],
  onOutcome: Parameters<typeof startPaymentEventsConsumer>[0]['onOutcome'],
) {
  const connection = createAmqpConnection({ url: config.AMQP_URL, logger, name: 'booking' });
  registerEventTopology(connection, config.EVENTS_PREFIX);
  const relay = startOutboxRelay({
    prisma,
    table: 'booking',
    connection,
    logger,
    intervalMs: config.OUTBOX_INTERVAL_MS,
    exchangeName: eventTopology(config.EVENTS_PREFIX).exchangeName,
  });
  const consumer = startPaymentEventsConsumer({
    connection,
    prisma,
    settings,
    logger,
    prefix: config.EVENTS_PREFIX,
    onOutcome,
  });
  return {
    connection,
    async close() {
      await consumer.stop();
      await relay.stop();
      await connection.close();
    },
  };
}
