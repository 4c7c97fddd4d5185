// graphql-shield rules every subgraph shares. Resolver errors pass through untouched
// (allowExternalErrors); a denied rule gives FORBIDDEN or UNAUTHENTICATED, never data.
import { allow, deny, rule, shield } from 'graphql-shield';
import type { IRules } from 'graphql-shield';
import { forbidden, unauthenticated } from './errors.ts';
import type { RequestContext } from './subgraph.ts';

export const isAuthenticated = rule({ cache: 'contextual' })((_parent, _args, ctx: RequestContext) =>
  ctx.identity ? true : unauthenticated(),
);

export const isAdmin = rule({ cache: 'contextual' })((_parent, _args, ctx: RequestContext) =>
  !ctx.identity ? unauthenticated() : ctx.identity.role === 'ADMIN' ? true : forbidden('Administrators only'),
);

export { allow, deny };

/**
 * Builds the permission middleware. Every mutation must be listed: unlisted ones are denied
 * (`Mutation: { '*': deny }` is added as the fallback for the Mutation type).
 */
export function permissions(rules: IRules & { Mutation?: Record<string, unknown> }) {
  const tree = { ...rules, Mutation: { '*': deny, ...((rules as { Mutation?: object }).Mutation ?? {}) } } as IRules;
  return shield(tree, {
    allowExternalErrors: true,
    fallbackRule: allow,
    fallbackError: () => forbidden(),
  });
}
