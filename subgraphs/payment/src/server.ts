import { createSubgraphServer, loadSchemaFile, type Logger } from '@tatkal/common';
import type { PaymentContext } from './context.ts';
import { paymentPermissions } from './permissions.ts';
import { resolvers } from './resolvers/index.ts';

export const typeDefs = loadSchemaFile(new URL('./schema.graphql', import.meta.url));

export function buildPaymentServer(opts: { logger: Logger; production: boolean }) {
  return createSubgraphServer<PaymentContext>({
    name: 'payment',
    typeDefs,
    resolvers,
    middleware: [paymentPermissions],
    logger: opts.logger,
    production: opts.production,
  });
}
