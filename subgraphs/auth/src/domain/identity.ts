// Identity verification: a 6-digit one-time code sent to the user's phone (OtpSender), proved by
// verifyIdentity. Since July 2025 only identity-verified accounts may book Tatkal (booking
// enforces it from the `verified` claim of the access token this module's answers carry).
import { randomInt, randomUUID } from 'node:crypto';
import type { PrismaClient, Role, User } from '@tatkal/db';
import {
  AppError,
  badInput,
  ErrorCode,
  isUuid,
  notFound,
  tryAgain,
  unauthenticated,
  type createIdempotency,
  type Identity,
  type Logger,
} from '@tatkal/common';
import { maskPhone } from '../otp/simulator.ts';
import { OtpDeliveryError, type OtpSender } from '../otp/sender.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import { signAccessToken, type SessionDeps } from './sessions.ts';

/** Wrong codes allowed per code: the fifth wrong one kills it. */
export const MAX_CODE_ATTEMPTS = 5;

export interface IdentityCodeSettings {
  /** How long a code is good for (default 300 s). */
  ttlSeconds: number;
  /** Least time between two codes for one user (default 60 s). */
  resendSeconds: number;
}
export const DEFAULT_IDENTITY_CODE_SETTINGS: IdentityCodeSettings = { ttlSeconds: 300, resendSeconds: 60 };

export interface IdentityDeps extends SessionDeps {
  prisma: PrismaClient;
  otp: OtpSender;
  idempotency: ReturnType<typeof createIdempotency>;
  identityCodes?: IdentityCodeSettings;
  /** The clock (tests move it instead of waiting). */
  now?: () => number;
}

/** What requestIdentityCode answers (stored as JSON for its idempotency key: dates as ISO strings). */
export interface IdentityCodeChallenge {
  sentTo: string;
  expiresAt: string;
  resendAvailableAt: string;
  maxAttempts: number;
}

export interface IdentityVerification {
  user: User;
  accessToken: string;
  accessTokenExpiresAt: Date;
}

// scrypt, salted per code: 10^6 possible codes would fall to a plain hash in a second, at this
// cost one code takes hours, long after it expired. ~10-20 ms per check, in a rate-limited flow.
const CODE_HASH_PARAMS = { N: 1 << 14, r: 8, p: 1, keylen: 32 };

const settingsOf = (deps: IdentityDeps) => deps.identityCodes ?? DEFAULT_IDENTITY_CODE_SETTINGS;
const clock = (deps: IdentityDeps) => (deps.now ?? Date.now)();

const codeError = (code: ErrorCode, message: string, extensions: Record<string, unknown> = {}) =>
  new AppError(code, message, extensions);

/**
 * Sends a new code to the signed-in user's phone, at most one per `resendSeconds`; idempotent by
 * key (a retry gets the first answer and sends nothing). The new code replaces any earlier one.
 */
export async function requestIdentityCode(
  deps: IdentityDeps & { log: Logger },
  identity: Identity,
  idempotencyKey: string,
): Promise<IdentityCodeChallenge> {
  const { userId } = identity;
  return deps.idempotency.run<IdentityCodeChallenge>(
    { userId, operation: 'requestIdentityCode', key: idempotencyKey, request: {} },
    async () => {
      const user = await deps.prisma.user.findUnique({ where: { id: userId }, select: { phone: true } });
      if (!user) throw unauthenticated('This account no longer exists');
      if (!user.phone) throw badInput('Add a mobile number to the account first: the code is sent there', 'phone');
      const { ttlSeconds, resendSeconds } = settingsOf(deps);
      const now = clock(deps);
      const code = randomInt(0, 1_000_000).toString().padStart(6, '0');
      const codeHash = await hashPassword(code, CODE_HASH_PARAMS);
      const createdAt = new Date(now);
      const expiresAt = new Date(now + ttlSeconds * 1000);
      const id = randomUUID();
      // One statement decides the resend limit: two requests at once cannot both send a code.
      const stored = await deps.prisma.$queryRaw<{ id: string }[]>`
        INSERT INTO auth.identity_codes (id, user_id, phone, code_hash, attempts, created_at, expires_at)
        VALUES (${id}::uuid, ${userId}::uuid, ${user.phone}, ${codeHash}, 0, ${createdAt}, ${expiresAt})
        ON CONFLICT (user_id) DO UPDATE SET id = EXCLUDED.id, phone = EXCLUDED.phone,
          code_hash = EXCLUDED.code_hash, attempts = 0, created_at = EXCLUDED.created_at,
          expires_at = EXCLUDED.expires_at, consumed_at = NULL
        WHERE auth.identity_codes.created_at <= ${new Date(now - resendSeconds * 1000)}
        RETURNING id::text`;
      if (stored.length === 0) {
        const last = await deps.prisma.identityCode.findUnique({ where: { userId }, select: { createdAt: true } });
        const waitMs = (last ? last.createdAt.getTime() + resendSeconds * 1000 : now) - now;
        throw codeError(
          ErrorCode.IDENTITY_CODE_RESEND_TOO_SOON,
          `A code was sent less than ${resendSeconds} seconds ago (it still works); a new one can be sent later`,
          { retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) },
        );
      }
      try {
        await deps.otp.send({ phone: user.phone, code, expiresAt });
      } catch (err) {
        // Not sent: the code never existed, so the resend limit does not hold the retry back.
        await deps.prisma.identityCode.deleteMany({ where: { id } });
        if (!(err instanceof OtpDeliveryError)) throw err;
        deps.log.warn({ provider: deps.otp.name, reason: err.message }, 'identity code not delivered');
        throw tryAgain('The code could not be sent just now; retry with the same idempotency key');
      }
      deps.log.info({ provider: deps.otp.name }, 'identity code sent');
      return {
        sentTo: maskPhone(user.phone),
        expiresAt: expiresAt.toISOString(),
        resendAvailableAt: new Date(now + resendSeconds * 1000).toISOString(),
        maxAttempts: MAX_CODE_ATTEMPTS,
      };
    },
  );
}

type CodeRow = {
  id: string;
  code_hash: string;
  attempts: number;
  expires_at: Date;
  consumed_at: Date | null;
};

/**
 * Checks the code of the signed-in user's live challenge and marks the user verified. The row is
 * locked while the code is checked, so concurrent guesses count one by one: never more than
 * MAX_CODE_ATTEMPTS. The same correct code sent again (a retry after a lost answer) answers the
 * same way until it expires. The answer carries a new access token that says `verified: true`.
 */
export async function verifyIdentity(
  deps: IdentityDeps,
  identity: Identity,
  code: string,
): Promise<IdentityVerification> {
  if (!/^\d{6}$/.test(code)) throw badInput('The code is the 6 digits sent to your phone', 'code');
  const now = clock(deps);
  const outcome = await deps.prisma.$transaction(async (tx) => {
    const rows = await tx.$queryRaw<CodeRow[]>`
      SELECT id::text, code_hash, attempts, expires_at, consumed_at FROM auth.identity_codes
      WHERE user_id = ${identity.userId}::uuid FOR UPDATE`;
    const row = rows[0];
    if (!row) return { kind: 'none' as const };
    if (row.attempts >= MAX_CODE_ATTEMPTS) return { kind: 'dead' as const };
    if (row.expires_at.getTime() <= now) return { kind: 'expired' as const };
    if (!(await verifyPassword(code, row.code_hash))) {
      const attempts = row.attempts + 1;
      await tx.identityCode.update({ where: { id: row.id }, data: { attempts } });
      return attempts >= MAX_CODE_ATTEMPTS
        ? { kind: 'dead' as const }
        : { kind: 'wrong' as const, attemptsLeft: MAX_CODE_ATTEMPTS - attempts };
    }
    if (row.consumed_at)
      return { kind: 'ok' as const, user: await tx.user.findUniqueOrThrow({ where: { id: identity.userId } }) };
    await tx.identityCode.update({ where: { id: row.id }, data: { consumedAt: new Date(now) } });
    const user = await tx.user.update({ where: { id: identity.userId }, data: { identityVerifiedAt: new Date(now) } });
    return { kind: 'ok' as const, user };
  });
  switch (outcome.kind) {
    case 'none':
      throw codeError(ErrorCode.IDENTITY_CODE_INVALID, 'No code was requested: call requestIdentityCode first', {
        attemptsLeft: 0,
      });
    case 'wrong':
      throw codeError(ErrorCode.IDENTITY_CODE_INVALID, 'The code is not correct', {
        attemptsLeft: outcome.attemptsLeft,
      });
    case 'dead':
      throw codeError(
        ErrorCode.IDENTITY_CODE_ATTEMPTS_EXCEEDED,
        `${MAX_CODE_ATTEMPTS} wrong codes: this code no longer works; request a new one`,
      );
    case 'expired':
      throw codeError(ErrorCode.IDENTITY_CODE_EXPIRED, 'The code has expired; request a new one');
    case 'ok': {
      const { accessToken, accessTokenExpiresAt } = await signAccessToken(deps, outcome.user);
      return { user: outcome.user, accessToken, accessTokenExpiresAt };
    }
  }
}

/** An administrator gives a user a role. Takes effect in the user's next tokens (refreshSession). */
export async function setUserRole(prisma: PrismaClient, admin: Identity, userId: string, role: Role): Promise<User> {
  if (!isUuid(userId)) throw badInput('userId is not a user id', 'userId');
  // The last administrator cannot demote themself by mistake; another administrator can.
  if (userId === admin.userId) throw badInput('Administrators cannot change their own role', 'userId');
  const updated = await prisma.user.updateManyAndReturn({ where: { id: userId }, data: { role } });
  if (!updated[0]) throw notFound('No such user');
  return updated[0];
}
