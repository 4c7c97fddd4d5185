import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import cors from 'cors';
import helmet from 'helmet';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import {
  addHealthRoutes,
  graphqlMetricsPlugin,
  httpMetricsMiddleware,
  instrumentHttp,
  metricsHandler,
  clientIpOf,
  express,
  inputValidationPlugin,
  listen,
  makeFormatError,
  operationLogPlugin,
  requestIdOf,
  runInRequestScope,
  type FixedWindowLimiter,
  type HttpServer,
  type IdentityAssertions,
  type Logger,
  type RateLimit,
  type ReadinessCheck,
  type TokenVerifier,
} from '@tatkal/common';
import type { GatewayContext } from './context.ts';
import { subgraphDataSource, type SubgraphConnectionOptions, type SubgraphDataSource } from './dataSources.ts';
import { guardPlugin, ipRateLimit, sourceLimits, type IpWindow } from './guards.ts';
import { sharedExecutions } from './sharedExecutions.ts';
import { armorValidationRules, DEFAULT_QUERY_LIMITS, limitErrorCode, type QueryLimits } from './limits.ts';
import { trustedDocuments, trustedDocumentsCache, type TrustedDocumentManifest } from './trustedDocuments.ts';

export interface RateLimitOptions {
  limiter: FixedWindowLimiter;
  perIp: RateLimit;
  expensiveFields: string[];
  perUserExpensive: RateLimit;
}

export interface GatewayOptions {
  supergraphSdl: string;
  subgraphUrls?: Record<string, string>;
  verifyToken: TokenVerifier;
  /**
   * Signs every subgraph request: the verified identity or none, and the client's address
   * (IDENTITY_ASSERTION_SECRET). Unset: subgraphs verify the token again and see the gateway as the client.
   */
  identityAssertions?: IdentityAssertions;
  logger: Logger;
  production: boolean;
  queryLimits?: QueryLimits;
  /** Without it (tests of the server alone) nothing is rate limited. */
  rateLimits?: RateLimitOptions;
  allowBatchedHttpRequests?: boolean;
  subgraphConnections?: SubgraphConnectionOptions;
  /** Identical client queries in flight at once run once (sharedExecutions.ts); default true. */
  deduplicateOperations?: boolean;
  /** Size of the query-plan LRU (approximate MiB); Apollo's default is 30. */
  queryPlanCacheMiB?: number;
  /**
   * Trusted documents (gateway/src/trustedDocuments.ts): the manifest's hashes are always
   * answered from it; with `only`, nothing else runs. Unset: no manifest, any operation.
   */
  trustedDocuments?: { manifest: TrustedDocumentManifest; only: boolean };
}

/** Builds (does not start) the gateway's Apollo Server over a static, composed supergraph. */
export function buildGateway(opts: GatewayOptions) {
  const sources: SubgraphDataSource[] = [];
  // Apollo's anonymous usage metrics phone home and probe cloud metadata endpoints at start (a
  // warning on stderr where those answer 403): off unless an operator sets the variable to false.
  process.env.APOLLO_TELEMETRY_DISABLED ??= 'true';
  const gateway = new ApolloGateway({
    supergraphSdl: opts.supergraphSdl,
    logger: opts.logger,
    experimental_approximateQueryPlanStoreMiB: opts.queryPlanCacheMiB,
    buildService: ({ name, url }) => {
      const target = opts.subgraphUrls?.[name] ?? url;
      // Composition refuses a subgraph without a routing URL; this guards a hand-edited supergraph.
      if (!target) throw new Error(`subgraph ${name} has no routing URL in the supergraph`);
      const source = subgraphDataSource(target, opts.subgraphConnections, name);
      sources.push(source);
      return source;
    },
  });
  const queryLimits = opts.queryLimits ?? DEFAULT_QUERY_LIMITS;
  const formatError = makeFormatError({
    exposeDetails: !opts.production,
    log: (err) => opts.logger.error({ err }, 'unexpected gateway error'),
  });
  const server = new ApolloServer<GatewayContext>({
    gateway: (opts.deduplicateOperations ?? true) ? sharedExecutions(gateway) : gateway,
    introspection: !opts.production,
    includeStacktraceInErrorResponses: !opts.production,
    csrfPrevention: true,
    allowBatchedHttpRequests: opts.allowBatchedHttpRequests ?? false,
    // APQ: a manifest hash is read from the manifest; other registrations (development) in a
    // bounded map; none at all when only trusted documents run.
    persistedQueries: {
      cache: trustedDocumentsCache(
        opts.trustedDocuments?.manifest ?? new Map(),
        opts.trustedDocuments?.only ? null : { maxEntries: 1000 },
      ),
    },
    // Backstop to the token check in front: the parser itself stops there too.
    parseOptions: { maxTokens: queryLimits.maxTokens },
    // GraphQL Armor's depth and alias limits (QUERY_TOO_COMPLEX, which limitErrorCode keeps).
    validationRules: armorValidationRules(queryLimits),
    formatError: (formatted, error) => formatError(limitErrorCode(formatted, error), error),
    plugins: [
      opts.production
        ? ApolloServerPluginLandingPageDisabled()
        : ApolloServerPluginLandingPageLocalDefault({ embed: true }),
      operationLogPlugin<GatewayContext>(opts.logger),
      graphqlMetricsPlugin<GatewayContext>(),
      // Before planning: bad strings and dates never reach a subgraph (each checks again anyway).
      inputValidationPlugin<GatewayContext>(),
      guardPlugin({
        limits: queryLimits,
        expensive: opts.rateLimits && {
          limiter: opts.rateLimits.limiter,
          fields: new Set(opts.rateLimits.expensiveFields),
          limit: opts.rateLimits.perUserExpensive,
        },
        perIp: opts.rateLimits?.perIp,
      }),
    ],
    logger: opts.logger,
  });
  // Idle keep-alive sockets to subgraphs are closed with the server.
  return { server, gateway, closeConnections: () => Promise.all(sources.map((s) => s.close())) };
}

export interface ServeGatewayOptions extends GatewayOptions {
  port: number;
  corsOrigins: string[];
  bodyLimit: string;
  ready: ReadinessCheck;
  /** Serve /metrics on this port instead of the public one (0: any free port). */
  metricsPort?: number;
  /** Express `trust proxy`: false unless a load balancer in front sets x-forwarded-for. */
  trustProxy?: boolean | number | string;
}

/** Body too large or not JSON: a GraphQL-shaped answer instead of Express's HTML page. */
const bodyErrors: ErrorRequestHandler = (err: { type?: string; status?: number }, _req, res, next) => {
  if (err.type === 'entity.too.large') {
    res.status(413).json({
      errors: [{ message: 'The request body is larger than the limit', extensions: { code: 'BAD_REQUEST' } }],
    });
  } else if (
    err.type === 'entity.parse.failed' ||
    err.type === 'encoding.unsupported' ||
    err.type === 'charset.unsupported'
  ) {
    res
      .status(400)
      .json({ errors: [{ message: 'The request body is not valid JSON', extensions: { code: 'BAD_REQUEST' } }] });
  } else next(err);
};

export async function serveGateway(opts: ServeGatewayOptions): Promise<HttpServer & { metricsUrl: string | null }> {
  const { server, closeConnections } = buildGateway(opts);
  await server.start();
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', opts.trustProxy ?? false);
  // With a metrics port, /metrics is served there only: the public port never shows it.
  let metrics: HttpServer | null = null;
  if (opts.metricsPort === undefined) instrumentHttp(app);
  else {
    app.use(httpMetricsMiddleware());
    const internal = express();
    internal.disable('x-powered-by');
    internal.get('/metrics', metricsHandler());
    metrics = await listen(internal, opts.metricsPort);
  }
  addHealthRoutes(app, opts.ready);
  const rateLimit = opts.rateLimits;
  const ipLimit =
    rateLimit &&
    ipRateLimit(
      rateLimit.limiter,
      rateLimit.perIp,
      opts.logger,
      rateLimit.expensiveFields,
      opts.trustedDocuments?.manifest,
    );
  const queryLimits = opts.queryLimits ?? DEFAULT_QUERY_LIMITS;
  app.use(
    '/graphql',
    // Sandbox loads its UI from Apollo's CDN: allow it only where the landing page exists.
    helmet({ contentSecurityPolicy: opts.production ? undefined : false, crossOriginEmbedderPolicy: false }),
    cors({ origin: opts.corsOrigins, credentials: true, exposedHeaders: ['x-request-id', 'retry-after'] }),
    ((req, res, next) => {
      res.locals.requestId = requestIdOf(req);
      res.setHeader('x-request-id', res.locals.requestId as string);
      next();
    }) satisfies RequestHandler,
    // Before the body is read: a client over its limit costs one Redis call (a signed-in POST
    // that may name an expensive field: after, in guardPlugin, with its per-user windows).
    ...(ipLimit ? [ipLimit.beforeBody] : []),
    express.json({ limit: opts.bodyLimit }),
    ...(ipLimit ? [ipLimit.afterBody] : []),
    // After the body is read (stream callbacks would lose the scope): every log line of the request carries its id.
    ((_req, res, next) => runInRequestScope(res.locals.requestId as string, next)) satisfies RequestHandler,
    // Before anything looks at a query's text: in trusted-documents mode only manifest hashes pass.
    ...(opts.trustedDocuments ? [trustedDocuments({ ...opts.trustedDocuments, logger: opts.logger })] : []),
    sourceLimits(queryLimits, opts.logger),
    expressMiddleware(server, {
      context: async ({ req, res }) => {
        const requestId = res.locals.requestId as string;
        const identity = await opts.verifyToken(req.headers.authorization);
        const authorization = identity ? req.headers.authorization : undefined;
        const clientIp = clientIpOf(req);
        return {
          requestId,
          identity,
          authorization,
          // Anonymous requests too: in production a subgraph answers nothing unsigned.
          identityAssertion: opts.identityAssertions?.sign({ identity, clientIp }, authorization),
          clientIp,
          log: opts.logger.child({ requestId }),
          ipWindow: res.locals.ipWindow as IpWindow | undefined,
        };
      },
    }),
    bodyErrors,
  );
  const http = await listen(app, opts.port);
  return {
    ...http,
    metricsUrl: metrics && `${metrics.url}/metrics`,
    close: async () => {
      await http.close();
      await metrics?.close();
      await server.stop();
      await closeConnections();
    },
  };
}
