import { z } from 'zod';
import { env, loadSubgraphConfig } from '@tatkal/common';

const unsetIfEmpty = (v: unknown) => (v === '' ? undefined : v);

export function loadSearchConfig(source: NodeJS.ProcessEnv = process.env) {
  return loadSubgraphConfig(
    4003,
    {
      AUTH_JWKS_URL: env.httpUrl,
      /** Set: Elasticsearch answers searches (PostgreSQL when it is slow or down). Unset: PostgreSQL only. */
      ELASTICSEARCH_URL: z.preprocess(unsetIfEmpty, env.httpUrl.optional()),
      /** Prefix of the index aliases (`stations`, `trains`): '' in production, unique per test. */
      ES_INDEX_PREFIX: z
        .string()
        .regex(/^[a-z0-9_.-]*$/)
        .default(''),
      /** An Elasticsearch search slower than this is answered by PostgreSQL instead. */
      ES_TIMEOUT_MS: z.coerce.number().int().min(10).max(30_000).default(500),
      /** How long the circuit stays open before Elasticsearch is tried again. */
      ES_BREAKER_RESET_MS: z.coerce.number().int().min(100).default(10_000),
      /** Booking's network events (stations, trains) keep the projection fresh; needs AMQP_URL. */
      AMQP_URL: z.preprocess(unsetIfEmpty, env.amqpUrl.optional()),
      EVENTS_ENABLED: z
        .enum(['true', 'false', '1', '0'])
        .default('true')
        .transform((v) => v === 'true' || v === '1'),
      EVENTS_PREFIX: z
        .string()
        .regex(/^[\w.-]*$/)
        .default(''),
    },
    source,
  );
}
export type SearchConfig = ReturnType<typeof loadSearchConfig>;
