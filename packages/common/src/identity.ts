import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { AppError, ErrorCode } from './errors.ts';
import { counter } from './telemetry.ts';

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
  /**
   * How long a verified token is answered from memory (never past its `exp`); 0 turns it off.
   * A key removed from the JWKS stops being honoured within this time.
   */
  cacheTtlMs?: number;
  /** Verified tokens kept at most (oldest dropped first). */
  cacheMax?: number;
  /** The clock (tests). */
  now?: () => number;
}

export const tokenVerifications = counter({
  name: 'tatkal_token_verifications_total',
  help: 'Bearer tokens checked, by result: verified (signature checked), cached (verified before), refused',
  labelNames: ['result'] as const,
});

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

  // A user's search, reserve and pay all carry the same token: its signature is checked once
  // (an Ed25519 verification costs more CPU than the rest of the auth step) and remembered.
  const now = opts.now ?? Date.now;
  const ttlMs = opts.cacheTtlMs ?? 60_000;
  const max = opts.cacheMax ?? 50_000;
  const verified = new Map<string, { identity: Identity; until: number }>();

  return async (authorization) => {
    if (!authorization) return null;
    const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)$/.exec(authorization.trim());
    if (!match) throw unauthenticatedHttp('Malformed Authorization header: expected "Bearer <token>"');
    const token = match[1]!;
    const at = now();
    const hit = verified.get(token);
    if (hit && at < hit.until) {
      tokenVerifications.inc({ result: 'cached' });
      return hit.identity;
    }
    if (hit) verified.delete(token);
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: opts.issuer,
        audience: opts.audience,
        algorithms: TOKEN_ALGORITHMS,
        requiredClaims: ['sub', 'exp', 'iat', 'jti'],
        currentDate: new Date(at),
      });
      const role = payload.role;
      if (role !== 'CUSTOMER' && role !== 'ADMIN') throw new Error('bad role claim');
      const identity: Identity = { userId: payload.sub!, role, tokenId: payload.jti! };
      if (ttlMs > 0) {
        if (verified.size >= max) verified.delete(verified.keys().next().value!);
        verified.set(token, { identity, until: Math.min(at + ttlMs, payload.exp! * 1000) });
      }
      tokenVerifications.inc({ result: 'verified' });
      return identity;
    } catch {
      tokenVerifications.inc({ result: 'refused' });
      throw unauthenticatedHttp('Invalid or expired access token');
    }
  };
}
