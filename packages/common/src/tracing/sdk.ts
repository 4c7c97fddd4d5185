// The OpenTelemetry SDK of one process, loaded only by startTracing (tracing.ts) when tracing is
// on. Libraries are traced without patching modules (the services are ES modules run by tsx,
// where require hooks see nothing): Prisma through its instrumentation's global helper, ioredis
// and undici (the gateway's subgraph fetches) through the diagnostics channels they publish.
import diagnostics from 'node:diagnostics_channel';
import { createRequire } from 'node:module';
import { type Attributes, type Context, context, propagation, type Span, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  SamplingDecision,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { PrismaInstrumentation } from '@prisma/instrumentation';
import { failSpan } from '../tracing.ts';

export interface SdkOptions {
  service: string;
  /** OTLP/HTTP (protobuf) traces URL; ignored when spanProcessors are given. */
  endpoint: string | null;
  env: Record<string, string | undefined>;
  spanProcessors?: SpanProcessor[];
}

const tracer = () => trace.getTracer('@tatkal/common');

// CommonJS packages (Apollo Gateway) load the API's CommonJS build: a second instance, whose
// tracers, taken when the package loads (before startTracing), delegate only to a provider
// registered through that instance. Registered there, the ES build finds it too (one global slot).
const cjsTrace = (createRequire(import.meta.url)('@opentelemetry/api') as typeof import('@opentelemetry/api')).trace;

/**
 * Only a request (SERVER), a delivery (CONSUMER) or a publish (PRODUCER) starts a trace, at
 * OTEL_TRACES_SAMPLER_ARG's ratio (default all); a query or Redis command outside any of them
 * (the outbox relay's poll every 200 ms, a sweeper) would be a trace of its own per tick: none.
 */
class WorkRootSampler implements Sampler {
  constructor(private readonly ratio: Sampler) {}
  shouldSample(ctx: Context, traceId: string, name: string, kind: SpanKind, attributes: Attributes) {
    if (kind === SpanKind.SERVER || kind === SpanKind.CONSUMER || kind === SpanKind.PRODUCER)
      return this.ratio.shouldSample(ctx, traceId, name, kind, attributes, []);
    return { decision: SamplingDecision.NOT_RECORD };
  }
  toString() {
    return `WorkRootSampler{${this.ratio.toString()}}`;
  }
}

function samplerOf(env: Record<string, string | undefined>): Sampler {
  const arg = Number(env.OTEL_TRACES_SAMPLER_ARG ?? '1');
  const ratio = Number.isFinite(arg) && arg >= 0 && arg < 1 ? new TraceIdRatioBasedSampler(arg) : new AlwaysOnSampler();
  return new ParentBasedSampler({ root: new WorkRootSampler(ratio) });
}

export function registerSdk(opts: SdkOptions) {
  const processors = opts.spanProcessors ?? [
    new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: opts.endpoint ?? undefined }) }),
  ];
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': opts.service }),
    sampler: samplerOf(opts.env),
    spanProcessors: processors,
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  cjsTrace.setGlobalTracerProvider(provider);
  // Prisma 7 reads its tracing helper from a global at every query: enabling it here is enough.
  const prisma = new PrismaInstrumentation();
  prisma.enable();
  const unsubscribe = [subscribeIoredis(), subscribeUndici()];
  return {
    forceFlush: () => provider.forceFlush(),
    async shutdown() {
      for (const off of unsubscribe) off();
      prisma.disable();
      await provider.shutdown();
      cjsTrace.disable();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

/** A span only under an active one: a command or a fetch outside any work is not traced. */
function childSpan(name: string, kind: SpanKind, attributes: Attributes): Span | undefined {
  if (!trace.getSpan(context.active())) return undefined;
  return tracer().startSpan(name, { kind, attributes });
}

interface RedisCommandContext {
  command?: string;
  args?: string[];
  database?: number;
  serverAddress?: string;
  serverPort?: number;
  batchMode?: string;
  batchSize?: number;
  error?: unknown;
}

/** ioredis 6 publishes every command and MULTI/pipeline on tracing channels (`ioredis:command`, `ioredis:batch`). */
function subscribeIoredis(): () => void {
  const spans = new WeakMap<object, Span>();
  const finish = (ctx: RedisCommandContext) => {
    const span = spans.get(ctx);
    if (!span) return;
    spans.delete(ctx);
    if (ctx.error !== undefined) failSpan(span, ctx.error);
    span.end();
  };
  const handlers = (start: (ctx: RedisCommandContext) => Span | undefined) => ({
    start(message: unknown) {
      const span = start(message as RedisCommandContext);
      if (span) spans.set(message as object, span);
    },
    // A synchronous throw ends here; a promise ends at asyncStart (settled, result or error set).
    end(message: unknown) {
      if ((message as RedisCommandContext).error !== undefined) finish(message as RedisCommandContext);
    },
    asyncStart: (message: unknown) => finish(message as RedisCommandContext),
    asyncEnd() {},
    error() {},
  });
  const server = (ctx: RedisCommandContext): Attributes => ({
    'db.system.name': 'redis',
    'db.namespace': String(ctx.database ?? 0),
    'server.address': ctx.serverAddress,
    'server.port': ctx.serverPort,
  });
  const command = handlers((ctx) =>
    childSpan(ctx.command?.toUpperCase() ?? 'redis', SpanKind.CLIENT, {
      ...server(ctx),
      'db.operation.name': ctx.command?.toUpperCase(),
      'db.query.text': [ctx.command, ...(ctx.args ?? [])].join(' ').slice(0, 300),
    }),
  );
  const batch = handlers((ctx) =>
    childSpan(ctx.batchMode ?? 'PIPELINE', SpanKind.CLIENT, {
      ...server(ctx),
      'db.operation.name': ctx.batchMode ?? 'PIPELINE',
      'db.operation.batch.size': ctx.batchSize,
    }),
  );
  const commandChannel = diagnostics.tracingChannel('ioredis:command');
  const batchChannel = diagnostics.tracingChannel('ioredis:batch');
  commandChannel.subscribe(command);
  batchChannel.subscribe(batch);
  return () => {
    commandChannel.unsubscribe(command);
    batchChannel.unsubscribe(batch);
  };
}

interface UndiciRequest {
  method?: string;
  origin?: string | URL;
  path?: string;
  addHeader?: (name: string, value: string) => unknown;
}

/**
 * undici (the gateway's pools to its subgraphs, and fetch) publishes each request: a CLIENT span
 * whose `traceparent` goes in the request's headers, so the subgraph's span is its child.
 */
function subscribeUndici(): () => void {
  const spans = new WeakMap<object, Span>();
  const onCreate = (message: unknown) => {
    const { request } = message as { request: UndiciRequest };
    if (typeof request.addHeader !== 'function') return;
    const method = request.method ?? 'GET';
    const origin = request.origin ? new URL(String(request.origin)) : undefined;
    const span = childSpan(method, SpanKind.CLIENT, {
      'http.request.method': method,
      'server.address': origin?.hostname,
      'server.port': origin?.port ? Number(origin.port) : undefined,
      'url.full': origin ? `${origin.origin}${request.path ?? ''}` : undefined,
    });
    if (!span) return;
    spans.set(request, span);
    const carrier: Record<string, string> = {};
    propagation.inject(trace.setSpan(context.active(), span), carrier);
    for (const [name, value] of Object.entries(carrier)) request.addHeader(name, value);
  };
  const onHeaders = (message: unknown) => {
    const { request, response } = message as { request: object; response: { statusCode: number } };
    const span = spans.get(request);
    span?.setAttribute('http.response.status_code', response.statusCode);
    if (span && response.statusCode >= 500) failSpan(span, new Error(`HTTP ${response.statusCode}`));
  };
  const onEnd = (message: unknown) => {
    const { request, error } = message as { request: object; error?: unknown };
    const span = spans.get(request);
    if (!span) return;
    spans.delete(request);
    if (error !== undefined) failSpan(span, error);
    span.end();
  };
  const subscriptions: [string, (message: unknown) => void][] = [
    ['undici:request:create', onCreate],
    ['undici:request:headers', onHeaders],
    ['undici:request:trailers', onEnd],
    ['undici:request:error', onEnd],
  ];
  for (const [name, fn] of subscriptions) diagnostics.subscribe(name, fn);
  return () => {
    for (const [name, fn] of subscriptions) diagnostics.unsubscribe(name, fn);
  };
}
