// Hive Gateway's configuration for the side-by-side gateway benchmark (bench/gateway.ts), loaded by
// `hive-gateway supergraph <supergraph.graphql> -c bench/gateway.config.ts`. It does what this
// project's gateway does toward the subgraphs (gateway/src/server.ts willSendRequest): forwards the
// caller's Authorization and the request id; subgraph URLs come from the environment, as the
// gateway's AUTH_URL / BOOKING_URL / ... overrides. No Hive Cloud, no telemetry: none is configured.
import { defineConfig } from '@graphql-hive/gateway';

const location = (name: string) => process.env[`${name.toUpperCase()}_URL`];

export const gatewayConfig = defineConfig({
  transportEntries: Object.fromEntries(
    ['auth', 'booking', 'search', 'payment'].filter((name) => location(name)).map((name) => [name, { location: location(name) }]),
  ),
  propagateHeaders: {
    fromClientToSubgraphs: ({ request }) => ({
      authorization: request.headers.get('authorization'),
      'x-request-id': request.headers.get('x-request-id'),
    }),
  },
  landingPage: false,
  graphiql: false,
  // Response caching, persisted documents, rate limiting: off (the default), like a plain router.
});
