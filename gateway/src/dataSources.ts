// How the gateway talks to its subgraphs: one undici connection pool per subgraph (keep-alive,
// bounded), a JSON POST per fetch. Apollo's RemoteGraphQLDataSource builds node-fetch Headers, a
// Request it never sends and a stream-piped response per call; in the rush's profiles that was
// the biggest part of the gateway's own work per request after Apollo's. A GraphQL answer is
// passed on whatever its HTTP status (Apollo Server answers a refused variable with 400 and
// `errors`: the client must see that BAD_USER_INPUT, not "400: Bad Request"); anything else that
// is not 2xx is shaped as RemoteGraphQLDataSource shapes it. Identical queries in flight at once
// are sent once (inflight.ts).
import { STATUS_CODES } from 'node:http';
import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { GraphQLError } from 'graphql';
import { Pool } from 'undici';
import { IDENTITY_ASSERTION_HEADER } from '@tatkal/common';
import type { GatewayContext } from './context.ts';
import { inflightFetches, type RawAnswer, sharedFetchKey } from './inflight.ts';

type GatewayGraphQLResponse = Awaited<ReturnType<GraphQLDataSource['process']>>;

export interface SubgraphConnectionOptions {
  /** Open connections per subgraph at most; requests beyond wait in the pool's queue. */
  maxSockets: number;
  /** Identical queries in flight at once are sent once (inflight.ts); default true. */
  deduplicateQueries?: boolean;
}

export const DEFAULT_SUBGRAPH_CONNECTIONS: SubgraphConnectionOptions = { maxSockets: 128 };

export interface SubgraphDataSource extends GraphQLDataSource<GatewayContext> {
  /** Closes the pool's connections (gateway shutdown). */
  close(): Promise<void>;
}

/** A data source that forwards only what the gateway itself vouches for. */
export function subgraphDataSource(
  url: string,
  opts: SubgraphConnectionOptions = DEFAULT_SUBGRAPH_CONNECTIONS,
  name = new URL(url).host,
): SubgraphDataSource {
  const target = new URL(url);
  const path = `${target.pathname}${target.search}`;
  // Subgraphs keep idle connections 65 s (packages/common/src/http.ts); closing ours after 30 s
  // means the gateway never reuses a socket the subgraph is just closing.
  const pool = new Pool(target.origin, {
    connections: opts.maxSockets,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 30_000,
  });
  const inflight = inflightFetches(name);
  const deduplicate = opts.deduplicateQueries ?? true;

  const send = async (options: GraphQLDataSourceProcessOptions<GatewayContext>): Promise<RawAnswer> => {
    const { request, context } = options;
    // Never client headers: the request id, the verified token and the gateway's signature over
    // it (or over its absence) and the client's address, which subgraphs rate limit by.
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (context.requestId) headers['x-request-id'] = context.requestId;
    if (context.authorization) headers.authorization = context.authorization;
    if (context.identityAssertion) headers[IDENTITY_ASSERTION_HEADER] = context.identityAssertion;
    const { query, variables, operationName, extensions } = request;
    const res = await pool.request({
      path,
      method: 'POST',
      headers,
      body: JSON.stringify({ query, variables, operationName, extensions }),
    });
    return {
      status: res.statusCode,
      contentType: String(res.headers['content-type'] ?? ''),
      text: await res.body.text(),
    };
  };

  return {
    async process(options: GraphQLDataSourceProcessOptions<GatewayContext>): Promise<GatewayGraphQLResponse> {
      if (!options.request.query) throw new Error('Missing query');
      const key = deduplicate ? sharedFetchKey(options) : null;
      return answerOf(await inflight.run(key, () => send(options)), url);
    },
    close: () => pool.close(),
  };
}

/** The GraphQL response in a subgraph's HTTP answer, parsed for this caller alone. */
function answerOf({ status, contentType, text }: RawAnswer, url: string): GatewayGraphQLResponse {
  const isJson =
    contentType.startsWith('application/json') || contentType.startsWith('application/graphql-response+json');
  const body: unknown = isJson ? parseJson(text) : text;
  if (status < 200 || status > 299) {
    if (isGraphQLResponse(body)) return body;
    const statusText = STATUS_CODES[status] ?? '';
    const code = status === 401 ? 'UNAUTHENTICATED' : status === 403 ? 'FORBIDDEN' : undefined;
    throw new GraphQLError(`${status}: ${statusText}`, {
      extensions: { response: { url, status, statusText, body }, ...(code ? { code } : {}) },
    });
  }
  if (typeof body !== 'object' || body === null) throw new Error(`Expected JSON response body, but received: ${text}`);
  return body as GatewayGraphQLResponse;
}

/** Not JSON despite its content type: kept as text, so the shaped error shows it. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** `{ errors: [...] }` (with or without data), as a GraphQL server answers over HTTP. */
function isGraphQLResponse(body: unknown): body is GatewayGraphQLResponse {
  if (typeof body !== 'object' || body === null) return false;
  const errors = (body as { errors?: unknown }).errors;
  return (
    Array.isArray(errors) &&
    errors.length > 0 &&
    errors.every((e) => typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string')
  );
}
