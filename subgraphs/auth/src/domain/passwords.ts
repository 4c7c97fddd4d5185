// scrypt (memory-hard) password hashes: scrypt$N$r$p$salt$hash, base64url parts.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

// N=2^15, r=8: 32 MiB per hash, ~50-100 ms on a server core (OWASP's scrypt minimum is N=2^17 with
// r=8,p=1 or an equivalent cost; we use p=4 at N=2^15 for a comparable work factor with less memory).
const PARAMS = { N: 1 << 15, r: 8, p: 4, keylen: 32 };
const MAXMEM = 128 * PARAMS.N * PARAMS.r * 2;

function derive(password: string, salt: Buffer, params: typeof PARAMS): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(
      password.normalize('NFKC'),
      salt,
      params.keylen,
      { N: params.N, r: params.r, p: params.p, maxmem: MAXMEM },
      (err, key) => (err ? reject(err) : resolve(key)),
    ),
  );
}

/** `params`: a lighter cost for short-lived secrets (identity codes); passwords keep the default. */
export async function hashPassword(password: string, params: typeof PARAMS = PARAMS): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, params);
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await derive(password, Buffer.from(salt, 'base64url'), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    keylen: expected.length,
  });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** Verified against when the email is unknown, so both failures cost the same time. */
export const DUMMY_HASH = `scrypt$32768$8$4$AAAAAAAAAAAAAAAAAAAAAA$${Buffer.alloc(32).toString('base64url')}`;

const COMMON = new Set([
  'password1234',
  '123456789012',
  'qwertyuiopas',
  'passwordpassword',
  'iloveindia123',
  'tatkalbooking',
]);

/** Returns why a password is too weak, or null. */
export function passwordProblem(password: string): string | null {
  if (password.length < 12) return 'Password must be at least 12 characters';
  if (password.length > 128) return 'Password must be at most 128 characters';
  if (new Set(password).size < 5) return 'Password must use at least 5 different characters';
  if (COMMON.has(password.toLowerCase())) return 'Password is too common';
  return null;
}
