// Signing keys for access tokens: Ed25519 (EdDSA) JWKs. The first key signs; every key is
// published in the JWKS so tokens signed before a rotation stay valid until they expire.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, type JWK, type CryptoKey } from 'jose';

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

interface KeyFile {
  keys: (JWK & { kid: string })[];
}

export async function generateSigningJwk(): Promise<JWK & { kid: string }> {
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: randomUUID(), alg: 'EdDSA', use: 'sig' };
}

export async function importSigningKeys(jwks: (JWK & { kid: string })[]): Promise<SigningKey[]> {
  if (jwks.length === 0) throw new Error('no signing keys configured');
  return Promise.all(
    jwks.map(async (jwk) => {
      if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || !jwk.d)
        throw new Error(`signing key ${jwk.kid}: expected a private Ed25519 JWK`);
      const privateKey = (await importJWK({ ...jwk, alg: 'EdDSA' }, 'EdDSA')) as CryptoKey;
      const { d: _private, ...publicJwk } = jwk;
      return { kid: jwk.kid, privateKey, publicJwk: { ...publicJwk, alg: 'EdDSA', use: 'sig' } };
    }),
  );
}

/** Reads the key file; in development creates it once (mode 0600, git-ignored under .keys/). */
export async function loadSigningKeys(file: string, generate: boolean): Promise<SigningKey[]> {
  if (!existsSync(file)) {
    if (!generate) throw new Error(`AUTH_SIGNING_KEYS_FILE: ${file} does not exist`);
    mkdirSync(dirname(file), { recursive: true });
    const content: KeyFile = { keys: [await generateSigningJwk()] };
    writeFileSync(file, JSON.stringify(content, null, 2), { mode: 0o600, flag: 'wx' });
  }
  let parsed: KeyFile;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as KeyFile;
  } catch (err) {
    throw new Error(`AUTH_SIGNING_KEYS_FILE: ${file} is not valid JSON: ${(err as Error).message}`);
  }
  return importSigningKeys(parsed.keys ?? []);
}

export function publicJwks(keys: SigningKey[]) {
  return { keys: keys.map((k) => k.publicJwk) };
}
