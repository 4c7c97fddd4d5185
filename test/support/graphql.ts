import assert from 'node:assert';
import type { ApolloServer, BaseContext, GraphQLResponse } from '@apollo/server';

/** Runs an operation through `executeOperation` and returns its single result (a streamed one fails the test). */
export async function execute<TContext extends BaseContext>(
  server: ApolloServer<TContext>,
  query: string,
  variables: Record<string, unknown>,
  contextValue: TContext,
) {
  const res: GraphQLResponse = await server.executeOperation({ query, variables }, { contextValue });
  assert(res.body.kind === 'single');
  return res.body.singleResult as {
    // biome-ignore lint/suspicious/noExplicitAny: tests read results field by field, as the schema shapes them.
    data?: Record<string, any> | null;
    errors?: { message: string; extensions?: Record<string, unknown> }[];
  };
}

export function errorCodes(result: { errors?: { extensions?: Record<string, unknown> }[] }): unknown[] {
  return (result.errors ?? []).map((e) => e.extensions?.code);
}

export type GatewayResult = {
  // biome-ignore lint/suspicious/noExplicitAny: tests read results field by field, as the schema shapes them.
  data?: Record<string, any> | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
};

/** POSTs operations to a gateway URL as a front end would, with an optional bearer token. */
export function gatewayClient(url: () => string) {
  return async (query: string, variables: Record<string, unknown> = {}, token?: string): Promise<GatewayResult> => {
    const res = await fetch(url(), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as GatewayResult;
  };
}
