// How the gateway talks to its subgraphs. Apollo's default fetcher (make-fetch-happen) spends
// its CPU on HTTP-cache and retry machinery a private subgraph call never uses; node-fetch over
// one keep-alive agent per subgraph reuses warm connections and costs far less per request.
import { Agent } from 'node:http';
import { RemoteGraphQLDataSource } from '@apollo/gateway';
import nodeFetch from 'node-fetch';
import { IDENTITY_ASSERTION_HEADER } from '@tatkal/common';
import type { GatewayContext } from './server.ts';

type Fetcher = NonNullable<NonNullable<ConstructorParameters<typeof RemoteGraphQLDataSource>[0]>['fetcher']>;

export interface SubgraphConnectionOptions {
  /** Open connections per subgraph at most; requests beyond wait in the agent's queue. */
  maxSockets: number;
}

export const DEFAULT_SUBGRAPH_CONNECTIONS: SubgraphConnectionOptions = { maxSockets: 128 };

/** A data source that forwards only what the gateway itself vouches for. */
export function subgraphDataSource(url: string, opts: SubgraphConnectionOptions = DEFAULT_SUBGRAPH_CONNECTIONS) {
  // Subgraphs keep idle connections 65 s (packages/common/src/http.ts); closing ours after 30 s
  // means the gateway never reuses a socket the subgraph is just closing.
  const agent = new Agent({ keepAlive: true, keepAliveMsecs: 1_000, maxSockets: opts.maxSockets, maxFreeSockets: opts.maxSockets, timeout: 30_000 });
  const fetcher = ((input: string, init?: Parameters<Fetcher>[1]) => nodeFetch(input, { ...(init as object), agent })) as unknown as Fetcher;
  return Object.assign(
    new RemoteGraphQLDataSource<GatewayContext>({
      url,
      fetcher,
      willSendRequest: ({ request, context }) => {
        // Never client headers: the request id, the verified token and the socket address only.
        if (context.requestId) request.http?.headers.set('x-request-id', context.requestId);
        if (context.authorization) request.http?.headers.set('authorization', context.authorization);
        if (context.identityAssertion) request.http?.headers.set(IDENTITY_ASSERTION_HEADER, context.identityAssertion);
        // Set from the socket, never copied from the client: subgraphs rate limit by it.
        if (context.clientIp) request.http?.headers.set('x-forwarded-for', context.clientIp);
      },
    }),
    { agent },
  );
}
