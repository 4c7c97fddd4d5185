import { z } from 'zod';
import { env, loadConfig, rateLimitEnv } from '@tatkal/common';

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const positiveInt = (fallback: number) => z.coerce.number().int().min(1).default(fallback);
const nameList = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );

const urlList = z
  .string()
  .default('http://localhost:4000,http://127.0.0.1:4000,https://studio.apollographql.com')
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );

export function loadGatewayConfig(source: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(
    {
      NODE_ENV: env.nodeEnv,
      PORT: env.port(4000),
      SUPERGRAPH_PATH: z.string().min(1).default('supergraph.graphql'),
      REDIS_URL: env.redisUrl,
      AUTH_JWKS_URL: env.httpUrl,
      AUTH_ISSUER: z.string().min(1).default('tatkal-auth'),
      IDENTITY_ASSERTION_SECRET: env.identityAssertionSecret,
      AUTH_AUDIENCE: z.string().min(1).default('tatkal-api'),
      /** Overrides of the routing URLs in the supergraph (e.g. service names in docker-compose). */
      AUTH_URL: env.httpUrl.optional(),
      BOOKING_URL: env.httpUrl.optional(),
      SEARCH_URL: env.httpUrl.optional(),
      PAYMENT_URL: env.httpUrl.optional(),
      CORS_ORIGINS: urlList,
      BODY_LIMIT: z.string().default('100kb'),
      /** Least time between two JWKS fetches; a token with an unknown `kid` triggers one. */
      AUTH_JWKS_COOLDOWN_MS: z.coerce.number().int().min(0).default(30_000),
      /** Express `trust proxy` for a load balancer in front ('false': the socket address is the client). */
      TRUST_PROXY: z.string().default('false'),
      /** Rate limits (Redis, shared by every gateway instance): per client IP on every request... */
      RATE_LIMIT_IP: rateLimitEnv('600/1m'),
      /** ...and per user on these root fields (counted by field name in the parsed document). */
      RATE_LIMIT_EXPENSIVE: rateLimitEnv('30/1m'),
      RATE_LIMIT_EXPENSIVE_FIELDS: nameList('reserveSeats,createPayment'),
      /** Key prefix of the rate-limit counters (tests use one per run). */
      RATE_LIMIT_PREFIX: z.string().default('rl:'),
      /** Query limits (GraphQL Armor's, but the cost), checked before any subgraph is called (QUERY_TOO_COMPLEX). */
      QUERY_MAX_DEPTH: positiveInt(12),
      QUERY_MAX_ALIASES: z.coerce.number().int().min(0).default(30),
      QUERY_MAX_TOKENS: positiveInt(3000),
      QUERY_MAX_COST: positiveInt(5000),
      /** Several operations in one HTTP request (a JSON array): off unless set. */
      ALLOW_BATCHED_REQUESTS: bool.default(false),
      /** Keep-alive connections per subgraph at most (requests beyond wait for one). */
      SUBGRAPH_MAX_SOCKETS: positiveInt(128),
      /** Identical subgraph queries in flight at once are sent once (gateway/src/inflight.ts). */
      SUBGRAPH_DEDUPLICATE_QUERIES: bool.default(true),
      /** Identical client queries in flight at once run once (gateway/src/sharedExecutions.ts). */
      DEDUPLICATE_OPERATIONS: bool.default(true),
      /**
       * Port of /metrics when it must not be on the public port (production behind a load
       * balancer); unset: /metrics on PORT, as every other process serves it.
       */
      METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
      /**
       * Trusted documents (docs/api.md): the persisted-documents manifest of the project's apps
       * (GraphQL Code Generator's, written by `npm run client:codegen`)...
       */
      PERSISTED_DOCUMENTS_PATH: z.string().min(1).default('packages/client/src/gql/persisted-documents.json'),
      /** ...and whether only its documents run (by hash; default: in production only). */
      TRUSTED_DOCUMENTS_ONLY: bool.optional(),
      /** Query plans cached (LRU, approximate MiB): a miss plans again, which costs milliseconds. */
      QUERY_PLAN_CACHE_MIB: positiveInt(30),
      LOG_LEVEL: env.logLevel,
    },
    source,
  );
  return { ...config, TRUSTED_DOCUMENTS_ONLY: config.TRUSTED_DOCUMENTS_ONLY ?? config.NODE_ENV === 'production' };
}
export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;

/** `TRUST_PROXY` as Express takes it: false, true, a hop count, or addresses/subnets. */
export function trustProxySetting(value: string): boolean | number | string {
  if (value === 'false' || value === '') return false;
  if (value === 'true') return true;
  return /^\d+$/.test(value) ? Number(value) : value;
}

export function subgraphUrlOverrides(config: GatewayConfig): Record<string, string> {
  const entries = Object.entries({
    auth: config.AUTH_URL,
    booking: config.BOOKING_URL,
    search: config.SEARCH_URL,
    payment: config.PAYMENT_URL,
  });
  return Object.fromEntries(entries.filter((e): e is [string, string] => typeof e[1] === 'string'));
}
