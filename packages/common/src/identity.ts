import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { AppError, ErrorCode } from './errors.ts';

// Thrown from the context function: Apollo turns it into an HTTP 401 response.
const unauthenticatedHttp = (message: string) => new AppError(ErrorCode.UNAUTHENTICATED, message, { http: { status: 401 } });

export type Role = 'CUSTOMER' | 'ADMIN';
export interface Identity {
  userId: string;
  role: Role;
  tokenId: string;
}

export const TOKEN_ALGORITHMS = ['EdDSA'];

export interface VerifierOptions {
  /** The auth subgraph's JWKS endpoint (cached; refetched on an unknown `kid`). */
  jwksUrl?: string;
  /** Or a key set given directly (tests). */
  jwks?: JSONWebKeySet;
  issuer: string;
  audience: string;
  /** Least time between two JWKS fetches (an unknown `kid` triggers one); jose's default is 30 s. */
  jwksCooldownMs?: number;
}

export type TokenVerifier = (authorization: string | undefined) => Promise<Identity | null>;

/**
 * Verifies `Authorization: Bearer <jwt>`. No header -> anonymous (null). Any token that is
 * present but not valid (wrong key, `alg: none`, expired, other issuer/audience) -> UNAUTHENTICATED.
 * Subgraphs verify the token again themselves, so an identity header sent straight to a
 * subgraph is never trusted.
 */
export function createTokenVerifier(opts: VerifierOptions): TokenVerifier {
  let keys: JWTVerifyGetKey;
  if (opts.jwks) keys = createLocalJWKSet(opts.jwks);
  else if (opts.jwksUrl) keys = createRemoteJWKSet(new URL(opts.jwksUrl), { cooldownDuration: opts.jwksCooldownMs ?? 30_000, cacheMaxAge: 600_000 });
  else throw new Error('createTokenVerifier needs jwksUrl or jwks');

  return async (authorization) => {
    if (!authorization) return null;
    const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)$/.exec(authorization.trim());
    if (!match) throw unauthenticatedHttp('Malformed Authorization header: expected "Bearer <token>"');
    try {
      const { payload } = await jwtVerify(match[1]!, keys, {
        issuer: opts.issuer,
        audience: opts.audience,
        algorithms: TOKEN_ALGORITHMS,
        requiredClaims: ['sub', 'exp', 'iat', 'jti'],
      });
      const role = payload.role;
      if (role !== 'CUSTOMER' && role !== 'ADMIN') throw new Error('bad role claim');
      return { userId: payload.sub!, role, tokenId: payload.jti! };
    } catch {
      throw unauthenticatedHttp('Invalid or expired access token');
    }
  };
}
