import { createSubgraphServer, loadSchemaFile, type Logger } from '@tatkal/common';
import type { AuthContext } from './context.ts';
import { resolvers } from './resolvers/index.ts';

export const typeDefs = loadSchemaFile(new URL('./schema.graphql', import.meta.url));

export function buildAuthServer(opts: { logger: Logger; production: boolean }) {
  return createSubgraphServer<AuthContext>({ name: 'auth', typeDefs, resolvers: resolvers as never, logger: opts.logger, production: opts.production });
}
