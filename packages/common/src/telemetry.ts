// Prometheus metrics (docs/operations.md): one registry per process with Node's default metrics
// (standard names, no prefix) and a `service` label on every series, the HTTP and GraphQL
// instrumentation every server uses, and helpers for service metrics. Hot paths only touch
// in-memory counters; gauges that need the database or the broker are read at scrape time,
// each source bounded by a time-out so a scrape never hangs.
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { Express, Request, RequestHandler } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

const REGISTRY = Symbol.for('tatkal.metricsRegistry');

/** The process's registry. Kept on globalThis so a module loaded twice still shares it. */
export const metricsRegistry: Registry = sharedRegistry();

function sharedRegistry(): Registry {
  const shared = globalThis as Record<symbol, unknown>;
  let registry = shared[REGISTRY] as Registry | undefined;
  if (!registry) {
    registry = createRegistry();
    shared[REGISTRY] = registry;
  }
  return registry;
}

function createRegistry(): Registry {
  const registry = new Registry();
  // process_cpu_seconds_total, process_resident_memory_bytes, nodejs_eventloop_lag_*, nodejs_heap_*, ...
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Names the process on every series (`service` label). Called once by each process's entry point. */
export function initTelemetry(opts: { service: string }): void {
  metricsRegistry.setDefaultLabels({ service: opts.service });
}

interface MetricDef<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
}

function existing<T>(name: string, type: abstract new (...args: never[]) => T): T | undefined {
  const metric = metricsRegistry.getSingleMetric(name);
  if (metric === undefined) return undefined;
  if (!(metric instanceof type)) throw new Error(`metric ${name} is already registered with another type`);
  return metric as T;
}

/** A counter in the process registry (the one already registered under that name, if any). */
export function counter<L extends string = never>(def: MetricDef<L>): Counter<L> {
  return (
    existing<Counter<L>>(def.name, Counter) ??
    new Counter<L>({ name: def.name, help: def.help, labelNames: def.labelNames ?? [], registers: [metricsRegistry] })
  );
}

/** A gauge in the process registry; `collect` runs at every scrape. */
export function gauge<L extends string = never>(
  def: MetricDef<L> & { collect?: () => void | Promise<void> },
): Gauge<L> {
  const collect = def.collect;
  return (
    existing<Gauge<L>>(def.name, Gauge) ??
    new Gauge<L>({
      name: def.name,
      help: def.help,
      labelNames: def.labelNames ?? [],
      registers: [metricsRegistry],
      ...(collect ? { collect: () => collect() } : {}),
    })
  );
}

/** Latency buckets in seconds, from a cache hit to a request that waited on a busy database. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function histogram<L extends string = never>(def: MetricDef<L> & { buckets?: number[] }): Histogram<L> {
  return (
    existing<Histogram<L>>(def.name, Histogram) ??
    new Histogram<L>({
      name: def.name,
      help: def.help,
      labelNames: def.labelNames ?? [],
      buckets: def.buckets ?? LATENCY_BUCKETS,
      registers: [metricsRegistry],
    })
  );
}

/** Rejects after `ms` (the work itself goes on; its late result is ignored). */
export function withTimeout<T>(work: Promise<T>, ms: number, what = 'operation'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** How long one scrape-time source (a database query, a broker call) may take. */
export const SCRAPE_SOURCE_TIMEOUT_MS = 1_000;

export interface GaugeSample {
  labels?: Record<string, string>;
  value: number;
}

/**
 * Gauges read at scrape time from sources registered at run time (an outbox relay, a consumer):
 * every scrape runs each source once (shared by the group's gauges), with a time-out. A source
 * that fails or times out reports nothing: its series are absent from that scrape, never stale.
 */
export function scrapedGauges<K extends string>(defs: Record<K, MetricDef<string>>, opts: { timeoutMs?: number } = {}) {
  const timeoutMs = opts.timeoutMs ?? SCRAPE_SOURCE_TIMEOUT_MS;
  type Source = () => Promise<Partial<Record<K, GaugeSample[]>>>;
  const sources = new Set<Source>();
  let refreshing: Promise<void> | null = null;
  const gauges = {} as Record<K, Gauge<string>>;
  // The gauges of one group are collected concurrently within a scrape: they share one refresh.
  const refresh = (): Promise<void> =>
    (refreshing ??= (async () => {
      const results = await Promise.all(
        [...sources].map((read) => withTimeout(read(), timeoutMs, 'metrics source').catch(() => undefined)),
      );
      for (const g of Object.values<Gauge<string>>(gauges)) g.reset();
      for (const result of results) {
        if (!result) continue;
        for (const [key, samples] of Object.entries(result) as [K, GaugeSample[] | undefined][]) {
          for (const s of samples ?? []) if (Number.isFinite(s.value)) gauges[key].set(s.labels ?? {}, s.value);
        }
      }
    })().finally(() => {
      refreshing = null;
    }));
  for (const [key, def] of Object.entries(defs) as [K, MetricDef<string>][]) {
    // Its collect would read another group's sources: refuse loudly instead of reporting nothing.
    if (metricsRegistry.getSingleMetric(def.name)) throw new Error(`metric ${def.name} is already registered`);
    gauges[key] = gauge({ ...def, collect: refresh });
  }
  return {
    gauges,
    /** Adds a source read at every scrape; returns its removal (call it when the source stops). */
    addSource(read: Source): () => void {
      sources.add(read);
      return () => void sources.delete(read);
    },
  };
}

// ───────────────────────────── HTTP ─────────────────────────────

const httpLabels = ['method', 'route', 'status_code'] as const;
export const httpRequests = counter({
  name: 'tatkal_http_requests_total',
  help: 'HTTP requests answered, by method, route pattern and status code',
  labelNames: httpLabels,
});
export const httpRequestDuration = histogram({
  name: 'tatkal_http_request_duration_seconds',
  help: 'HTTP request duration from arrival to the last byte sent, by method, route pattern and status code',
  labelNames: httpLabels,
});

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * The route pattern that answered (`/payments/:ref`, `/graphql`), never the raw URL: ids in
 * paths would make one series per request. Requests no route matched are `unmatched`.
 */
export function routeLabel(req: Request): string {
  const pattern: unknown = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof pattern === 'string') return `${req.baseUrl}${pattern}` || '/';
  if (req.baseUrl) return req.baseUrl;
  return 'unmatched';
}

/** Counts and times every request; mount it first. A client that hung up early counts as 499. */
export function httpMetricsMiddleware(): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.once('close', () => {
      const labels = {
        method: METHODS.has(req.method) ? req.method : 'OTHER',
        route: routeLabel(req),
        status_code: String(res.writableFinished ? res.statusCode : 499),
      };
      httpRequests.inc(labels);
      httpRequestDuration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };
}

/** `GET /metrics`: the process registry in the Prometheus text format. */
export function metricsHandler(): RequestHandler {
  return (_req, res, next) => {
    metricsRegistry
      .metrics()
      .then((text) => void res.set('Content-Type', metricsRegistry.contentType).send(text))
      .catch(next);
  };
}

/** HTTP metrics for every request of `app` and its `/metrics` route: call before any other route. */
export function instrumentHttp(app: Express): void {
  app.use(httpMetricsMiddleware());
  app.get('/metrics', metricsHandler());
}

// ───────────────────────────── GraphQL ─────────────────────────────

const graphqlLabels = ['operation_name', 'operation_type', 'outcome'] as const;
export const graphqlOperations = counter({
  name: 'tatkal_graphql_operations_total',
  help: 'GraphQL operations, by operation name (capped), type and outcome (ok or the first error code)',
  labelNames: graphqlLabels,
});
export const graphqlOperationDuration = histogram({
  name: 'tatkal_graphql_operation_duration_seconds',
  help: 'GraphQL operation duration, by operation name (capped), type and outcome',
  labelNames: graphqlLabels,
});

export interface GraphqlMetricsOptions {
  /** Distinct operation names kept as labels; later new names count as `other`. */
  maxOperationNames?: number;
  /** When given, only these names are kept as labels (every other one is `other`). */
  knownOperationNames?: Iterable<string>;
  /** Distinct error codes kept as outcomes; later new codes count as `OTHER`. */
  maxErrorCodes?: number;
}

const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,63}$/;
const ERROR_CODE = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
// The gateway names its subgraph fetches `<client operation>__<subgraph>__<n>`.
const GATEWAY_FETCH_SUFFIX = /^(.+)__[_0-9A-Za-z]+__\d+$/;

/** Keeps a label's distinct values bounded: the first `max` values pass, later new ones become `overflow`. */
function boundedLabel(max: number, overflow: string) {
  const seen = new Set<string>();
  return (value: string): string => {
    if (seen.has(value)) return value;
    if (seen.size >= max) return overflow;
    seen.add(value);
    return value;
  };
}

/**
 * The operation-name label: the client's name, `anonymous`, or `other` past the cap or when not a
 * plain GraphQL name.
 */
export function operationNameLabeller(opts: GraphqlMetricsOptions = {}): (name: string | null | undefined) => string {
  const known = opts.knownOperationNames ? new Set(opts.knownOperationNames) : null;
  const bounded = boundedLabel(opts.maxOperationNames ?? 100, 'other');
  return (raw) => {
    if (!raw) return 'anonymous';
    const name = GATEWAY_FETCH_SUFFIX.exec(raw)?.[1] ?? raw;
    if (!GRAPHQL_NAME.test(name) || (known && !known.has(name))) return 'other';
    return bounded(name);
  };
}

/**
 * Apollo Server plugin: one count and one duration per operation. Operation names come from
 * clients, so they are capped (see `operationNameLabeller`); outcomes are `ok` or the first
 * error's `extensions.code` as the client received it (after formatError).
 */
export function graphqlMetricsPlugin<TContext extends BaseContext>(
  opts: GraphqlMetricsOptions = {},
): ApolloServerPlugin<TContext> {
  const nameLabel = operationNameLabeller(opts);
  const codeLabel = boundedLabel(opts.maxErrorCodes ?? 50, 'OTHER');
  return {
    async requestDidStart() {
      const started = performance.now();
      return {
        async willSendResponse({ response, operation, operationName, request }) {
          const body = response.body;
          const errors = body.kind === 'single' ? body.singleResult.errors : body.initialResult.errors;
          const code = errors?.length ? errors[0]!.extensions?.code : undefined;
          const labels = {
            operation_name: nameLabel(operation?.name?.value ?? operationName ?? request.operationName),
            operation_type: operation?.operation ?? 'unknown',
            outcome: !errors?.length
              ? 'ok'
              : typeof code === 'string' && ERROR_CODE.test(code)
                ? codeLabel(code)
                : 'UNKNOWN',
          };
          graphqlOperations.inc(labels);
          graphqlOperationDuration.observe(labels, (performance.now() - started) / 1000);
        },
      };
    },
  };
}

// ───────────────────────────── shared service metrics ─────────────────────────────

export const rateLimitRejections = counter({
  name: 'tatkal_rate_limit_rejections_total',
  help: 'Requests refused by a rate limit, by limit (gateway.ip, gateway.<field>, <Type>.<field> for subgraph rules)',
  labelNames: ['limit'],
});

export const untrustedDocumentRejections = counter({
  name: 'tatkal_gateway_untrusted_documents_total',
  help:
    'Operations the gateway refused in trusted-documents mode before parsing anything, by reason ' +
    '(id_required: text without a hash; not_in_list: a hash the manifest does not have)',
  labelNames: ['reason'],
});

export const lockAcquireFailures = counter({
  name: 'tatkal_lock_acquire_failures_total',
  help: 'Redis lease attempts Redis did not answer (redis_unavailable): the database alone serializes the holders',
  labelNames: ['reason'],
});

export const tryAgainAnswers = counter({
  name: 'tatkal_try_again_total',
  help:
    'Answers with a TRY_AGAIN error: the database was overloaded (no pooled connection in time, ' +
    'transaction time-out, serialization failure, deadlock), a service called on the way did not answer, ' +
    'or booking was restarting',
});

/** Apollo Server plugin: counts the answers that carry a TRY_AGAIN error (as the client received them). */
export function tryAgainMetricsPlugin<TContext extends BaseContext>(): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          const body = response.body;
          const errors = body.kind === 'single' ? body.singleResult.errors : body.initialResult.errors;
          if (errors?.some((e) => e.extensions?.code === 'TRY_AGAIN')) tryAgainAnswers.inc();
        },
      };
    },
  };
}
