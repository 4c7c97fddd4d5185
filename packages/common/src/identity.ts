import { createHmac, timingSafeEqual } from 'node:crypto';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { ConfigError } from './config.ts';
import { AppError, ErrorCode } from './errors.ts';
import { counter } from './telemetry.ts';

// Thrown from the context function: Apollo turns it into an HTTP 401 response.
const unauthenticatedHttp = (message: string) =>
  new AppError(ErrorCode.UNAUTHENTICATED, message, { http: { status: 401 } });

export const ROLES = ['CUSTOMER', 'AGENT', 'ADMIN'] as const;
export type Role = (typeof ROLES)[number];
export const isRole = (value: unknown): value is Role => (ROLES as readonly unknown[]).includes(value);
export interface Identity {
  userId: string;
  role: Role;
  tokenId: string;
  /**
   * The user proved their phone with a one-time code (auth's verifyIdentity) before this token was
   * issued: only such accounts may book Tatkal.
   */
  verified: boolean;
}

/**
 * A token's or an assertion's `verified` claim: absent is false (tokens and gateways from before
 * the claim existed: never more than they said), anything but a boolean is refused (undefined).
 */
const verifiedClaim = (value: unknown): boolean | undefined =>
  value === undefined ? false : typeof value === 'boolean' ? value : undefined;

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
  help:
    'Bearer tokens checked, by result: verified (signature checked), cached (verified before), ' +
    'asserted (the gateway identity a subgraph accepted), refused',
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
  else if (opts.jwksUrl)
    keys = createRemoteJWKSet(new URL(opts.jwksUrl), {
      cooldownDuration: opts.jwksCooldownMs ?? 30_000,
      cacheMaxAge: 600_000,
    });
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
      if (!isRole(role)) throw new Error('bad role claim');
      const isVerified = verifiedClaim(payload.verified);
      if (isVerified === undefined) throw new Error('bad verified claim');
      const identity: Identity = { userId: payload.sub!, role, tokenId: payload.jti!, verified: isVerified };
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

// ─────────────── the gateway's signature, on every request it sends a subgraph ───────────────

/**
 * Header the gateway sends to subgraphs: who calls (the identity it verified, or none) and from
 * where, signed with a shared secret.
 */
export const IDENTITY_ASSERTION_HEADER = 'x-tatkal-identity';
/** Long enough for a subgraph to receive a forwarded request; not a session. */
const ASSERTION_TTL_S = 30;
const VERSION = 'v2';

/** What the gateway vouches for: the verified identity (null: anonymous) and the client's address. */
export interface Caller {
  identity: Identity | null;
  clientIp: string;
}

export interface IdentityAssertions {
  /**
   * `v2.<claims, base64url JSON>.<HMAC-SHA256 over the version, the bearer header ('' when
   * anonymous) and the claims>`
   */
  sign(caller: Caller, authorization: string | undefined, nowMs?: number): string;
  /** The caller in a valid assertion made for this bearer header (or its absence); UNAUTHENTICATED (401) otherwise. */
  verify(assertion: string, authorization: string | undefined, nowMs?: number): Caller;
}

/**
 * The gateway signs every request it sends a subgraph, anonymous ones included, with a secret
 * only the gateway and the subgraphs hold. A subgraph learns from it, in microseconds, who calls
 * (the claims of the token the gateway verified: no Ed25519 check again) and the client's
 * address (its rate limits key on it; no x-forwarded-for is believed). The MAC covers the bearer
 * header, or its absence, so an assertion is valid only with the token it was made from, or with
 * none, and for ASSERTION_TTL_S. Without the secret nobody can make one.
 */
export function createIdentityAssertions(secret: string): IdentityAssertions {
  if (Buffer.byteLength(secret) < 32) throw new Error('The identity assertion secret must be at least 32 bytes');
  const mac = (authorization: string, claims: string) =>
    createHmac('sha256', secret)
      .update(VERSION)
      .update('\n')
      .update(authorization)
      .update('\n')
      .update(claims)
      .digest();
  return {
    sign({ identity, clientIp }, authorization, nowMs = Date.now()) {
      const exp = Math.floor(nowMs / 1000) + ASSERTION_TTL_S;
      const body = identity
        ? {
            sub: identity.userId,
            role: identity.role,
            jti: identity.tokenId,
            verified: identity.verified,
            ip: clientIp,
            exp,
          }
        : { ip: clientIp, exp };
      const claims = Buffer.from(JSON.stringify(body)).toString('base64url');
      return `${VERSION}.${claims}.${mac(authorization ?? '', claims).toString('base64url')}`;
    },
    verify(assertion, authorization, nowMs = Date.now()) {
      const [version, claims, signature, extra] = assertion.split('.');
      if (version !== VERSION || !claims || !signature || extra !== undefined) return refuse();
      const expected = mac(authorization ?? '', claims);
      const given = Buffer.from(signature, 'base64url');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return refuse();
      const { sub, role, jti, verified, ip, exp } = JSON.parse(
        Buffer.from(claims, 'base64url').toString('utf8'),
      ) as Record<string, unknown>;
      if (typeof exp !== 'number' || exp * 1000 <= nowMs || typeof ip !== 'string') return refuse();
      if (sub === undefined && !authorization) return { identity: null, clientIp: ip };
      const isVerified = verifiedClaim(verified);
      if (
        typeof sub !== 'string' ||
        typeof jti !== 'string' ||
        !isRole(role) ||
        isVerified === undefined ||
        !authorization
      )
        return refuse();
      tokenVerifications.inc({ result: 'asserted' });
      return { identity: { userId: sub, role, tokenId: jti, verified: isVerified }, clientIp: ip };
    },
  };
}

/** The assertions for a configured secret, or none. */
export const identityAssertionsFor = (secret: string | undefined) =>
  secret ? createIdentityAssertions(secret) : undefined;

function refuse(): never {
  tokenVerifications.inc({ result: 'refused' });
  throw unauthenticatedHttp('Invalid identity assertion');
}

export interface SubgraphCallerOptions {
  verifyToken: TokenVerifier;
  /** The shared secret's assertions; unset: no header can be checked, so none is believed. */
  assertions?: IdentityAssertions;
  /**
   * Refuse (401) any request without a valid assertion: production, where only the gateway may
   * call. Needs `assertions`: without them nothing could be answered, so the caller is not built.
   */
  requireSignature?: boolean;
}

/**
 * How a subgraph learns who calls and from where: the gateway's signed assertion when it sent one
 * (and this subgraph holds the secret); else, unless a signature is required, the bearer token
 * verified here and the socket's own address (no forwarded header is believed). An assertion this
 * subgraph cannot check is ignored, never trusted.
 */
export function subgraphCaller(opts: SubgraphCallerOptions) {
  const { verifyToken, assertions } = opts;
  const required = Boolean(opts.requireSignature);
  // Fails closed: without the secret it could not tell the gateway from any other caller.
  if (required && !assertions)
    throw new ConfigError('invalid configuration: IDENTITY_ASSERTION_SECRET: required to answer the gateway only');
  return async (
    headers: Record<string, string | string[] | undefined>,
    socketIp: string,
  ): Promise<Caller & { signed: boolean }> => {
    const assertion = headers[IDENTITY_ASSERTION_HEADER];
    const authorization = headers.authorization as string | undefined;
    if (assertions && typeof assertion === 'string')
      return { ...assertions.verify(assertion, authorization), signed: true };
    if (required) {
      tokenVerifications.inc({ result: 'refused' });
      throw unauthenticatedHttp('This service answers the gateway only');
    }
    return { identity: await verifyToken(authorization), clientIp: socketIp, signed: false };
  };
}
