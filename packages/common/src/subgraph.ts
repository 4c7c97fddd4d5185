import { readFileSync } from 'node:fs';
import { ApolloServer, type BaseContext } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import { parse, type GraphQLSchema } from 'graphql';
import { applyMiddleware } from 'graphql-middleware';
import type { IMiddlewareGenerator } from 'graphql-middleware';
import type { Logger } from 'pino';
import { makeFormatError } from './errors.ts';
import { addHealthRoutes, express, listen, requestIdOf, type HttpServer, type ReadinessCheck } from './http.ts';
import type { Identity, TokenVerifier } from './identity.ts';

export interface RequestContext extends BaseContext {
  identity: Identity | null;
  requestId: string;
  log: Logger;
}

export function loadSchemaFile(url: URL): string {
  return readFileSync(url, 'utf8');
}

export interface SubgraphOptions<TContext extends RequestContext> {
  name: string;
  typeDefs: string;
  resolvers: GraphQLResolverMap<TContext>;
  /** graphql-shield rules (or other graphql-middleware) applied to the schema. */
  middleware?: IMiddlewareGenerator<any, TContext, any>[];
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
    plugins: [ApolloServerPluginLandingPageDisabled()],
    logger: opts.logger,
  });
  return { server, schema };
}

export interface ServeOptions<TContext extends RequestContext> {
  server: ApolloServer<TContext>;
  port: number;
  logger: Logger;
  verifyToken: TokenVerifier;
  ready: ReadinessCheck;
  /** Adds service-specific fields to the per-request context. */
  extendContext: (base: RequestContext) => TContext | Promise<TContext>;
  /** Extra routes (JWKS, metrics) mounted before /graphql. */
  routes?: (app: express.Express) => void;
  bodyLimit?: string;
}

/** Starts the server and serves `/graphql`, `/health`, `/ready` on one port. */
export async function serveSubgraph<TContext extends RequestContext>(opts: ServeOptions<TContext>): Promise<HttpServer> {
  await opts.server.start();
  const app = express();
  app.disable('x-powered-by');
  addHealthRoutes(app, opts.ready);
  opts.routes?.(app);
  app.use(
    '/graphql',
    express.json({ limit: opts.bodyLimit ?? '256kb' }),
    expressMiddleware(opts.server, {
      context: async ({ req }) => {
        const requestId = requestIdOf(req);
        const log = opts.logger.child({ requestId });
        const identity = await opts.verifyToken(req.headers.authorization);
        return opts.extendContext({ identity, requestId, log });
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
