// Distributed tracing (docs/operations.md, "Tracing"): OpenTelemetry, exported by OTLP when
// OTEL_EXPORTER_OTLP_ENDPOINT is set. Unset, nothing is registered and nothing of the SDK is
// loaded: the helpers below then return at their first line and @opentelemetry/api's no-op
// tracer is all that runs. The SDK itself, the Prisma instrumentation and the diagnostics-channel
// subscribers (ioredis, undici) are in tracing/sdk.ts, imported only by startTracing.
import type { IncomingMessage, RequestListener } from 'node:http';
import {
  type Attributes,
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';

export interface Tracing {
  /** Exports what is buffered now (tests, before asserting). */
  forceFlush(): Promise<void>;
  /** Flushes, then unregisters everything startTracing registered. */
  shutdown(): Promise<void>;
}

export interface StartTracingOptions {
  /**
   * Default process.env: OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
   * OTEL_TRACES_SAMPLER_ARG, OTEL_SDK_DISABLED.
   */
  env?: Record<string, string | undefined>;
  /** Replace the OTLP exporter (a test's in-memory exporter); tracing starts even with no endpoint. */
  spanProcessors?: SpanProcessor[];
}

const STATE = Symbol.for('tatkal.tracing');
type Shared = Record<symbol, Tracing | undefined>;

/** True once startTracing registered an SDK in this process (kept on globalThis: one per process). */
export function tracingEnabled(): boolean {
  return (globalThis as Shared)[STATE] !== undefined;
}

/** The endpoint spans go to, or null when tracing is off (no endpoint, or OTEL_SDK_DISABLED=true). */
export function otlpTracesEndpoint(env: Record<string, string | undefined> = process.env): string | null {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return null;
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) return traces;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  return base ? `${base.replace(/\/+$/, '')}/v1/traces` : null;
}

/**
 * Registers the OpenTelemetry SDK for this process as `service` (service.name), when an endpoint
 * is configured; returns null and registers nothing otherwise. Called first by each entry point,
 * before it builds servers and clients (the HTTP servers decide at listen time whether to trace).
 */
export async function startTracing(service: string, opts: StartTracingOptions = {}): Promise<Tracing | null> {
  const endpoint = otlpTracesEndpoint(opts.env);
  if (!endpoint && !opts.spanProcessors) return null;
  const shared = globalThis as Shared;
  if (shared[STATE]) throw new Error('tracing is already started in this process');
  const { registerSdk } = await import('./tracing/sdk.ts');
  const sdk = registerSdk({ service, endpoint, env: opts.env ?? process.env, spanProcessors: opts.spanProcessors });
  const handle: Tracing = {
    forceFlush: sdk.forceFlush,
    async shutdown() {
      if (shared[STATE] === handle) shared[STATE] = undefined;
      await sdk.shutdown();
    },
  };
  shared[STATE] = handle;
  return handle;
}

const tracer = () => trace.getTracer('@tatkal/common');

// ---- W3C trace context in the event envelope and in AMQP headers ----

/**
 * The W3C trace context an outbox row carries from the transaction that wrote it to the relay. A
 * type, not an interface: it must stay assignable to Prisma's JSON input (an index signature).
 */
export type TraceContext = {
  traceparent: string;
  tracestate?: string;
};

/** The active span's W3C context, to store with an event; undefined when tracing is off or no span is active. */
export function activeTraceContext(): TraceContext | undefined {
  if (!tracingEnabled() || !trace.getSpanContext(context.active())) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ? { traceparent: carrier.traceparent, tracestate: carrier.tracestate } : undefined;
}

/** A well-formed stored trace context (a row written by another version may have none, or junk). */
export function traceContextOf(value: unknown): TraceContext | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { traceparent, tracestate } = value as Record<string, unknown>;
  if (typeof traceparent !== 'string' || !/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/.test(traceparent))
    return undefined;
  return typeof tracestate === 'string' && tracestate ? { traceparent, tracestate } : { traceparent };
}

const headerGetter = {
  keys: (carrier: Record<string, unknown>) => Object.keys(carrier),
  get: (carrier: Record<string, unknown>, key: string) => {
    const value = carrier[key];
    if (value === undefined || value === null) return undefined;
    return Buffer.isBuffer(value) ? value.toString('utf8') : Array.isArray(value) ? value.map(String) : String(value);
  },
};

/** The context a carrier (message headers, HTTP headers, a stored TraceContext) names; ROOT_CONTEXT if none. */
export function extractTraceContext(carrier: Record<string, unknown> | undefined): Context {
  if (!carrier) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, carrier, headerGetter);
}

/**
 * Runs `fn` in a span (ended when its promise settles; a rejection marks it failed). With
 * tracing off, `fn` runs with no span and no allocation beyond the call.
 */
export function inSpan<T>(
  name: string,
  opts: { kind?: SpanKind; attributes?: Attributes; parent?: Context },
  fn: (span: Span | undefined) => Promise<T>,
): Promise<T> {
  if (!tracingEnabled()) return fn(undefined);
  const parent = opts.parent ?? context.active();
  const span = tracer().startSpan(name, { kind: opts.kind, attributes: opts.attributes }, parent);
  return context.with(trace.setSpan(parent, span), () =>
    fn(span).then(
      (value) => {
        span.end();
        return value;
      },
      (err: unknown) => {
        failSpan(span, err);
        span.end();
        throw err;
      },
    ),
  );
}

export function failSpan(span: Span | undefined, err: unknown): void {
  if (!span) return;
  const error = err instanceof Error ? err : new Error(String(err));
  span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error.message.slice(0, 200) });
}

/** The W3C headers of the active context, to add to a published message (empty with tracing off). */
export function traceHeaders(ctx: Context = context.active()): Record<string, string> {
  if (!tracingEnabled()) return {};
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

// ---- HTTP server spans ----

// Probes and scrapes answer every few seconds: spans of them would drown the requests.
const UNTRACED_PATHS = new Set(['/health', '/ready', '/metrics']);

/**
 * The server's request listener: with tracing on, each request gets a SERVER span (child of the
 * caller's `traceparent`), active for its whole handling, the body's stream callbacks included.
 * With tracing off, `handler` itself.
 */
export function traceRequests(handler: RequestListener): RequestListener {
  if (!tracingEnabled()) return handler;
  return (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    if (UNTRACED_PATHS.has(path)) return handler(req, res);
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const method = req.method ?? 'GET';
    const span = tracer().startSpan(
      method,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': method, 'url.path': path, 'server.port': req.socket.localPort },
      },
      parent,
    );
    let ended = false;
    const end = (aborted: boolean) => {
      if (ended) return;
      ended = true;
      const route = routeOf(req);
      if (route) {
        span.updateName(`${method} ${route}`);
        span.setAttribute('http.route', route);
      }
      span.setAttribute('http.response.status_code', res.statusCode);
      if (aborted) span.setStatus({ code: SpanStatusCode.ERROR, message: 'connection closed before the response' });
      else if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
    res.once('finish', () => end(false));
    res.once('close', () => end(!res.writableFinished));
    const ctx = trace.setSpan(parent, span);
    context.with(ctx, () => {
      // Listeners added later (the body parser's 'data'/'end') run in the request's context too.
      context.bind(ctx, req);
      context.bind(ctx, res);
      handler(req, res);
    });
  };
}

/** Express's matched route when there is one (`/graphql`, `/webhooks/payments`): a bounded span name. */
function routeOf(req: IncomingMessage): string | undefined {
  const r = req as IncomingMessage & { baseUrl?: string; route?: { path?: unknown } };
  const routePath = typeof r.route?.path === 'string' ? r.route.path : '';
  const route = `${r.baseUrl ?? ''}${routePath}`;
  return route || undefined;
}

// ---- GraphQL ----

/**
 * A span per GraphQL operation of a subgraph (`graphql.query Search`): its name, type and the
 * error codes it answered, under the request's HTTP span. Nothing with tracing off.
 */
export function graphqlTracingPlugin<TContext extends BaseContext>(): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      if (!tracingEnabled()) return;
      const span = tracer().startSpan('graphql.operation', { kind: SpanKind.INTERNAL });
      return {
        async didResolveOperation({ operationName, operation }) {
          const type = operation?.operation ?? 'operation';
          span.updateName(`graphql.${type}${operationName ? ` ${operationName}` : ''}`);
          span.setAttribute('graphql.operation.type', type);
          if (operationName) span.setAttribute('graphql.operation.name', operationName);
        },
        async willSendResponse({ response }) {
          const errors = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
          if (errors?.length) {
            const codes = [...new Set(errors.map((e) => String(e.extensions?.code ?? 'INTERNAL_SERVER_ERROR')))];
            span.setAttribute('graphql.error.codes', codes);
            if (codes.includes('INTERNAL_SERVER_ERROR')) span.setStatus({ code: SpanStatusCode.ERROR });
          }
          span.end();
        },
      };
    },
  };
}
