import { readFileSync } from 'node:fs';
import {
  createRedis,
  createTokenVerifier,
  FixedWindowLimiter,
  identityAssertionsFor,
  waitForRedis,
  type Logger,
} from '@tatkal/common';
import { subgraphUrlOverrides, trustProxySetting, type GatewayConfig } from './config.ts';
import { serveGateway } from './server.ts';
import { loadManifest, type TrustedDocumentManifest } from './trustedDocuments.ts';

/** Wires and starts the gateway: used by index.ts and by end-to-end tests (port 0). */
export async function startGatewayService(config: GatewayConfig, logger: Logger) {
  let supergraphSdl: string;
  try {
    supergraphSdl = readFileSync(config.SUPERGRAPH_PATH, 'utf8');
  } catch {
    throw new Error(`SUPERGRAPH_PATH: cannot read ${config.SUPERGRAPH_PATH} (run pnpm schema:compose)`);
  }
  let manifest: TrustedDocumentManifest;
  try {
    manifest = loadManifest(config.PERSISTED_DOCUMENTS_PATH);
  } catch (err) {
    const why =
      `PERSISTED_DOCUMENTS_PATH: cannot read the trusted documents at ${config.PERSISTED_DOCUMENTS_PATH} ` +
      `(${(err as Error).message.split('\n')[0]}; run npm run client:codegen)`;
    // Only trusted documents and no list of them: the gateway could answer nothing.
    if (config.TRUSTED_DOCUMENTS_ONLY) throw new Error(why);
    logger.warn(why);
    manifest = new Map();
  }
  if (config.NODE_ENV === 'production' && !config.IDENTITY_ASSERTION_SECRET) {
    logger.warn(
      'IDENTITY_ASSERTION_SECRET is not set: subgraph requests go unsigned, ' +
        'so subgraphs verify every token again and see this gateway as every client',
    );
  }
  // Only rate limits use Redis here. 1 s per command, not 250 ms: a limiter that times out lets
  // the request through, and under an attack's load that is exactly when it is needed.
  const redis = createRedis(config.REDIS_URL, { name: 'gateway', commandTimeoutMs: 1000 });
  if (!(await waitForRedis(redis))) logger.warn('Redis not reachable at start-up: no rate limits until it is');
  try {
    const http = await serveGateway({
      supergraphSdl,
      subgraphUrls: subgraphUrlOverrides(config),
      verifyToken: createTokenVerifier({
        jwksUrl: config.AUTH_JWKS_URL,
        issuer: config.AUTH_ISSUER,
        audience: config.AUTH_AUDIENCE,
        jwksCooldownMs: config.AUTH_JWKS_COOLDOWN_MS,
      }),
      identityAssertions: identityAssertionsFor(config.IDENTITY_ASSERTION_SECRET),
      logger,
      production: config.NODE_ENV === 'production',
      port: config.PORT,
      corsOrigins: config.CORS_ORIGINS,
      bodyLimit: config.BODY_LIMIT,
      trustProxy: trustProxySetting(config.TRUST_PROXY),
      allowBatchedHttpRequests: config.ALLOW_BATCHED_REQUESTS,
      subgraphConnections: {
        maxSockets: config.SUBGRAPH_MAX_SOCKETS,
        deduplicateQueries: config.SUBGRAPH_DEDUPLICATE_QUERIES,
      },
      deduplicateOperations: config.DEDUPLICATE_OPERATIONS,
      queryPlanCacheMiB: config.QUERY_PLAN_CACHE_MIB,
      trustedDocuments: { manifest, only: config.TRUSTED_DOCUMENTS_ONLY },
      metricsPort: config.METRICS_PORT,
      queryLimits: {
        maxDepth: config.QUERY_MAX_DEPTH,
        maxAliases: config.QUERY_MAX_ALIASES,
        maxTokens: config.QUERY_MAX_TOKENS,
        maxCost: config.QUERY_MAX_COST,
        defaultListSize: 10,
      },
      // Redis down: requests are not limited (fail open, logged) and the gateway stays ready.
      rateLimits: {
        limiter: new FixedWindowLimiter(redis, { prefix: `${config.RATE_LIMIT_PREFIX}gw:`, logger }),
        perIp: config.RATE_LIMIT_IP,
        expensiveFields: config.RATE_LIMIT_EXPENSIVE_FIELDS,
        perUserExpensive: config.RATE_LIMIT_EXPENSIVE,
      },
      ready: async () => ({ supergraph: true }),
    });
    return {
      url: http.url,
      metricsUrl: http.metricsUrl,
      close: async () => {
        await http.close();
        redis.disconnect();
      },
    };
  } catch (err) {
    redis.disconnect();
    throw new Error(
      `supergraph at ${config.SUPERGRAPH_PATH} could not be loaded: ${(err as Error).message.split('\n')[0]}`,
    );
  }
}
