import type { ApolloServerPlugin } from '@apollo/server';
import { createSubgraphServer, loadSchemaFile, type Logger } from '@tatkal/common';
import type { SearchContext } from './context.ts';
import { resolvers } from './resolvers/index.ts';

export const typeDefs = loadSchemaFile(new URL('./schema.graphql', import.meta.url));

/** `extensions.searchBackend`: postgres, elasticsearch, or postgres-fallback when Elasticsearch was slow or down. */
export const searchBackendExtension: ApolloServerPlugin<SearchContext> = {
  async requestDidStart() {
    return {
      async willSendResponse({ response, contextValue }) {
        const backend = contextValue.served?.backend;
        if (!backend || response.body.kind !== 'single') return;
        response.body.singleResult.extensions = { ...response.body.singleResult.extensions, searchBackend: backend };
      },
    };
  },
};

export function buildSearchServer(opts: { logger: Logger; production: boolean }) {
  const built = createSubgraphServer<SearchContext>({
    name: 'search',
    typeDefs,
    resolvers,
    logger: opts.logger,
    production: opts.production,
  });
  built.server.addPlugin(searchBackendExtension);
  return built;
}
