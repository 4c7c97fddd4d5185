// Registration, login and refresh-token rotation.
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { z } from 'zod';
import type { Prisma, PrismaClient, User } from '@tatkal/db';
import { AppError, badInput, ErrorCode, prismaErrorCode, unauthenticated, uniqueViolation } from '@tatkal/common';
import type { SigningKey } from './keys.ts';
import { DUMMY_HASH, hashPassword, passwordProblem, verifyPassword } from './passwords.ts';

export interface SessionSettings {
  issuer: string;
  audience: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlDays: number;
  /**
   * A rotated refresh token presented again within this many seconds, while its successor is
   * unused, gets the successor again (a retry after a lost answer); later, or once the successor
   * was used, it is reuse and revokes the family. 0 turns the grace off. Default 10.
   */
  refreshReuseGraceSeconds?: number;
}

export const DEFAULT_REFRESH_REUSE_GRACE_SECONDS = 10;

export interface SessionDeps {
  prisma: PrismaClient;
  keys: SigningKey[];
  settings: SessionSettings;
}

export interface Session {
  user: User;
  accessToken: string;
  accessTokenExpiresAt: Date;
  refreshToken: string;
  refreshTokenExpiresAt: Date;
}

const emailSchema = z.email().max(254);
export const normalizeEmail = (email: string) => email.trim().toLowerCase();
const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

const registerSchema = z.object({
  email: z.string().transform(normalizeEmail).pipe(emailSchema),
  password: z.string(),
  name: z.string().trim().min(1, 'Name is required').max(100, 'Name must be at most 100 characters'),
  phone: z
    .string()
    .trim()
    .regex(/^\+91[6-9]\d{9}$/, 'Phone must be an Indian mobile number like +919876543210')
    .nullish(),
});

type Db = PrismaClient | Prisma.TransactionClient;

/**
 * An access token with the user's current claims: `role`, and `verified` (identity proved by a
 * one-time code, packages/common/src/identity.ts); every token auth issues reads them from the row.
 */
export async function signAccessToken(
  deps: SessionDeps,
  user: User,
): Promise<{ accessToken: string; accessTokenExpiresAt: Date }> {
  const now = Math.floor(Date.now() / 1000);
  const signer = deps.keys[0]!;
  const accessTokenExpiresAt = new Date((now + deps.settings.accessTokenTtlSeconds) * 1000);
  const accessToken = await new SignJWT({ role: user.role, verified: user.identityVerifiedAt !== null })
    .setProtectedHeader({ alg: 'EdDSA', kid: signer.kid, typ: 'JWT' })
    .setIssuer(deps.settings.issuer)
    .setAudience(deps.settings.audience)
    .setSubject(user.id)
    .setIssuedAt(now)
    .setExpirationTime(accessTokenExpiresAt)
    .setJti(randomUUID())
    .sign(signer.privateKey);
  return { accessToken, accessTokenExpiresAt };
}

async function issueSession(
  deps: SessionDeps,
  user: User,
  familyId: string = randomUUID(),
  db: Db = deps.prisma,
): Promise<Session & { tokenId: string }> {
  const { accessToken, accessTokenExpiresAt } = await signAccessToken(deps, user);
  const refreshToken = randomBytes(32).toString('base64url');
  const refreshTokenExpiresAt = new Date(Date.now() + deps.settings.refreshTokenTtlDays * 86_400_000);
  const row = await db.refreshToken.create({
    data: { userId: user.id, familyId, tokenHash: sha256(refreshToken), expiresAt: refreshTokenExpiresAt },
    select: { id: true },
  });
  return { user, accessToken, accessTokenExpiresAt, refreshToken, refreshTokenExpiresAt, tokenId: row.id };
}

// The successor pair, kept for the grace window, sealed with a key derived from the token it
// replaced: the database holds only that token's hash, so its rows alone cannot be opened.
type SealedPair = Omit<Session, 'user'>;
const sealKey = (refreshToken: string) =>
  Buffer.from(hkdfSync('sha256', refreshToken, '', 'tatkal refresh successor v1', 32));

function seal(refreshToken: string, pair: SealedPair): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealKey(refreshToken), iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(pair), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

function unseal(refreshToken: string, sealed: string): SealedPair {
  const raw = Buffer.from(sealed, 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', sealKey(refreshToken), raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  const pair = JSON.parse(
    Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8'),
  ) as SealedPair;
  return {
    ...pair,
    accessTokenExpiresAt: new Date(pair.accessTokenExpiresAt),
    refreshTokenExpiresAt: new Date(pair.refreshTokenExpiresAt),
  };
}

export async function register(
  deps: SessionDeps,
  input: { email: string; password: string; name: string; phone?: string | null },
): Promise<Session> {
  const parsed = registerSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = String(issue.path[0] ?? 'input');
    throw badInput(field === 'email' ? 'Email address is not valid' : issue.message, field);
  }
  const weak = passwordProblem(input.password);
  if (weak) throw badInput(weak, 'password');
  const passwordHash = await hashPassword(input.password);
  let user: User;
  try {
    user = await deps.prisma.user.create({
      data: { email: parsed.data.email, name: parsed.data.name, phone: parsed.data.phone ?? null, passwordHash },
    });
  } catch (err) {
    if (prismaErrorCode(err) === 'P2002') {
      // One account per email and per mobile number (docs/api.md, "Limits per person").
      if (uniqueViolation(err)?.includes('phone'))
        throw new AppError(ErrorCode.PHONE_IN_USE, 'Another account has this mobile number', { field: 'phone' });
      throw badInput('An account with this email already exists', 'email');
    }
    throw err;
  }
  return withoutTokenId(await issueSession(deps, user));
}

const INVALID_LOGIN = 'Email or password is incorrect';

export async function login(deps: SessionDeps, email: string, password: string): Promise<Session> {
  // Same answer and the same scrypt cost whether the user is unknown or the password wrong.
  if (email.length > 254 || password.length > 1024) {
    await verifyPassword('x', DUMMY_HASH);
    throw unauthenticated(INVALID_LOGIN);
  }
  const user = await deps.prisma.user.findUnique({ where: { email: normalizeEmail(email) } });
  const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
  if (!user || !ok) throw unauthenticated(INVALID_LOGIN);
  return withoutTokenId(await issueSession(deps, user));
}

const withoutTokenId = ({ tokenId: _tokenId, ...session }: Session & { tokenId: string }): Session => session;

/** Revokes every live token of a family, and drops their sealed successors. */
const revokeFamily = (db: Db, familyId: string) =>
  db.refreshToken.updateMany({
    where: { familyId, revokedAt: null },
    data: { revokedAt: new Date(), successorSealed: null },
  });

/**
 * Rotates a refresh token, in one transaction that locks its row (concurrent retries queue
 * there). A token already rotated is either a retry within the grace window while its successor
 * is unused, answered with that same successor pair as OAuth servers do, or reuse: it leaked (or
 * a client raced itself), the whole family is revoked and the caller must sign in again.
 */
export async function refresh(deps: SessionDeps, refreshToken: string): Promise<Session> {
  const tokenHash = sha256(refreshToken);
  const graceMs = (deps.settings.refreshReuseGraceSeconds ?? DEFAULT_REFRESH_REUSE_GRACE_SECONDS) * 1000;
  const outcome = await deps.prisma.$transaction(async (tx) => {
    const rows = await tx.$queryRaw<
      {
        id: string;
        user_id: string;
        family_id: string;
        expires_at: Date;
        rotated_at: Date | null;
        revoked_at: Date | null;
        successor_id: string | null;
        successor_sealed: string | null;
      }[]
    >`
      SELECT id, user_id, family_id, expires_at, rotated_at, revoked_at, successor_id, successor_sealed
      FROM auth.refresh_tokens WHERE token_hash = ${tokenHash} FOR UPDATE`;
    const token = rows[0];
    if (!token || token.revoked_at || token.expires_at.getTime() <= Date.now()) return { kind: 'invalid' as const };
    const user = await tx.user.findUniqueOrThrow({ where: { id: token.user_id } });
    if (token.rotated_at) {
      if (token.successor_sealed && token.successor_id && Date.now() - token.rotated_at.getTime() < graceMs) {
        const successor = await tx.refreshToken.findUnique({
          where: { id: token.successor_id },
          select: { rotatedAt: true, revokedAt: true },
        });
        if (successor && !successor.rotatedAt && !successor.revokedAt)
          return { kind: 'retry' as const, session: { user, ...unseal(refreshToken, token.successor_sealed) } };
      }
      await revokeFamily(tx, token.family_id);
      return { kind: 'reused' as const };
    }
    const { tokenId, ...session } = await issueSession(deps, user, token.family_id, tx);
    const { user: _user, ...pair } = session;
    await tx.refreshToken.update({
      where: { id: token.id },
      data: {
        rotatedAt: new Date(),
        successorId: tokenId,
        successorSealed: graceMs > 0 ? seal(refreshToken, pair) : null,
      },
    });
    // The copy its own predecessor kept of this token's pair is not needed any more.
    await tx.refreshToken.updateMany({
      where: { successorId: token.id, successorSealed: { not: null } },
      data: { successorSealed: null },
    });
    return { kind: 'ok' as const, session };
  });
  if (outcome.kind === 'reused')
    throw new AppError(
      ErrorCode.UNAUTHENTICATED,
      'Refresh token was already used; all sessions of this login were signed out',
    );
  if (outcome.kind === 'invalid') throw unauthenticated('Refresh token is invalid or expired');
  return outcome.session;
}

export async function logout(deps: SessionDeps, refreshToken: string): Promise<boolean> {
  const token = await deps.prisma.refreshToken.findUnique({ where: { tokenHash: sha256(refreshToken) } });
  if (token) await revokeFamily(deps.prisma, token.familyId);
  return true;
}

/** The seeded admin (credentials from env); created once, never overwritten. */
export async function ensureAdmin(prisma: PrismaClient, email: string, password: string): Promise<void> {
  const normalized = normalizeEmail(email);
  const existing = await prisma.user.findUnique({ where: { email: normalized } });
  if (existing) {
    if (existing.role !== 'ADMIN') await prisma.user.update({ where: { id: existing.id }, data: { role: 'ADMIN' } });
    return;
  }
  await prisma.user.create({
    data: { email: normalized, name: 'Administrator', passwordHash: await hashPassword(password), role: 'ADMIN' },
  });
}
