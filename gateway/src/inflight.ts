// Identical subgraph queries in flight at the same time are sent once (Hive's
// `deduplicateInflightRequests`, the Router's `deduplicate_query`): at a Tatkal opening thousands
// ask the same run's availability in the same second, and each would cost the subgraph and
// PostgreSQL the same work for the same answer. Only the HTTP answer's bytes are shared: every
// caller parses its own copy (the gateway merges later fetches into the objects it gets, so two
// requests must never hold the same ones). Nothing is kept once the answer is in: this is not a cache.
import type { GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { counter } from '@tatkal/common';
import type { GatewayContext } from './context.ts';

/** A subgraph's HTTP answer as received, before anything is parsed. */
export interface RawAnswer {
  status: number;
  contentType: string;
  text: string;
}

const subgraphFetches = counter<'subgraph' | 'shared'>({
  name: 'tatkal_gateway_subgraph_fetches_total',
  help: 'Subgraph fetches: shared="false" sent, shared="true" answered by an identical query in flight',
  labelNames: ['subgraph', 'shared'],
});

// The enum is not exported from @apollo/gateway's root.
const INCOMING_OPERATION = 'incoming operation';
// What the query planner writes for a query's fetch (`query Name__search__0(...)` or `{...}`).
const QUERY_TEXT = /^\s*(?:query\b|\{)/;

/**
 * The key of a fetch that may share an identical one's answer, or null when it must go alone.
 * Only fetches of a client's query (never of a mutation: its later fetches must see its own
 * effects, and a mutation must run once per call); keyed by all the subgraph is told that decides
 * the answer: the text, operation name, variables, extensions, the bearer header and the identity
 * the gateway verified from it. Anonymous callers share with anonymous callers only. Not in the
 * key: the request id and the client's address (signed in the assertion), which no query's answer
 * depends on (the subgraphs' per-address limits are on mutations), and the assertion's expiry.
 */
export function sharedFetchKey(options: GraphQLDataSourceProcessOptions<GatewayContext>): string | null {
  if ((options.kind as string) !== INCOMING_OPERATION || !('incomingRequestContext' in options)) return null;
  if (options.incomingRequestContext.operation?.operation !== 'query') return null;
  const { query, operationName, variables, extensions } = options.request;
  if (!query || !QUERY_TEXT.test(query)) return null;
  const { authorization, identity } = options.context;
  const who = identity ? [identity.userId, identity.role, identity.tokenId, identity.verified] : null;
  return JSON.stringify([
    query,
    operationName ?? null,
    variables ?? null,
    extensions ?? null,
    authorization ?? null,
    who,
  ]);
}

/** The fetches of one subgraph now in flight, by key: the first caller sends, the others wait for its answer. */
export function inflightFetches(subgraph: string) {
  const pending = new Map<string, Promise<RawAnswer>>();
  const sent = subgraphFetches.labels(subgraph, 'false');
  const shared = subgraphFetches.labels(subgraph, 'true');
  return {
    /** `send()`'s answer, or the answer of an identical fetch already in flight; a failure reaches every caller. */
    run(key: string | null, send: () => Promise<RawAnswer>): Promise<RawAnswer> {
      const inFlight = key === null ? undefined : pending.get(key);
      if (inFlight) {
        shared.inc();
        return inFlight;
      }
      sent.inc();
      if (key === null) return send();
      const answer = send().finally(() => pending.delete(key));
      pending.set(key, answer);
      return answer;
    },
    /** Fetches now in flight that others may join (tests). */
    get size() {
      return pending.size;
    },
  };
}
