import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import cors from 'cors';
import helmet from 'helmet';
import {
  addHealthRoutes,
  express,
  listen,
  makeFormatError,
  requestIdOf,
  type HttpServer,
  type Identity,
  type Logger,
  type ReadinessCheck,
  type TokenVerifier,
} from '@tatkal/common';

export interface GatewayContext {
  requestId: string;
  identity: Identity | null;
  /** The verified bearer token, forwarded so each subgraph verifies it again. */
  authorization?: string;
}

export interface GatewayOptions {
  supergraphSdl: string;
  subgraphUrls?: Record<string, string>;
  verifyToken: TokenVerifier;
  logger: Logger;
  production: boolean;
}

/** Builds (does not start) the gateway's Apollo Server over a static, composed supergraph. */
export function buildGateway(opts: GatewayOptions) {
  const gateway = new ApolloGateway({
    supergraphSdl: opts.supergraphSdl,
    logger: opts.logger,
    buildService: ({ name, url }) =>
      new RemoteGraphQLDataSource<GatewayContext>({
        url: opts.subgraphUrls?.[name] ?? url,
        willSendRequest: ({ request, context }) => {
          // Only what the gateway itself vouches for reaches a subgraph: never client headers.
          if (context.requestId) request.http?.headers.set('x-request-id', context.requestId);
          if (context.authorization) request.http?.headers.set('authorization', context.authorization);
        },
      }),
  });
  const server = new ApolloServer<GatewayContext>({
    gateway,
    introspection: !opts.production,
    includeStacktraceInErrorResponses: !opts.production,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    formatError: makeFormatError({
      exposeDetails: !opts.production,
      log: (err) => opts.logger.error({ err }, 'unexpected gateway error'),
    }),
    plugins: [opts.production ? ApolloServerPluginLandingPageDisabled() : ApolloServerPluginLandingPageLocalDefault({ embed: true })],
    logger: opts.logger,
  });
  return { server, gateway };
}

export interface ServeGatewayOptions extends GatewayOptions {
  port: number;
  corsOrigins: string[];
  bodyLimit: string;
  ready: ReadinessCheck;
}

export async function serveGateway(opts: ServeGatewayOptions): Promise<HttpServer> {
  const { server } = buildGateway(opts);
  await server.start();
  const app = express();
  app.disable('x-powered-by');
  addHealthRoutes(app, opts.ready);
  app.use(
    '/graphql',
    // Sandbox loads its UI from Apollo's CDN: allow it only where the landing page exists.
    helmet({ contentSecurityPolicy: opts.production ? undefined : false, crossOriginEmbedderPolicy: false }),
    cors({ origin: opts.corsOrigins, credentials: true, exposedHeaders: ['x-request-id', 'retry-after'] }),
    express.json({ limit: opts.bodyLimit }),
    expressMiddleware(server, {
      context: async ({ req, res }) => {
        const requestId = requestIdOf(req);
        res.setHeader('x-request-id', requestId);
        const identity = await opts.verifyToken(req.headers.authorization);
        return { requestId, identity, authorization: identity ? req.headers.authorization : undefined };
      },
    }),
  );
  const http = await listen(app, opts.port);
  return {
    ...http,
    close: async () => {
      await http.close();
      await server.stop();
    },
  };
}
