import { z } from 'zod';
import { env, loadConfig } from '@tatkal/common';

const urlList = z
  .string()
  .default('http://localhost:4000,http://127.0.0.1:4000,https://studio.apollographql.com')
  .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean));

export function loadGatewayConfig(source: NodeJS.ProcessEnv = process.env) {
  return loadConfig(
    {
      NODE_ENV: env.nodeEnv,
      PORT: env.port(4000),
      SUPERGRAPH_PATH: z.string().min(1).default('supergraph.graphql'),
      REDIS_URL: env.redisUrl,
      AUTH_JWKS_URL: env.httpUrl,
      AUTH_ISSUER: z.string().min(1).default('tatkal-auth'),
      AUTH_AUDIENCE: z.string().min(1).default('tatkal-api'),
      /** Overrides of the routing URLs in the supergraph (e.g. service names in docker-compose). */
      AUTH_URL: env.httpUrl.optional(),
      BOOKING_URL: env.httpUrl.optional(),
      SEARCH_URL: env.httpUrl.optional(),
      PAYMENT_URL: env.httpUrl.optional(),
      CORS_ORIGINS: urlList,
      BODY_LIMIT: z.string().default('100kb'),
      LOG_LEVEL: env.logLevel,
    },
    source,
  );
}
export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;

export function subgraphUrlOverrides(config: GatewayConfig): Record<string, string> {
  const entries = Object.entries({ auth: config.AUTH_URL, booking: config.BOOKING_URL, search: config.SEARCH_URL, payment: config.PAYMENT_URL });
  return Object.fromEntries(entries.filter((e): e is [string, string] => typeof e[1] === 'string'));
}
