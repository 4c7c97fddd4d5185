import { readFileSync } from 'node:fs';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import {
  GraphQLError,
  parse,
  type GraphQLFieldResolver,
  type GraphQLResolveInfo,
  type GraphQLScalarType,
  type GraphQLSchema,
} from 'graphql';
import { applyMiddleware } from 'graphql-middleware';
import type { IMiddleware, IMiddlewareGenerator } from 'graphql-middleware';
import type { Logger } from 'pino';
import type { RequestContext } from './context.ts';
import { makeFormatError } from './errors.ts';
import {
  addHealthRoutes,
  express,
  listen,
  readinessChecks,
  requestIdOf,
  socketAddressOf,
  type HttpServer,
  type ReadinessCheck,
} from './http.ts';
import { inputValidationPlugin } from './inputs.ts';
import {
  createTokenVerifier,
  identityAssertionsFor,
  subgraphCaller,
  type Caller,
  type IdentityAssertions,
  type TokenVerifier,
} from './identity.ts';
import { runInRequestScope } from './logger.ts';
import { operationLogPlugin } from './operationLog.ts';
import type { RedisRateLimitStore } from './ratelimit.ts';
import { graphqlMetricsPlugin, instrumentHttp, tryAgainMetricsPlugin } from './telemetry.ts';
import { graphqlTracingPlugin } from './tracing.ts';

export function loadSchemaFile(url: URL): string {
  return readFileSync(url, 'utf8');
}

/** Field arguments as graphql-js passes them to resolvers. */
type FieldArgs = Record<string, unknown>;
type Middleware<TContext> = IMiddleware<unknown, TContext, FieldArgs>;
type MiddlewareGenerator<TContext> = IMiddlewareGenerator<unknown, TContext, FieldArgs>;

// `never` where each resolver has its own type (parent, arguments, reference): any such function fits.
/** Federation's entity resolver: `(reference, context, info)`, not a field resolver's arguments. */
type ReferenceResolver<TContext> = (reference: never, context: TContext, info: GraphQLResolveInfo) => unknown;

/**
 * A subgraph's resolver map: what the `Resolvers` type generated from its SDL describes
 * (subgraphs/<name>/src/generated/resolvers.ts, `npm run codegen:resolvers`). Apollo's own
 * `GraphQLResolverMap` types `__resolveReference` as a field resolver, which it is not.
 */
export interface SubgraphResolvers<TContext> {
  [typeName: string]:
    | GraphQLScalarType
    | {
        [fieldName: string]:
          | GraphQLFieldResolver<never, TContext, never>
          | { resolve: GraphQLFieldResolver<never, TContext, never> }
          | ReferenceResolver<TContext>;
      };
}

export interface SubgraphOptions<TContext extends RequestContext> {
  name: string;
  typeDefs: string;
  resolvers: SubgraphResolvers<TContext>;
  /** graphql-shield rules (or other graphql-middleware) applied to the schema, in order. */
  middleware?: (MiddlewareGenerator<TContext> | Middleware<TContext>)[];
  logger: Logger;
  production: boolean;
}

/** Builds the subgraph schema and Apollo Server (not listening). Tests use `executeOperation`. */
export function createSubgraphServer<TContext extends RequestContext>(
  opts: SubgraphOptions<TContext>,
): {
  server: ApolloServer<TContext>;
  schema: GraphQLSchema;
} {
  // Apollo's map has `__resolveReference` as a field resolver (see SubgraphResolvers): its one cast.
  let schema = buildSubgraphSchema([
    { typeDefs: parse(opts.typeDefs), resolvers: opts.resolvers as GraphQLResolverMap<unknown> },
  ]);
  if (opts.middleware?.length) schema = applyMiddleware(schema, ...opts.middleware);
  const server = new ApolloServer<TContext>({
    schema,
    // Subgraphs sit behind the gateway; the gateway owns CSRF prevention for browsers.
    csrfPrevention: false,
    introspection: !opts.production,
    includeStacktraceInErrorResponses: !opts.production,
    formatError: makeFormatError({
      exposeDetails: !opts.production,
      log: (err) => opts.logger.error({ err }, 'unexpected error in resolver'),
    }),
    // inputValidationPlugin: a direct request meets the gateway's input rule too.
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      operationLogPlugin<TContext>(opts.logger),
      graphqlMetricsPlugin<TContext>(),
      graphqlTracingPlugin<TContext>(),
      tryAgainMetricsPlugin<TContext>(),
      inputValidationPlugin<TContext>(),
    ],
    logger: opts.logger,
  });
  return { server, schema };
}

export interface ServeOptions<TContext extends RequestContext> {
  server: ApolloServer<TContext>;
  port: number;
  logger: Logger;
  verifyToken: TokenVerifier;
  /** Checks the gateway's signed identity (IDENTITY_ASSERTION_SECRET); unset: only bearer tokens count. */
  identityAssertions?: IdentityAssertions;
  ready: ReadinessCheck;
  /** Adds service-specific fields to the per-request context. */
  extendContext: (base: RequestContext) => TContext | Promise<TContext>;
  /** Extra routes (e.g. JWKS) mounted before /graphql. */
  routes?: (app: express.Express) => void;
  bodyLimit?: string;
  /** Store for the schema's `rateLimit(...)` rules (Redis, shared by every instance). */
  rateLimitStore?: RedisRateLimitStore;
  /** Address to listen on (HOST): loopback unless set; a container sets 0.0.0.0 on its private network. */
  host?: string;
  /**
   * Refuse (401, before the body is read) every /graphql request without the gateway's signature:
   * production, where only the gateway may call. Needs `identityAssertions`: without them the
   * server does not start.
   */
  requireGatewaySignature?: boolean;
}

/** Subgraphs answer the gateway on the same machine unless told otherwise. */
export const DEFAULT_SUBGRAPH_HOST = '127.0.0.1';

/** Starts the server and serves `/graphql`, `/health`, `/ready` and `/metrics` on one port. */
export async function serveSubgraph<TContext extends RequestContext>(
  opts: ServeOptions<TContext>,
): Promise<HttpServer> {
  // Built first: it refuses to exist without the secret that a required signature needs.
  const callerOf = subgraphCaller({
    verifyToken: opts.verifyToken,
    assertions: opts.identityAssertions,
    requireSignature: opts.requireGatewaySignature,
  });
  await opts.server.start();
  const app = express();
  app.disable('x-powered-by');
  // No forwarded header is believed: the client's address comes signed by the gateway, or is the socket's.
  app.set('trust proxy', false);
  instrumentHttp(app);
  addHealthRoutes(app, opts.ready);
  opts.routes?.(app);
  app.use(
    '/graphql',
    // Before the body is read: who calls, from the headers only. A refusal costs no parsing.
    ((req, res, next) => {
      res.locals.requestId = requestIdOf(req);
      callerOf(req.headers, socketAddressOf(req)).then(
        (caller) => {
          res.locals.caller = caller;
          next();
        },
        (err: unknown) => {
          if (!(err instanceof GraphQLError) || err.extensions.code !== 'UNAUTHENTICATED') return next(err);
          res.status(401).json({ errors: [{ message: err.message, extensions: { code: 'UNAUTHENTICATED' } }] });
        },
      );
    }) satisfies express.RequestHandler,
    express.json({ limit: opts.bodyLimit ?? '256kb' }),
    // After the body is read (stream callbacks would lose the scope): every log line of the request carries its id.
    ((_req, res, next) => runInRequestScope(res.locals.requestId as string, next)) satisfies express.RequestHandler,
    expressMiddleware(opts.server, {
      context: async ({ req, res }) => {
        const requestId = res.locals.requestId as string;
        const log = opts.logger.child({ requestId });
        const { identity, clientIp, signed } = res.locals.caller as Caller & { signed: boolean };
        return opts.extendContext({
          identity,
          requestId,
          log,
          clientIp,
          viaGateway: signed,
          rateLimitStore: opts.rateLimitStore,
          authorization: identity ? req.headers.authorization : undefined,
        });
      },
    }),
  );
  const http = await listen(app, opts.port, opts.host ?? DEFAULT_SUBGRAPH_HOST);
  return {
    ...http,
    close: async () => {
      await http.close();
      await opts.server.stop();
    },
  };
}

/** What startSubgraphService reads of a subgraph's config (`subgraphEnv` and AUTH_JWKS_URL). */
export interface SubgraphServiceConfig {
  NODE_ENV: 'development' | 'test' | 'production';
  PORT: number;
  HOST: string;
  AUTH_ISSUER: string;
  AUTH_AUDIENCE: string;
  IDENTITY_ASSERTION_SECRET?: string;
  /** loadSubgraphConfig's: on in production unless set. */
  REQUIRE_GATEWAY_SIGNATURE: boolean;
  /** Auth's JWKS; auth itself passes `verifyToken` instead. */
  AUTH_JWKS_URL?: string;
}

export interface SubgraphServiceOptions<TContext extends RequestContext>
  extends Pick<ServeOptions<TContext>, 'server' | 'logger' | 'extendContext' | 'routes' | 'rateLimitStore'> {
  config: SubgraphServiceConfig;
  /** The process's own dependencies, for /ready (an accelerator such as Redis is not one). */
  readiness: Record<string, () => Promise<boolean>>;
  /** Defaults to verifying against AUTH_JWKS_URL. */
  verifyToken?: TokenVerifier;
  /** Defaults to IDENTITY_ASSERTION_SECRET's. */
  identityAssertions?: IdentityAssertions;
}

/**
 * Serves a subgraph the way every service does: on PORT/HOST, callers checked against auth's keys
 * or the gateway's signature (required in production), /ready from `readiness`.
 */
export function startSubgraphService<TContext extends RequestContext>(
  opts: SubgraphServiceOptions<TContext>,
): Promise<HttpServer> {
  const { config } = opts;
  const verifyToken =
    opts.verifyToken ??
    (config.AUTH_JWKS_URL
      ? createTokenVerifier({
          jwksUrl: config.AUTH_JWKS_URL,
          issuer: config.AUTH_ISSUER,
          audience: config.AUTH_AUDIENCE,
        })
      : null);
  if (!verifyToken) throw new Error('startSubgraphService needs AUTH_JWKS_URL or verifyToken');
  return serveSubgraph({
    server: opts.server,
    port: config.PORT,
    host: config.HOST,
    requireGatewaySignature: config.REQUIRE_GATEWAY_SIGNATURE,
    logger: opts.logger,
    verifyToken,
    identityAssertions: opts.identityAssertions ?? identityAssertionsFor(config.IDENTITY_ASSERTION_SECRET),
    ready: readinessChecks(opts.readiness),
    extendContext: opts.extendContext,
    routes: opts.routes,
    rateLimitStore: opts.rateLimitStore,
  });
}
