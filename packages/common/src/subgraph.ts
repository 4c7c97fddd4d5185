import { readFileSync } from 'node:fs';
import { ApolloServer, type BaseContext } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import { parse, type GraphQLSchema } from 'graphql';
import { applyMiddleware } from 'graphql-middleware';
import type { IMiddleware, IMiddlewareGenerator } from 'graphql-middleware';
import type { Logger } from 'pino';
import { makeFormatError } from './errors.ts';
import { addHealthRoutes, clientIpOf, express, listen, requestIdOf, type HttpServer, type ReadinessCheck } from './http.ts';
import { inputValidationPlugin } from './inputs.ts';
import { subgraphIdentity, type Identity, type IdentityAssertions, type TokenVerifier } from './identity.ts';
import { runInRequestScope } from './logger.ts';
import { operationLogPlugin } from './operationLog.ts';
import type { RedisRateLimitStore } from './ratelimit.ts';
import { graphqlMetricsPlugin, instrumentHttp } from './telemetry.ts';

export interface RequestContext extends BaseContext {
  identity: Identity | null;
  requestId: string;
  log: Logger;
  /** The client's address as the gateway saw it (x-forwarded-for from a trusted proxy only). */
  clientIp?: string;
  /** The verified caller's own `Authorization` header, for calls to another subgraph on its behalf (absent when anonymous). */
  authorization?: string;
  /** Where `rateLimit(...)` shield rules count calls; absent in tests that build the server directly. */
  rateLimitStore?: RedisRateLimitStore;
}

export function loadSchemaFile(url: URL): string {
  return readFileSync(url, 'utf8');
}

export interface SubgraphOptions<TContext extends RequestContext> {
  name: string;
  typeDefs: string;
  resolvers: GraphQLResolverMap<TContext>;
  /** graphql-shield rules (or other graphql-middleware) applied to the schema, in order. */
  middleware?: (IMiddlewareGenerator<any, TContext, any> | IMiddleware<any, TContext, any>)[];
  logger: Logger;
  production: boolean;
}

/** Builds the subgraph schema and Apollo Server (not listening). Tests use `executeOperation`. */
export function createSubgraphServer<TContext extends RequestContext>(opts: SubgraphOptions<TContext>): {
  server: ApolloServer<TContext>;
  schema: GraphQLSchema;
} {
  let schema = buildSubgraphSchema([{ typeDefs: parse(opts.typeDefs), resolvers: opts.resolvers as GraphQLResolverMap<unknown> }]);
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
    plugins: [ApolloServerPluginLandingPageDisabled(), operationLogPlugin<TContext>(opts.logger), graphqlMetricsPlugin<TContext>(), inputValidationPlugin<TContext>()],
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
  /**
   * Which peers' `x-forwarded-for` is believed (Express `trust proxy`): the gateway's addresses.
   * Anyone else who reaches the subgraph directly is identified by its socket address.
   */
  trustProxy?: string;
  /** Store for the schema's `rateLimit(...)` rules (Redis, shared by every instance). */
  rateLimitStore?: RedisRateLimitStore;
}

/** Subgraphs sit on a private network behind the gateway: trust forwarding only from there. */
export const DEFAULT_TRUSTED_PROXIES = 'loopback, uniquelocal';

/** Starts the server and serves `/graphql`, `/health`, `/ready` and `/metrics` on one port. */
export async function serveSubgraph<TContext extends RequestContext>(opts: ServeOptions<TContext>): Promise<HttpServer> {
  await opts.server.start();
  const identityOf = subgraphIdentity(opts.verifyToken, opts.identityAssertions);
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', opts.trustProxy ?? DEFAULT_TRUSTED_PROXIES);
  instrumentHttp(app);
  addHealthRoutes(app, opts.ready);
  opts.routes?.(app);
  app.use(
    '/graphql',
    express.json({ limit: opts.bodyLimit ?? '256kb' }),
    // After the body is read (stream callbacks would lose the scope): every log line of the request carries its id.
    (req, res, next) => {
      res.locals.requestId = requestIdOf(req);
      runInRequestScope(res.locals.requestId as string, next);
    },
    expressMiddleware(opts.server, {
      context: async ({ req, res }) => {
        const requestId = res.locals.requestId as string;
        const log = opts.logger.child({ requestId });
        const identity = await identityOf(req.headers);
        return opts.extendContext({ identity, requestId, log, clientIp: clientIpOf(req), rateLimitStore: opts.rateLimitStore, authorization: identity ? req.headers.authorization : undefined });
      },
    }),
  );
  const http = await listen(app, opts.port);
  return {
    ...http,
    close: async () => {
      await http.close();
      await opts.server.stop();
    },
  };
}
