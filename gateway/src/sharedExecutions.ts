// Identical client queries in flight at the same moment run once: the whole query plan, not only
// each subgraph fetch (inflight.ts). At an opening thousands poll the same train's availability
// with the same query and variables; each would cost the gateway the plan's execution (fetches,
// merging, shaping the answer) for the same result. Every caller still goes through its own HTTP
// request, rate limits, parsing, validation, cost and input checks; only execution is shared, and
// nothing outlives it (not a cache). The result is shared read-only: Apollo Server copies it
// shallowly and formats its errors per request, and nothing in this gateway writes to it.
import type { ApolloGateway } from '@apollo/gateway';
import { counter } from '@tatkal/common';
import type { GatewayContext } from './context.ts';

// @apollo/server-gateway-interface's types, as ApolloGateway implements them.
type GatewayInterface = Pick<ApolloGateway, 'load' | 'onSchemaLoadOrUpdate' | 'stop'>;
type GatewayExecutor = NonNullable<Awaited<ReturnType<ApolloGateway['load']>>['executor']>;
type GatewayExecutionResult = Awaited<ReturnType<GatewayExecutor>>;
type RequestContext = Parameters<GatewayExecutor>[0] & { context: GatewayContext };

const executions = counter<'shared'>({
  name: 'tatkal_gateway_query_executions_total',
  help: 'Client queries executed: shared="true" answered by an identical query already executing',
  labelNames: ['shared'],
});

/**
 * The key of a client operation that may share an identical one's execution, or null. Queries
 * only; the same document (by hash), operation name and variables, for the same bearer header and
 * verified identity (anonymous callers with anonymous callers only), as for subgraph fetches.
 */
export function sharedOperationKey(ctx: RequestContext): string | null {
  if (ctx.operation?.operation !== 'query' || !ctx.queryHash) return null;
  const { authorization, identity } = ctx.context;
  const who = identity ? [identity.userId, identity.role, identity.tokenId, identity.verified] : null;
  return JSON.stringify([
    ctx.queryHash,
    ctx.operationName ?? null,
    ctx.request.variables ?? null,
    authorization ?? null,
    who,
  ]);
}

/** `gateway` whose executor runs identical queries in flight once. */
export function sharedExecutions(gateway: GatewayInterface): GatewayInterface {
  const pending = new Map<string, Promise<GatewayExecutionResult>>();
  const sent = executions.labels('false');
  const shared = executions.labels('true');
  const share =
    (execute: GatewayExecutor): GatewayExecutor =>
    (ctx) => {
      const key = sharedOperationKey(ctx as RequestContext);
      const running = key === null ? undefined : pending.get(key);
      if (running) {
        shared.inc();
        return running;
      }
      sent.inc();
      if (key === null) return execute(ctx);
      const result = execute(ctx).finally(() => pending.delete(key));
      pending.set(key, result);
      return result;
    };
  return {
    load: async (options) => {
      const loaded = await gateway.load(options);
      return { ...loaded, executor: loaded.executor && share(loaded.executor) };
    },
    onSchemaLoadOrUpdate: (callback) => gateway.onSchemaLoadOrUpdate(callback),
    stop: () => gateway.stop(),
  };
}
