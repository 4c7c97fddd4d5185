// Signing keys and access tokens for the benchmarks' users ("logged in beforehand").
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import {
  generateSigningJwk,
  importSigningKeys,
  loadSigningKeys,
  type SigningKey,
} from '../subgraphs/auth/src/domain/keys.ts';

/** A throw-away signing key written where an auth process can load it; `remove` deletes it. */
export async function benchSigningKey(): Promise<{ file: string; key: SigningKey; remove: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'tatkal-bench-keys-'));
  const jwk = await generateSigningJwk();
  const file = join(dir, 'keys.json');
  writeFileSync(file, JSON.stringify({ keys: [jwk] }), { mode: 0o600 });
  const [key] = await importSigningKeys([jwk]);
  return { file, key: key!, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The signing key an already-running auth service uses (its AUTH_SIGNING_KEYS_FILE). */
export async function existingSigningKey(file: string): Promise<SigningKey> {
  const [key] = await loadSigningKeys(file, false);
  return key!;
}

/**
 * Access tokens for `count` distinct customers, as login would issue them ("logged in beforehand"),
 * each identity-verified (the `verified` claim auth sets after verifyIdentity: Tatkal needs it).
 */
export function mintTokens(key: SigningKey, count: number): Promise<string[]> {
  return Promise.all(
    Array.from({ length: count }, () =>
      new SignJWT({ role: 'CUSTOMER', verified: true })
        .setProtectedHeader({ alg: 'EdDSA', kid: key.kid })
        .setIssuer('tatkal-auth')
        .setAudience('tatkal-api')
        .setSubject(randomUUID())
        .setIssuedAt()
        .setExpirationTime('2h')
        .setJti(randomUUID())
        .sign(key.privateKey),
    ),
  );
}
