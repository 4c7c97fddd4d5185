// Hive Gateway's configuration for the side-by-side gateway benchmark (bench/gateway.ts), loaded by
// `hive-gateway supergraph <supergraph.graphql> -c bench/gateway.config.ts`. It does what this
// project's gateway does toward the subgraphs (gateway/src/server.ts willSendRequest): forwards the
// caller's Authorization and the request id; subgraph URLs come from the environment, as the
// gateway's AUTH_URL / BOOKING_URL / ... overrides. No Hive Cloud, no telemetry: none is configured.
// Persisted documents: the same manifest this project's gateway trusts (PERSISTED_DOCUMENTS_PATH,
// GraphQL Code Generator's "sha256:<hex>" -> text), read once; a hash comes as Apollo's
// extensions.persistedQuery.sha256Hash. Arbitrary documents stay allowed so that the same process
// also serves the bench's full-text phases.
import { readFileSync } from 'node:fs';
import { defineConfig } from '@graphql-hive/gateway';

const location = (name: string) => process.env[`${name.toUpperCase()}_URL`];

const manifestPath = process.env.PERSISTED_DOCUMENTS_PATH;
const documents = new Map<string, string>(
  manifestPath
    ? Object.entries(JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, string>).map(([id, text]) => [
        id.replace(/^sha256:/, ''),
        text,
      ])
    : [],
);

export const gatewayConfig = defineConfig({
  transportEntries: Object.fromEntries(
    ['auth', 'booking', 'search', 'payment']
      .filter((name) => location(name))
      .map((name) => [name, { location: location(name) }]),
  ),
  propagateHeaders: {
    fromClientToSubgraphs: ({ request }) => ({
      authorization: request.headers.get('authorization'),
      'x-request-id': request.headers.get('x-request-id'),
    }),
  },
  landingPage: false,
  graphiql: false,
  ...(manifestPath
    ? {
        persistedDocuments: {
          getPersistedOperation: (hash: string) => documents.get(hash.replace(/^sha256:/, '')) ?? null,
          allowArbitraryDocuments: true,
        },
      }
    : {}),
  // Response caching, rate limiting: off (the default), like a plain router.
});
