import { createTokenVerifier, serveSubgraph, type Logger } from '@tatkal/common';
import { checkDatabase, createPrisma, databaseReady } from '@tatkal/db';
import type { AuthConfig } from './config.ts';
import { loadSigningKeys, publicJwks } from './domain/keys.ts';
import { ensureAdmin } from './domain/sessions.ts';
import { buildAuthServer } from './server.ts';

/** Wires and starts the auth subgraph: used by index.ts and by end-to-end tests (port 0). */
export async function startAuthService(config: AuthConfig, logger: Logger) {
  const keys = await loadSigningKeys(config.AUTH_SIGNING_KEYS_FILE, config.AUTH_GENERATE_KEYS);
  const prisma = createPrisma(config.DATABASE_URL, { applicationName: 'auth' });
  try {
    await checkDatabase(prisma);
    if (config.ADMIN_EMAIL && config.ADMIN_PASSWORD) await ensureAdmin(prisma, config.ADMIN_EMAIL, config.ADMIN_PASSWORD);
  } catch (err) {
    await prisma.$disconnect();
    throw err;
  }
  const jwks = publicJwks(keys);
  const settings = {
    issuer: config.AUTH_ISSUER,
    audience: config.AUTH_AUDIENCE,
    accessTokenTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
    refreshTokenTtlDays: config.REFRESH_TOKEN_TTL_DAYS,
  };
  const { server } = buildAuthServer({ logger, production: config.NODE_ENV === 'production' });
  const http = await serveSubgraph({
    server,
    port: config.PORT,
    logger,
    verifyToken: createTokenVerifier({ jwks, issuer: config.AUTH_ISSUER, audience: config.AUTH_AUDIENCE }),
    ready: async () => ({ database: await databaseReady(prisma) }),
    extendContext: (base) => ({ ...base, prisma, keys, settings }),
    routes: (app) => app.get('/.well-known/jwks.json', (_req, res) => void res.set('Cache-Control', 'public, max-age=300').json(jwks)),
  });
  return {
    url: http.url,
    close: async () => {
      await http.close();
      await prisma.$disconnect();
    },
  };
}
