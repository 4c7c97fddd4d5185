import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { Logger } from './logger.ts';

/**
 * One log line per GraphQL operation in every process: requestId (from the request's logger),
 * operationName (as the client named it: informational only), duration and outcome.
 */
export function operationLogPlugin<TContext extends BaseContext & { log?: Logger }>(
  logger: Logger,
): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart({ contextValue }) {
      const started = performance.now();
      const log = contextValue.log ?? logger;
      return {
        async willSendResponse({ response, operationName, request, operation }) {
          const result = response.body.kind === 'single' ? response.body.singleResult : undefined;
          const errors = result?.errors ?? [];
          const errorCodes = [...new Set(errors.map((e) => String(e.extensions?.code ?? 'UNKNOWN')))];
          const outcome = errors.length === 0 ? 'ok' : result?.data ? 'partial' : 'error';
          log.info(
            {
              operationName: operationName ?? request.operationName ?? null,
              operationType: operation?.operation ?? null,
              durationMs: Math.round((performance.now() - started) * 10) / 10,
              outcome,
              ...(errorCodes.length ? { errorCodes } : {}),
              status: response.http.status ?? 200,
            },
            'graphql operation',
          );
        },
      };
    },
  };
}
