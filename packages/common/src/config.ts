import { z } from 'zod';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Reads and validates env once. The first bad or missing variable stops the process with a
 * message naming it, e.g. `DATABASE_URL: required`.
 */
export function loadConfig<T extends z.ZodRawShape>(
  shape: T,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<z.ZodObject<T>> {
  const parsed = z.object(shape).safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = issue.path.join('.');
    const got = env[name];
    const detail = got === undefined ? 'required but not set' : issue.message;
    throw new ConfigError(`invalid configuration: ${name}: ${detail}`);
  }
  return parsed.data;
}

const url = (protocols: string[]) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    `must be a ${protocols.join(' or ')} URL`,
  );

/** Building blocks every process shares. */
export const env = {
  nodeEnv: z.enum(['development', 'test', 'production']).default('development'),
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  /** A subgraph's listening address: loopback unless set (0.0.0.0 in a container, on its private network). */
  host: z.string().min(1).default('127.0.0.1'),
  databaseUrl: url(['postgresql:', 'postgres:']),
  redisUrl: url(['redis:', 'rediss:']),
  amqpUrl: url(['amqp:', 'amqps:']),
  httpUrl: url(['http:', 'https:']),
  /**
   * Shared by the gateway and the subgraphs (createIdentityAssertions): the gateway signs every
   * subgraph request with it, and in production a subgraph refuses requests without that
   * signature. Unset: subgraphs verify every bearer token themselves and see the gateway's
   * address as every client's.
   */
  identityAssertionSecret: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.string().min(32, 'must be at least 32 characters').optional(),
  ),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

/**
 * What every subgraph reads (startSubgraphService): where it listens, its database, how it checks
 * callers, its log level. A subgraph adds AUTH_JWKS_URL (auth verifies with its own keys) and its own.
 */
export const subgraphEnv = (port: number) => ({
  NODE_ENV: env.nodeEnv,
  PORT: env.port(port),
  HOST: env.host,
  DATABASE_URL: env.databaseUrl,
  AUTH_ISSUER: z.string().min(1).default('tatkal-auth'),
  AUTH_AUDIENCE: z.string().min(1).default('tatkal-api'),
  IDENTITY_ASSERTION_SECRET: env.identityAssertionSecret,
  /**
   * Answer only requests the gateway signed (401 for any other). Default: on in production, where
   * it needs IDENTITY_ASSERTION_SECRET; 'false' only where the network alone keeps clients away.
   */
  REQUIRE_GATEWAY_SIGNATURE: z
    .enum(['true', 'false'])
    .optional()
    .transform((v) => (v === undefined ? undefined : v === 'true')),
  LOG_LEVEL: env.logLevel,
});

/**
 * A subgraph's config: `subgraphEnv(port)` and its own variables. Fails closed: a subgraph that
 * must answer the gateway only cannot start without the secret that tells the gateway apart.
 */
export function loadSubgraphConfig<T extends z.ZodRawShape>(
  port: number,
  shape: T,
  source: NodeJS.ProcessEnv = process.env,
) {
  const config = loadConfig({ ...subgraphEnv(port), ...shape }, source);
  const base = config as unknown as z.infer<z.ZodObject<ReturnType<typeof subgraphEnv>>>;
  const requireGatewaySignature = base.REQUIRE_GATEWAY_SIGNATURE ?? base.NODE_ENV === 'production';
  if (requireGatewaySignature && !base.IDENTITY_ASSERTION_SECRET)
    throw new ConfigError(
      'invalid configuration: IDENTITY_ASSERTION_SECRET: required but not set ' +
        `(${base.REQUIRE_GATEWAY_SIGNATURE ? 'REQUIRE_GATEWAY_SIGNATURE' : 'production'}: only requests the gateway ` +
        'signed with it are answered)',
    );
  return { ...config, REQUIRE_GATEWAY_SIGNATURE: requireGatewaySignature };
}
