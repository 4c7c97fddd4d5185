import { createSubgraphServer, loadSchemaFile, type Logger } from '@tatkal/common';
import type { BookingContext } from './context.ts';
import { pnrLogFields } from './correlation.ts';
import { bookingPermissions } from './permissions.ts';
import { resolvers } from './resolvers/index.ts';

export const typeDefs = loadSchemaFile(new URL('./schema.graphql', import.meta.url));

/** Builds the booking subgraph's Apollo Server from injected dependencies (not listening). */
export function buildBookingServer(opts: { logger: Logger; production: boolean }) {
  return createSubgraphServer<BookingContext>({
    name: 'booking',
    typeDefs,
    resolvers,
    middleware: [bookingPermissions, pnrLogFields],
    logger: opts.logger,
    production: opts.production,
  });
}
