// Signing keys: production takes them from configuration only; a key file may hold several keys
// (rotation): the first signs, all are published, tokens of the older keys stay valid.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader, SignJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { createTokenVerifier } from '@tatkal/common';
import { loadAuthConfig } from '../src/config.ts';
import { generateSigningJwk, loadSigningKeys, publicJwks } from '../src/domain/keys.ts';

const dir = mkdtempSync(join(tmpdir(), 'tatkal-keys-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const required = { DATABASE_URL: 'postgresql://x@127.0.0.1/x', REDIS_URL: 'redis://127.0.0.1:6379' };

async function tokenSignedBy(keyFile: string) {
  const keys = await loadSigningKeys(keyFile, false);
  // Sign as the auth subgraph does: the first key, its kid in the header.
  return new SignJWT({ role: 'CUSTOMER' })
    .setProtectedHeader({ alg: 'EdDSA', kid: keys[0]!.kid })
    .setIssuer('tatkal-auth')
    .setAudience('tatkal-api')
    .setSubject(crypto.randomUUID())
    .setIssuedAt()
    .setExpirationTime('5m')
    .setJti(crypto.randomUUID())
    .sign(keys[0]!.privateKey);
}

describe('key configuration', () => {
  it('never generates keys in production unless told to, and names the variable when the file is missing', async () => {
    const production = { ...required, NODE_ENV: 'production', IDENTITY_ASSERTION_SECRET: 'i'.repeat(40) };
    expect(loadAuthConfig(production).AUTH_GENERATE_KEYS).toBe(false);
    expect(loadAuthConfig({ ...required, NODE_ENV: 'development' }).AUTH_GENERATE_KEYS).toBe(true);
    const missing = join(dir, 'missing.json');
    await expect(loadSigningKeys(missing, false)).rejects.toThrow(`AUTH_SIGNING_KEYS_FILE: ${missing} does not exist`);
  });

  it('refuses a key file that is not JSON or holds a public key only', async () => {
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{ not json');
    await expect(loadSigningKeys(broken, false)).rejects.toThrow(/AUTH_SIGNING_KEYS_FILE: .* is not valid JSON/);
    const { d: _d, ...publicOnly } = await generateSigningJwk();
    const pub = join(dir, 'public.json');
    writeFileSync(pub, JSON.stringify({ keys: [publicOnly] }));
    await expect(loadSigningKeys(pub, false)).rejects.toThrow(/expected a private Ed25519 JWK/);
  });

  it('rejects bad rate-limit settings naming the variable', () => {
    expect(() => loadAuthConfig({ ...required, RATE_LIMIT_LOGIN: 'many' })).toThrow(
      /RATE_LIMIT_LOGIN: must look like 600\/1m/,
    );
  });
});

describe('key rotation', () => {
  it('signs with the first key, publishes all, and keeps tokens of the old key valid', async () => {
    const oldKey = await generateSigningJwk();
    const newKey = await generateSigningJwk();
    const file = join(dir, 'keys.json');
    writeFileSync(file, JSON.stringify({ keys: [oldKey] }));
    const oldToken = await tokenSignedBy(file);

    // Rotation: the new key goes first, the old one stays to verify what it signed.
    writeFileSync(file, JSON.stringify({ keys: [newKey, oldKey] }));
    const keys = await loadSigningKeys(file, false);
    const jwks = publicJwks(keys);
    expect(jwks.keys.map((k) => k.kid)).toEqual([newKey.kid, oldKey.kid]);
    expect(jwks.keys.every((k) => !('d' in k))).toBe(true);

    const newToken = await tokenSignedBy(file);
    expect(decodeProtectedHeader(newToken).kid).toBe(newKey.kid);
    const verify = createTokenVerifier({ jwks, issuer: 'tatkal-auth', audience: 'tatkal-api' });
    await expect(verify(`Bearer ${oldToken}`)).resolves.toMatchObject({ role: 'CUSTOMER' });
    await expect(verify(`Bearer ${newToken}`)).resolves.toMatchObject({ role: 'CUSTOMER' });

    // Once the old key is dropped from the file, its tokens are refused.
    writeFileSync(file, JSON.stringify({ keys: [newKey] }));
    const retired = createTokenVerifier({
      jwks: publicJwks(await loadSigningKeys(file, false)),
      issuer: 'tatkal-auth',
      audience: 'tatkal-api',
    });
    await expect(retired(`Bearer ${oldToken}`)).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
  });
});
