// Trace context through the outbox against the real PostgreSQL and RabbitMQ: the row keeps the
// trace of the transaction that wrote it, the relay publishes it in the W3C headers (not the
// body), and the consumer's span (a retry's too) continues it; what the handler writes carries it on.
import { randomUUID } from 'node:crypto';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testLogger } from '../../../../test/support/logger.ts';
import {
  admin,
  cleanups,
  connection,
  db,
  exchanges,
  prefix,
  queues,
  useMessagingBroker,
} from '../../../../test/support/messaging.ts';
import { waitFor } from '../../../../test/support/wait.ts';
import { activeTraceContext, inSpan, startTracing, type TraceContext, type Tracing } from '../tracing.ts';
import { startConsumer } from './consumer.ts';
import { eventEnvelope } from './eventEnvelope.ts';
import { startOutboxRelay } from './outbox.ts';
import { dlqName, retryQueueName } from './topology.ts';

useMessagingBroker('messaging_tracing');

const exporter = new InMemorySpanExporter();
let tracing: Tracing;
beforeAll(async () => {
  tracing = (await startTracing('messaging-test', {
    env: {},
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  }))!;
});
afterAll(async () => {
  await tracing?.shutdown();
});

const spanNamed = (name: string, kind: SpanKind) =>
  exporter.getFinishedSpans().filter((s) => s.name === name && s.kind === kind);
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

describe('trace context through the outbox', () => {
  it('webhook -> outbox row -> publish -> consumer (and its retry) -> the event it writes: one trace', async () => {
    const name = `traced-${randomUUID().slice(0, 8)}`;
    const exchange = `${prefix}${name}`;
    const queue = `${prefix}${name}.events`;
    const ch = await admin.createChannel();
    await ch.assertExchange(exchange, 'topic', { durable: false });
    await ch.close();
    exchanges.add(exchange);
    for (const q of [queue, retryQueueName(queue), dlqName(queue)]) queues.add(q);

    const handled: { attempt: number; headers: Record<string, unknown>; body: Record<string, unknown> }[] = [];
    let written: TraceContext | undefined;
    const consumer = startConsumer({
      connection,
      queue,
      bindings: [{ exchange, pattern: 'payment.*' }],
      logger: testLogger,
      retryDelayMs: 50,
      handler: async (_env, ctx) => {
        handled.push({
          attempt: ctx.attempt,
          headers: ctx.message.properties.headers ?? {},
          body: JSON.parse(ctx.message.content.toString('utf8')) as Record<string, unknown>,
        });
        if (ctx.attempt === 1) throw new Error('booking is restarting');
        // What booking's confirmation writes into its own outbox, inside the delivery.
        written = eventEnvelope('reservation.confirmed', {}, { correlationId: null }).traceContext;
      },
    });
    cleanups.push(() => consumer.stop());
    await consumer.ready;

    // The webhook's transaction writes the event (payment's applyProviderEvent does this).
    const rowId = randomUUID();
    const webhookTrace = await inSpan('POST /webhooks/payments', { kind: SpanKind.SERVER }, async (span) => {
      const payload = eventEnvelope('payment.succeeded', { paymentId: 'p1' }, { correlationId: 'r1' });
      expect(payload.traceContext).toEqual(activeTraceContext());
      await db.prisma.$executeRawUnsafe(
        `INSERT INTO payment.outbox (id, exchange, routing_key, payload) VALUES ($1::uuid, $2, $3, $4::jsonb)`,
        rowId,
        name,
        'payment.succeeded',
        JSON.stringify(payload),
      );
      return span!.spanContext();
    });

    const relay = startOutboxRelay({
      prisma: db.prisma,
      table: 'payment',
      connection,
      logger: testLogger,
      intervalMs: 50,
      exchangeName: (e) => `${prefix}${e}`,
    });
    cleanups.push(() => relay.stop());
    await waitFor('the retried delivery handled', () => written !== undefined);

    const [publish, ...morePublishes] = spanNamed(`publish ${name}`, SpanKind.PRODUCER);
    expect(morePublishes).toEqual([]);
    expect(publish!.spanContext().traceId).toBe(webhookTrace.traceId);
    expect(parentOf(publish!)).toBe(webhookTrace.spanId);
    expect(publish!.attributes['messaging.message.id']).toBe(rowId);

    // The W3C header names the publish; the body is the envelope alone.
    expect(handled.map((h) => h.attempt)).toEqual([1, 2]);
    for (const h of handled) {
      expect(h.headers.traceparent).toBe(`00-${webhookTrace.traceId}-${publish!.spanContext().spanId}-01`);
      expect(h.body).not.toHaveProperty('traceContext');
      expect(h.body).toMatchObject({ id: rowId, type: 'payment.succeeded' });
    }

    await waitFor('both deliveries ended', () => spanNamed(`process ${queue}`, SpanKind.CONSUMER).length === 2);
    const deliveries = spanNamed(`process ${queue}`, SpanKind.CONSUMER);
    for (const d of deliveries) {
      expect(d.spanContext().traceId).toBe(webhookTrace.traceId);
      expect(parentOf(d)).toBe(publish!.spanContext().spanId);
    }
    expect(
      deliveries.map((d) => [d.attributes['tatkal.consumer.attempt'], d.attributes['tatkal.consumer.outcome']]),
    ).toEqual([
      [1, 'retry'],
      [2, 'ack'],
    ]);
    expect(deliveries[0]!.status.code).toBe(2); // ERROR: the first attempt failed
    // The event the handler wrote continues the same trace, under the delivery that wrote it.
    expect(written?.traceparent).toBe(`00-${webhookTrace.traceId}-${deliveries[1]!.spanContext().spanId}-01`);
  });
});
