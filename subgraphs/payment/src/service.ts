import {
  createAmqpConnection,
  createRedis,
  identityAssertionsFor,
  eventTopology,
  readinessChecks,
  RedisRateLimitStore,
  registerEventTopology,
  startOutboxRelay,
  startIdempotencyPurge,
  startSubgraphService,
  type Logger,
} from '@tatkal/common';
import { connectPrisma, type createPrisma, databaseReady } from '@tatkal/db';
import { paymentServes, type PaymentConfig } from './config.ts';
import { createPaymentDeps } from './deps.ts';
import { refundRequester } from './domain/refunds.ts';
import { startBookingEventsConsumer } from './events/bookingEvents.ts';
import type { ProviderClient } from './provider/client.ts';
import { buildPaymentServer } from './server.ts';
import { serveWebhooks } from './webhooks.ts';

/**
 * Wires and starts payment in its role (`PAYMENT_ROLE`, config.ts): the subgraph (PORT) and the
 * webhook sidecar (WEBHOOK_PORT) in one process (`all`), or either alone. `url` / `webhookUrl` is
 * null for the part a role does not serve.
 */
export async function startPaymentService(config: PaymentConfig, logger: Logger) {
  const serves = paymentServes(config.PAYMENT_ROLE);
  const prisma = await connectPrisma(config.DATABASE_URL, {
    applicationName: serves.graphql ? 'payment' : 'payment-webhooks',
  });
  // The subgraph and the webhook sidecar need the database only (events leave through the outbox).
  const readiness = { database: () => databaseReady(prisma) };
  // Redis only caches finished idempotency outcomes of the subgraph: optional, never part of readiness.
  const redis = serves.graphql && config.REDIS_URL ? createRedis(config.REDIS_URL, { name: 'payment' }) : null;
  // Signs payment's own calls to booking as the gateway signs its calls (production requires it).
  const identityAssertions = identityAssertionsFor(config.IDENTITY_ASSERTION_SECRET);
  const deps = createPaymentDeps(
    prisma,
    redis,
    { bookingUrl: config.BOOKING_URL, providerUrl: config.PROVIDER_URL, identityAssertions },
    logger,
  );
  const http = serves.graphql
    ? await startSubgraphService({
        config,
        server: buildPaymentServer({ logger, production: config.NODE_ENV === 'production' }).server,
        logger,
        identityAssertions,
        readiness,
        extendContext: (base) => ({ ...base, ...deps }),
        // createPayment's graphql-rate-limit rule (permissions.ts) counts here; no Redis: not limited.
        rateLimitStore: redis ? new RedisRateLimitStore(redis, { prefix: 'rl:payment:', logger }) : undefined,
      })
    : null;
  const purge = serves.graphql ? startIdempotencyPurge(deps.idempotency, logger) : null;
  const webhooks = serves.webhooks
    ? await serveWebhooks({
        port: config.WEBHOOK_PORT,
        host: config.HOST,
        ready: readinessChecks(readiness),
        prisma,
        secrets: [config.PAYMENT_WEBHOOK_SECRET, ...config.PAYMENT_WEBHOOK_SECRETS],
        logger,
      })
    : null;
  const events = config.EVENTS_ENABLED
    ? startEvents(config, logger, prisma, deps.provider, { consumer: serves.graphql })
    : null;
  return {
    url: http?.url ?? null,
    webhookUrl: webhooks?.url ?? null,
    close: async () => {
      await webhooks?.close();
      await http?.close();
      await purge?.stop();
      await events?.close();
      redis?.disconnect();
      await Promise.all([deps.booking.close?.(), deps.provider.close?.()]);
      await prisma.$disconnect();
    },
  };
}

/**
 * RabbitMQ side of payment (docs/events.md): the outbox relay (payment.succeeded / payment.failed /
 * refund.succeeded) and, with the subgraph, the booking-event consumer (refunds) on one connection
 * that never blocks start-up and reconnects by itself. The relay runs in every role (SKIP LOCKED:
 * any number of relays share the table), so the webhook sidecar's events leave from its own pods.
 */
function startEvents(
  config: PaymentConfig,
  logger: Logger,
  prisma: ReturnType<typeof createPrisma>,
  provider: ProviderClient,
  opts: { consumer: boolean },
) {
  const connection = createAmqpConnection({ url: config.AMQP_URL, logger, name: 'payment' });
  registerEventTopology(connection, config.EVENTS_PREFIX);
  const relay = startOutboxRelay({
    prisma,
    table: 'payment',
    connection,
    logger,
    intervalMs: config.OUTBOX_INTERVAL_MS,
    exchangeName: eventTopology(config.EVENTS_PREFIX).exchangeName,
  });
  const consumer = opts.consumer
    ? startBookingEventsConsumer({
        connection,
        prisma,
        requestRefund: refundRequester(provider),
        logger,
        prefix: config.EVENTS_PREFIX,
      })
    : null;
  return {
    connection,
    async close() {
      await consumer?.stop();
      await relay.stop();
      await connection.close();
    },
  };
}
