// Registration, login and refresh-token rotation.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { z } from 'zod';
import type { PrismaClient, User } from '@tatkal/db';
import { AppError, badInput, ErrorCode, prismaErrorCode, unauthenticated } from '@tatkal/common';
import type { SigningKey } from './keys.ts';
import { DUMMY_HASH, hashPassword, passwordProblem, verifyPassword } from './passwords.ts';

export interface SessionSettings {
  issuer: string;
  audience: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlDays: number;
}

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

async function issueSession(deps: SessionDeps, user: User, familyId: string = randomUUID()): Promise<Session> {
  const now = Math.floor(Date.now() / 1000);
  const signer = deps.keys[0]!;
  const accessTokenExpiresAt = new Date((now + deps.settings.accessTokenTtlSeconds) * 1000);
  const accessToken = await new SignJWT({ role: user.role })
    .setProtectedHeader({ alg: 'EdDSA', kid: signer.kid, typ: 'JWT' })
    .setIssuer(deps.settings.issuer)
    .setAudience(deps.settings.audience)
    .setSubject(user.id)
    .setIssuedAt(now)
    .setExpirationTime(accessTokenExpiresAt)
    .setJti(randomUUID())
    .sign(signer.privateKey);
  const refreshToken = randomBytes(32).toString('base64url');
  const refreshTokenExpiresAt = new Date(Date.now() + deps.settings.refreshTokenTtlDays * 86_400_000);
  await deps.prisma.refreshToken.create({
    data: { userId: user.id, familyId, tokenHash: sha256(refreshToken), expiresAt: refreshTokenExpiresAt },
  });
  return { user, accessToken, accessTokenExpiresAt, refreshToken, refreshTokenExpiresAt };
}

export async function register(deps: SessionDeps, input: { email: string; password: string; name: string; phone?: string | null }): Promise<Session> {
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
    if (prismaErrorCode(err) === 'P2002') throw badInput('An account with this email already exists', 'email');
    throw err;
  }
  return issueSession(deps, user);
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
  return issueSession(deps, user);
}

/**
 * Rotates a refresh token. Presenting a token that was already rotated means it leaked (or a
 * client raced itself): the whole family is revoked and the caller must sign in again.
 */
export async function refresh(deps: SessionDeps, refreshToken: string): Promise<Session> {
  const tokenHash = sha256(refreshToken);
  const outcome = await deps.prisma.$transaction(async (tx) => {
    const rows = await tx.$queryRaw<{ id: string; user_id: string; family_id: string; expires_at: Date; rotated_at: Date | null; revoked_at: Date | null }[]>`
      SELECT id, user_id, family_id, expires_at, rotated_at, revoked_at FROM auth.refresh_tokens WHERE token_hash = ${tokenHash} FOR UPDATE`;
    const token = rows[0];
    if (!token || token.revoked_at || token.expires_at.getTime() <= Date.now()) return { kind: 'invalid' as const };
    if (token.rotated_at) {
      await tx.refreshToken.updateMany({ where: { familyId: token.family_id, revokedAt: null }, data: { revokedAt: new Date() } });
      return { kind: 'reused' as const };
    }
    await tx.refreshToken.update({ where: { id: token.id }, data: { rotatedAt: new Date() } });
    return { kind: 'ok' as const, userId: token.user_id, familyId: token.family_id };
  });
  if (outcome.kind === 'reused') throw new AppError(ErrorCode.UNAUTHENTICATED, 'Refresh token was already used; all sessions of this login were signed out');
  if (outcome.kind === 'invalid') throw unauthenticated('Refresh token is invalid or expired');
  const user = await deps.prisma.user.findUniqueOrThrow({ where: { id: outcome.userId } });
  return issueSession(deps, user, outcome.familyId);
}

export async function logout(deps: SessionDeps, refreshToken: string): Promise<boolean> {
  const token = await deps.prisma.refreshToken.findUnique({ where: { tokenHash: sha256(refreshToken) } });
  if (token) await deps.prisma.refreshToken.updateMany({ where: { familyId: token.familyId, revokedAt: null }, data: { revokedAt: new Date() } });
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
  await prisma.user.create({ data: { email: normalized, name: 'Administrator', passwordHash: await hashPassword(password), role: 'ADMIN' } });
}
