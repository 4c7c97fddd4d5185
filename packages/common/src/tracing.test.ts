import diagnostics from 'node:diagnostics_channel';
import type { RequestListener } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import { eventEnvelope } from './messaging/eventEnvelope.ts';
import {
  activeTraceContext,
  extractTraceContext,
  inSpan,
  otlpTracesEndpoint,
  startTracing,
  traceContextOf,
  traceRequests,
  type Tracing,
  tracingEnabled,
} from './tracing.ts';

const prismaHelper = () => (globalThis as Record<string, unknown>).V7_PRISMA_INSTRUMENTATION;
const channelsSubscribed = () =>
  ['tracing:ioredis:command:start', 'tracing:ioredis:batch:start', 'undici:request:create'].filter((name) =>
    diagnostics.hasSubscribers(name),
  );

// As Apollo Gateway (CommonJS) takes its tracer when it loads: from the API's CommonJS build, before startTracing.
const cjsApi = createRequire(import.meta.url)('@opentelemetry/api') as typeof import('@opentelemetry/api');
const earlyCjsTracer = cjsApi.trace.getTracer('apollo/gateway-js');

let started: Tracing | null = null;
afterEach(async () => {
  await started?.shutdown();
  started = null;
});

describe('otlpTracesEndpoint', () => {
  it('is the traces URL under OTEL_EXPORTER_OTLP_ENDPOINT, the traces endpoint as given, or null', () => {
    expect(otlpTracesEndpoint({})).toBeNull();
    expect(otlpTracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: ' ' })).toBeNull();
    expect(otlpTracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318/' })).toBe(
      'http://jaeger:4318/v1/traces',
    );
    expect(
      otlpTracesEndpoint({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://tempo:4318/v1/traces',
      }),
    ).toBe('http://tempo:4318/v1/traces');
    expect(
      otlpTracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318', OTEL_SDK_DISABLED: 'true' }),
    ).toBeNull();
  });
});

describe('startTracing with no endpoint', () => {
  it('registers nothing: no tracer provider, no Prisma helper, no channel subscriber, no span anywhere', async () => {
    started = await startTracing('booking', { env: {} });
    expect(started).toBeNull();
    expect(tracingEnabled()).toBe(false);
    expect(trace.getTracer('t').startSpan('s').isRecording()).toBe(false);
    expect(prismaHelper()).toBeUndefined();
    expect(channelsSubscribed()).toEqual([]);
    const handler: RequestListener = () => {};
    expect(traceRequests(handler)).toBe(handler);
    expect(activeTraceContext()).toBeUndefined();
    expect(eventEnvelope('reservation.held', {}, { correlationId: null })).not.toHaveProperty('traceContext');
    await expect(inSpan('work', {}, async (span) => span)).resolves.toBeUndefined();
  });
});

describe('startTracing with an exporter', () => {
  it('registers the SDK, Prisma, the channels; the envelope carries the active trace; shutdown undoes it', async () => {
    const exporter = new InMemorySpanExporter();
    started = await startTracing('booking', { env: {}, spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    expect(tracingEnabled()).toBe(true);
    expect(prismaHelper()).toBeDefined();
    expect(channelsSubscribed()).toHaveLength(3);
    await expect(startTracing('booking', { env: {}, spanProcessors: [] })).rejects.toThrow(/already started/);
    expect(earlyCjsTracer.startSpan('gateway.request', { kind: SpanKind.SERVER }).isRecording()).toBe(true);

    const envelope = await inSpan('POST /graphql', { kind: SpanKind.SERVER }, async (span) => {
      expect(activeTraceContext()?.traceparent).toBe(
        `00-${span!.spanContext().traceId}-${span!.spanContext().spanId}-01`,
      );
      return eventEnvelope('reservation.confirmed', { pnr: '4123456789' }, { correlationId: '4123456789' });
    });
    const [server] = exporter.getFinishedSpans();
    expect(server).toMatchObject({ name: 'POST /graphql', kind: SpanKind.SERVER });
    const stored = traceContextOf(envelope.traceContext);
    expect(stored?.traceparent.split('-')[1]).toBe(server!.spanContext().traceId);

    // A consumer continues the stored trace as a child of the span that wrote the event.
    const parent = extractTraceContext(stored ? { ...stored } : undefined);
    await inSpan('process booking.payment-events', { kind: SpanKind.CONSUMER, parent }, async () => {});
    const consumer = exporter.getFinishedSpans()[1]!;
    expect(consumer.spanContext().traceId).toBe(server!.spanContext().traceId);
    expect(consumer.parentSpanContext?.spanId).toBe(server!.spanContext().spanId);

    // Work outside any request, delivery or publish starts no trace (the relay's poll, a sweeper).
    const orphan = trace.getTracer('t').startSpan('prisma:client:operation', {}, context.active());
    expect(orphan.isRecording()).toBe(false);

    await started!.shutdown();
    started = null;
    expect(tracingEnabled()).toBe(false);
    expect(prismaHelper()).toBeUndefined();
    expect(channelsSubscribed()).toEqual([]);
    expect(trace.getTracer('t').startSpan('s').isRecording()).toBe(false);
  });

  it('exports OTLP/HTTP protobuf to <OTEL_EXPORTER_OTLP_ENDPOINT>/v1/traces, flushed at shutdown', async () => {
    const received: { path?: string; type?: string; body: Buffer }[] = [];
    const collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ path: req.url, type: req.headers['content-type'], body: Buffer.concat(chunks) });
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
      started = await startTracing('payment-webhooks', { env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint } });
      await inSpan('POST /webhooks/payments', { kind: SpanKind.SERVER }, async () => {});
      expect(received).toEqual([]); // batched, not sent per span
      await started!.shutdown();
      started = null;
      expect(received).toHaveLength(1);
      expect(received[0]).toMatchObject({ path: '/v1/traces', type: 'application/x-protobuf' });
      expect(received[0]!.body.includes('payment-webhooks')).toBe(true);
      expect(received[0]!.body.includes('POST /webhooks/payments')).toBe(true);
    } finally {
      collector.close();
    }
  });

  it('reads a stored trace context only when it is well formed', () => {
    expect(traceContextOf(undefined)).toBeUndefined();
    expect(traceContextOf({ traceparent: 'junk' })).toBeUndefined();
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    expect(traceContextOf({ traceparent, tracestate: '' })).toEqual({ traceparent });
    expect(traceContextOf({ traceparent, tracestate: 'a=1' })).toEqual({ traceparent, tracestate: 'a=1' });
  });
});
