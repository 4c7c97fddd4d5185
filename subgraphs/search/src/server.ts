import { createSubgraphServer, loadSchemaFile, type Logger } from '@tatkal/common';
import type { SearchContext } from './context.ts';
import { resolvers } from './resolvers/index.ts';

export const typeDefs = loadSchemaFile(new URL('./schema.graphql', import.meta.url));

export function buildSearchServer(opts: { logger: Logger; production: boolean }) {
  return createSubgraphServer<SearchContext>({ name: 'search', typeDefs, resolvers: resolvers as never, logger: opts.logger, production: opts.production });
}
