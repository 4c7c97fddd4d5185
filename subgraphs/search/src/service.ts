import { createTokenVerifier, serveSubgraph, type Logger } from '@tatkal/common';
import { checkDatabase, createPrisma, databaseReady } from '@tatkal/db';
import type { SearchConfig } from './config.ts';
import { buildSearchServer } from './server.ts';

/** Wires and starts the search subgraph: used by index.ts and by end-to-end tests (port 0). */
export async function startSearchService(config: SearchConfig, logger: Logger) {
  const prisma = createPrisma(config.DATABASE_URL, { applicationName: 'search' });
  try {
    await checkDatabase(prisma);
  } catch (err) {
    await prisma.$disconnect();
    throw err;
  }
  const { server } = buildSearchServer({ logger, production: config.NODE_ENV === 'production' });
  const http = await serveSubgraph({
    server,
    port: config.PORT,
    logger,
    verifyToken: createTokenVerifier({ jwksUrl: config.AUTH_JWKS_URL, issuer: config.AUTH_ISSUER, audience: config.AUTH_AUDIENCE }),
    ready: async () => ({ database: await databaseReady(prisma) }),
    extendContext: (base) => ({ ...base, prisma }),
  });
  return {
    url: http.url,
    close: async () => {
      await http.close();
      await prisma.$disconnect();
    },
  };
}
