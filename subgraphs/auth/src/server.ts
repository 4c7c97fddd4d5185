import {
  chain,
  createSubgraphServer,
  isAdmin,
  isAuthenticated,
  loadSchemaFile,
  permissions,
  rateLimit,
  type Logger,
  type RateLimit,
} from '@tatkal/common';
import type { AuthContext } from './context.ts';
import { normalizeEmail } from './domain/sessions.ts';
import { resolvers } from './resolvers/index.ts';

export const typeDefs = loadSchemaFile(new URL('./schema.graphql', import.meta.url));

export interface AuthRateLimits {
  login: RateLimit;
  register: RateLimit;
}

export const DEFAULT_AUTH_RATE_LIMITS: AuthRateLimits = {
  login: { max: 10, windowMs: 60_000 },
  register: { max: 5, windowMs: 60_000 },
};

/**
 * Reads stay open (`me` is null when anonymous; `users` checks the role itself). Every mutation is
 * listed: login and register are rate limited (the counters live in the request context's store,
 * so tests that call `executeOperation` without one are not limited).
 */
export function authPermissions(limits: AuthRateLimits = DEFAULT_AUTH_RATE_LIMITS) {
  return permissions({
    Mutation: {
      // Per (ip, email): one address cannot guess at many passwords, nor lock out a victim from everywhere.
      login: rateLimit({
        per: 'ip',
        ...limits.login,
        identityArgs: ['email'],
        normalizeArgs: (args) => ({ email: typeof args.email === 'string' ? normalizeEmail(args.email) : '' }),
      }),
      register: rateLimit({ per: 'ip', ...limits.register }),
      refreshSession: rateLimit({ per: 'ip', max: 60, windowMs: 60_000 }),
      logout: rateLimit({ per: 'ip', max: 60, windowMs: 60_000 }),
      // The one-a-minute resend limit is the domain's (its own code); this bounds SMS spend per user
      // across keys and the guessing a user's tokens allow (5 wrong codes kill a code anyway).
      requestIdentityCode: chain(isAuthenticated, rateLimit({ per: 'user', max: 10, windowMs: 3_600_000 })),
      verifyIdentity: chain(isAuthenticated, rateLimit({ per: 'user', max: 30, windowMs: 3_600_000 })),
      setUserRole: isAdmin,
    },
  });
}

export function buildAuthServer(opts: { logger: Logger; production: boolean; rateLimits?: AuthRateLimits }) {
  return createSubgraphServer<AuthContext>({
    name: 'auth',
    typeDefs,
    resolvers,
    middleware: [authPermissions(opts.rateLimits)],
    logger: opts.logger,
    production: opts.production,
  });
}
