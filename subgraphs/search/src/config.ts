import { z } from 'zod';
import { env, loadConfig } from '@tatkal/common';

export function loadSearchConfig(source: NodeJS.ProcessEnv = process.env) {
  return loadConfig(
    {
      NODE_ENV: env.nodeEnv,
      PORT: env.port(4003),
      DATABASE_URL: env.databaseUrl,
      AUTH_JWKS_URL: env.httpUrl,
      AUTH_ISSUER: z.string().min(1).default('tatkal-auth'),
      AUTH_AUDIENCE: z.string().min(1).default('tatkal-api'),
      LOG_LEVEL: env.logLevel,
    },
    source,
  );
}
export type SearchConfig = ReturnType<typeof loadSearchConfig>;
