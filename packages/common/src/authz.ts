// graphql-shield rules every subgraph shares. Resolver errors pass through untouched
// (allowExternalErrors); a denied rule gives FORBIDDEN or UNAUTHENTICATED, never data.
import { middleware } from 'graphql-middleware';
import { allow, chain, deny, rule, shield } from 'graphql-shield';
import type { IRules } from 'graphql-shield';
import { forbidden, unauthenticated } from './errors.ts';
import type { RequestContext } from './context.ts';
import type { Identity } from './identity.ts';

/** Ownership, checked on the records: their owner and admins may read them; to anyone else they do not exist. */
export function canRead(identity: Identity | null, ownerId: string): boolean {
  return !!identity && (identity.role === 'ADMIN' || identity.userId === ownerId);
}

export const isAuthenticated = rule({ cache: 'contextual' })((_parent, _args, ctx: RequestContext) =>
  ctx.identity ? true : unauthenticated(),
);

export const isAdmin = rule({ cache: 'contextual' })((_parent, _args, ctx: RequestContext) =>
  !ctx.identity ? unauthenticated() : ctx.identity.role === 'ADMIN' ? true : forbidden('Administrators only'),
);

// chain: rules in order, stopping at the first refusal (a rate limit counts only signed-in calls).
export { allow, chain, deny };

/**
 * Builds the permission middleware. Reads are allowed unless listed; every mutation must be
 * listed: unlisted ones are denied (`Mutation: { '*': deny }` is added when the schema has a
 * Mutation type; shield refuses rules for types a schema lacks, e.g. search has no mutations).
 */
export function permissions(rules: IRules & { Mutation?: Record<string, unknown> }) {
  return middleware((schema) => {
    const { Mutation: mutationRules, ...rest } = rules as { Mutation?: object } & Record<string, unknown>;
    const tree = (
      schema.getMutationType() || mutationRules ? { ...rest, Mutation: { '*': deny, ...(mutationRules ?? {}) } } : rest
    ) as IRules;
    return shield(tree, {
      allowExternalErrors: true,
      fallbackRule: allow,
      fallbackError: () => forbidden(),
    }).generate(schema);
  });
}
