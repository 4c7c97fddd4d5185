// An auth key pair for tests that do not run the auth subgraph: sign tokens the way auth does
// and verify them the way the gateway and subgraphs do.
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JSONWebKeySet } from 'jose';
import { createTokenVerifier, type Identity, type Role } from '@tatkal/common';

export const ISSUER = 'tatkal-auth';
export const AUDIENCE = 'tatkal-api';

export interface TestKeys {
  jwks: JSONWebKeySet;
  kid: string;
  privateKey: CryptoKey;
  sign: (
    userId: string,
    role?: Role,
    overrides?: { expiresIn?: string | number; audience?: string; issuer?: string },
  ) => Promise<string>;
  verify: ReturnType<typeof createTokenVerifier>;
}

export async function createTestKeys(): Promise<TestKeys> {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const kid = randomUUID();
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' }] };
  const sign: TestKeys['sign'] = (userId, role = 'CUSTOMER', o = {}) =>
    new SignJWT({ role })
      .setProtectedHeader({ alg: 'EdDSA', kid })
      .setIssuer(o.issuer ?? ISSUER)
      .setAudience(o.audience ?? AUDIENCE)
      .setSubject(userId)
      .setIssuedAt()
      .setExpirationTime(o.expiresIn ?? '15m')
      .setJti(randomUUID())
      .sign(privateKey);
  return { jwks, kid, privateKey, sign, verify: createTokenVerifier({ jwks, issuer: ISSUER, audience: AUDIENCE }) };
}

export const identity = (userId: string, role: Role = 'CUSTOMER', verified = false): Identity => ({
  userId,
  role,
  tokenId: randomUUID(),
  verified,
});
