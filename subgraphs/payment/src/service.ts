import { createTokenVerifier, serveSubgraph, type Logger } from '@tatkal/common';
import { checkDatabase, createPrisma, databaseReady } from '@tatkal/db';
import type { PaymentConfig } from './config.ts';
import { buildPaymentServer } from './server.ts';
import { serveWebhooks } from './webhooks.ts';

/** Wires and starts the payment subgraph and its webhook sidecar (two ports, one process). */
export async function startPaymentService(config: PaymentConfig, logger: Logger) {
  const prisma = createPrisma(config.DATABASE_URL, { applicationName: 'payment' });
  try {
    await checkDatabase(prisma);
  } catch (err) {
    await prisma.$disconnect();
    throw err;
  }
  const ready = async () => ({ database: await databaseReady(prisma) });
  const { server } = buildPaymentServer({ logger, production: config.NODE_ENV === 'production' });
  const http = await serveSubgraph({
    server,
    port: config.PORT,
    logger,
    verifyToken: createTokenVerifier({ jwksUrl: config.AUTH_JWKS_URL, issuer: config.AUTH_ISSUER, audience: config.AUTH_AUDIENCE }),
    ready,
    extendContext: (base) => ({ ...base, prisma }),
  });
  const webhooks = await serveWebhooks({ port: config.WEBHOOK_PORT, ready });
  return {
    url: http.url,
    webhookUrl: webhooks.url,
    close: async () => {
      await webhooks.close();
      await http.close();
      await prisma.$disconnect();
    },
  };
}
