// One paid reservation through the whole supergraph with tracing on (an in-memory exporter in
// place of OTLP): the gateway's request and the booking subgraph's are one trace, and the
// provider's webhook, the payment event through the outbox and RabbitMQ, and booking's
// confirmation are one trace (docs/operations.md, "Tracing").
import { randomUUID } from 'node:crypto';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, todayInIndia } from '@tatkal/common/dates';
import { startTracing, traceContextOf, type Tracing } from '@tatkal/common';
import { TatkalClient } from '@tatkal/client';
import { startSupergraph, type RunningSupergraph } from './support/supergraph.ts';
import { waitFor } from './support/wait.ts';

let sg: RunningSupergraph;
let tracing: Tracing;
const exporter = new InMemorySpanExporter();

beforeAll(async () => {
  // Before the supergraph: its servers decide at listen time whether to trace.
  tracing = (await startTracing('tatkal-e2e', { spanProcessors: [new SimpleSpanProcessor({ exporter })] }))!;
  sg = await startSupergraph('e2e_tracing');
});
afterAll(async () => {
  await sg?.stop();
  await tracing?.shutdown();
});

const spans = () => exporter.getFinishedSpans();
const portOf = (url: string) => Number(new URL(url).port);
const byId = () => new Map(spans().map((s) => [s.spanContext().spanId, s]));

/** The span's ancestors, nearest first, as far as they were exported. */
function ancestors(span: ReadableSpan, index = byId()): ReadableSpan[] {
  const chain: ReadableSpan[] = [];
  let parent = span.parentSpanContext && index.get(span.parentSpanContext.spanId);
  while (parent) {
    chain.push(parent);
    parent = parent.parentSpanContext && index.get(parent.parentSpanContext.spanId);
  }
  return chain;
}

const serverSpansAt = (port: number, route: string) =>
  spans().filter(
    (s) => s.kind === SpanKind.SERVER && s.attributes['server.port'] === port && s.attributes['http.route'] === route,
  );

describe('tracing across the supergraph', () => {
  it('a paid reservation: gateway -> booking is one trace; webhook -> event -> confirmation is one trace', async () => {
    const client = new TatkalClient({ url: sg.gatewayUrl });
    await client.register({
      email: `traced-${randomUUID()}@example.com`,
      password: 'a long enough passphrase',
      name: 'Asha Rao',
    });
    const date = addDays(todayInIndia(), 3);
    const trains = await client.trainsBetween({ from: 'MMCT', to: 'NDLS', date, class: 'THIRD_AC' });
    const run = trains.find((t) => t.number === '12951')!.run!;
    const reservation = await client.reserve({
      runId: run.id,
      from: 'MMCT',
      to: 'NDLS',
      class: 'THIRD_AC',
      passengers: [{ name: 'Asha Rao', age: 34, gender: 'FEMALE' }],
    });
    expect(reservation.status).toBe('HELD');
    const payment = await client.pay(reservation.id);
    const paid = await fetch(`${sg.urls.provider}/payments/${payment.providerRef}/succeed`, { method: 'POST' });
    expect(paid.ok).toBe(true);
    await waitFor(
      'the reservation CONFIRMED',
      async () => (await client.reservation(reservation.pnr))?.status === 'CONFIRMED',
      {
        timeoutMs: 30_000,
        intervalMs: 200,
      },
    );
    await tracing.forceFlush();

    // Gateway -> booking: booking's HTTP span descends from the gateway's, through Apollo
    // Gateway's own spans and the subgraph fetch (a CLIENT span carrying traceparent).
    const index = byId();
    const bookingRequests = serverSpansAt(portOf(sg.urls.booking), '/graphql');
    const reserveInBooking = spans().find(
      (s) => s.name.startsWith('graphql.mutation') && bookingRequests.some((r) => isChild(s, r)),
    );
    expect(reserveInBooking, 'a mutation span under a booking /graphql span').toBeDefined();
    const bookingServer = index.get(reserveInBooking!.parentSpanContext!.spanId)!;
    const chain = ancestors(bookingServer, index);
    expect(chain[0]).toMatchObject({ kind: SpanKind.CLIENT });
    expect(chain.map((s) => s.instrumentationScope.name)).toContain('apollo/gateway-js');
    expect(chain.map((s) => s.name)).toContain('gateway.fetch');
    const gatewayServer = chain.at(-1)!;
    expect(gatewayServer).toMatchObject({ kind: SpanKind.SERVER, name: 'POST /graphql' });
    expect(gatewayServer.attributes['server.port']).toBe(portOf(sg.gatewayUrl));
    expect(gatewayServer.parentSpanContext).toBeUndefined();
    // Prisma's queries of the reservation are in the same trace.
    const reserveTrace = bookingServer.spanContext().traceId;
    expect(spans().some((s) => s.spanContext().traceId === reserveTrace && s.name.startsWith('prisma:'))).toBe(true);

    // Webhook -> payment.succeeded -> booking's consumer -> reservation.confirmed: one trace.
    const webhook = serverSpansAt(portOf(sg.urls.webhooks), '/webhooks/payments');
    expect(webhook.length).toBeGreaterThan(0);
    const consumed = spans().filter(
      (s) =>
        s.kind === SpanKind.CONSUMER &&
        s.name.endsWith('booking.payment-events') &&
        s.attributes['messaging.rabbitmq.destination.routing_key'] === 'payment.succeeded',
    );
    expect(consumed).toHaveLength(1);
    const consumer = consumed[0]!;
    const consumerChain = ancestors(consumer, index);
    expect(consumerChain[0]).toMatchObject({ kind: SpanKind.PRODUCER, name: 'publish payments' });
    const webhookServer = consumerChain.find((s) => webhook.includes(s));
    expect(webhookServer, 'the webhook request is an ancestor of the consumer span').toBeDefined();
    const paymentTrace = webhookServer!.spanContext().traceId;
    expect(consumer.spanContext().traceId).toBe(paymentTrace);
    expect(consumer.attributes['tatkal.consumer.outcome']).toBe('ack');
    // The confirmation's queries ran in the consumer's span, and its event carries the same trace.
    expect(spans().some((s) => s.name.startsWith('prisma:') && ancestors(s, index).includes(consumer))).toBe(true);
    const confirmedRow = await sg.db.prisma.bookingOutbox.findFirstOrThrow({
      where: {
        routingKey: 'reservation.confirmed',
        payload: { path: ['data', 'reservationId'], equals: reservation.id },
      },
    });
    const stored = traceContextOf((confirmedRow.payload as { traceContext?: unknown }).traceContext);
    expect(stored?.traceparent.split('-')[1]).toBe(paymentTrace);
    // And that event went out under the same trace (booking's relay).
    await waitFor(
      'reservation.confirmed published',
      async () => {
        await tracing.forceFlush();
        return spans().some(
          (s) =>
            s.kind === SpanKind.PRODUCER &&
            s.attributes['messaging.message.id'] === confirmedRow.id &&
            s.spanContext().traceId === paymentTrace,
        );
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
  });

  it('Redis commands made while serving a request are spans of its trace', () => {
    const index = byId();
    const redis = spans().filter((s) => s.attributes['db.system.name'] === 'redis');
    expect(redis.length).toBeGreaterThan(0);
    for (const span of redis) {
      expect(span.kind).toBe(SpanKind.CLIENT);
      expect(ancestors(span, index).length).toBeGreaterThan(0);
    }
  });
});

function isChild(span: ReadableSpan, parent: ReadableSpan): boolean {
  return span.parentSpanContext?.spanId === parent.spanContext().spanId;
}
