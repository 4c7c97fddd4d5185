import {
  createIdempotency,
  startIdempotencyPurge,
  createRedis,
  createTokenVerifier,
  RedisRateLimitStore,
  startSubgraphService,
  waitForRedis,
  type Logger,
} from '@tatkal/common';
import { connectPrisma, databaseReady, Prisma } from '@tatkal/db';
import type { AuthConfig } from './config.ts';
import { loadSigningKeys, publicJwks } from './domain/keys.ts';
import { ensureAdmin } from './domain/sessions.ts';
import { disabledOtpSender, simulatorOtpSender, type OtpSender } from './otp/sender.ts';
import { buildAuthServer } from './server.ts';

/** Wires and starts the auth subgraph: used by index.ts and by end-to-end tests (port 0). */
export async function startAuthService(config: AuthConfig, logger: Logger) {
  const keys = await loadSigningKeys(config.AUTH_SIGNING_KEYS_FILE, config.AUTH_GENERATE_KEYS);
  const prisma = await connectPrisma(config.DATABASE_URL, { applicationName: 'auth' });
  try {
    if (config.ADMIN_EMAIL && config.ADMIN_PASSWORD)
      await ensureAdmin(prisma, config.ADMIN_EMAIL, config.ADMIN_PASSWORD);
  } catch (err) {
    await prisma.$disconnect();
    throw err;
  }
  // Rotation: `reloadKeys()` (SIGHUP in index.ts) re-reads the key file; new tokens use its first
  // key, tokens signed by any key still in the file stay valid.
  const keyring = {
    keys,
    jwks: publicJwks(keys),
    verify: createTokenVerifier({ jwks: publicJwks(keys), issuer: config.AUTH_ISSUER, audience: config.AUTH_AUDIENCE }),
  };
  const reloadKeys = async () => {
    const next = await loadSigningKeys(config.AUTH_SIGNING_KEYS_FILE, false);
    const jwks = publicJwks(next);
    Object.assign(keyring, {
      keys: next,
      jwks,
      verify: createTokenVerifier({ jwks, issuer: config.AUTH_ISSUER, audience: config.AUTH_AUDIENCE }),
    });
    logger.info({ kids: next.map((k) => k.kid), signing: next[0]!.kid }, 'signing keys reloaded');
  };
  const settings = {
    issuer: config.AUTH_ISSUER,
    audience: config.AUTH_AUDIENCE,
    accessTokenTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
    refreshTokenTtlDays: config.REFRESH_TOKEN_TTL_DAYS,
    refreshReuseGraceSeconds: config.REFRESH_REUSE_GRACE_SECONDS,
  };
  const { server } = buildAuthServer({
    logger,
    production: config.NODE_ENV === 'production',
    rateLimits: { login: config.RATE_LIMIT_LOGIN, register: config.RATE_LIMIT_REGISTER },
  });
  // Only rate limits use Redis here: down, they fail open and auth stays ready. 1 s per command:
  // a timed-out check lets a login through, and an attack's load is when timeouts happen.
  const redis = createRedis(config.REDIS_URL, { name: 'auth', commandTimeoutMs: 1000 });
  if (!(await waitForRedis(redis))) logger.warn('Redis not reachable at start-up: no rate limits until it is');
  const otp: OtpSender =
    config.OTP_PROVIDER === 'simulator' ? simulatorOtpSender(config.OTP_SIMULATOR_URL) : disabledOtpSender;
  if (config.OTP_PROVIDER === 'disabled') logger.warn('OTP_PROVIDER=disabled: identity codes cannot be sent');
  const idempotency = createIdempotency({ db: prisma, sql: Prisma, schema: 'auth', redis });
  const purge = startIdempotencyPurge(idempotency, logger);
  const identityDeps = {
    otp,
    idempotency,
    identityCodes: {
      ttlSeconds: config.IDENTITY_CODE_TTL_SECONDS,
      resendSeconds: config.IDENTITY_CODE_RESEND_SECONDS,
    },
  };
  const http = await startSubgraphService({
    config,
    server,
    logger,
    verifyToken: (authorization) => keyring.verify(authorization),
    readiness: { database: () => databaseReady(prisma) },
    extendContext: (base) => ({ ...base, prisma, keys: keyring.keys, settings, ...identityDeps }),
    rateLimitStore: new RedisRateLimitStore(redis, { prefix: `${config.RATE_LIMIT_PREFIX}auth:`, logger }),
    routes: (app) =>
      app.get(
        '/.well-known/jwks.json',
        (_req, res) => void res.set('Cache-Control', 'public, max-age=300').json(keyring.jwks),
      ),
  });
  return {
    url: http.url,
    otpProvider: config.OTP_PROVIDER,
    reloadKeys,
    close: async () => {
      await http.close();
      await purge.stop();
      redis.disconnect();
      await prisma.$disconnect();
    },
  };
}
