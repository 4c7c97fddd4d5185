// The token verifier's memory of verified tokens: a hit skips the signature check, but never
// outlives the token's exp nor the cache TTL, and a refused token is never remembered.
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTokenVerifier, tokenVerifications } from './identity.ts';

let sign: (expiresInS: number) => Promise<string>;
let jwks: { keys: object[] };

beforeAll(async () => {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'EdDSA' }] };
  sign = (expiresInS) =>
    new SignJWT({ role: 'CUSTOMER' })
      .setProtectedHeader({ alg: 'EdDSA', kid: 'k1' })
      .setIssuer('tatkal-auth')
      .setAudience('tatkal-api')
      .setSubject(randomUUID())
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + expiresInS)
      .sign(privateKey);
});

async function counts() {
  const values = (await tokenVerifications.get()).values;
  const of = (result: string) => values.find((v) => v.labels.result === result)?.value ?? 0;
  return { verified: of('verified'), cached: of('cached'), refused: of('refused') };
}

const delta = async (before: Awaited<ReturnType<typeof counts>>) => {
  const after = await counts();
  return { verified: after.verified - before.verified, cached: after.cached - before.cached, refused: after.refused - before.refused };
};

describe('token verifier cache', () => {
  it('checks a token\'s signature once and answers the same identity from memory after', async () => {
    const verify = createTokenVerifier({ jwks: jwks as never, issuer: 'tatkal-auth', audience: 'tatkal-api' });
    const token = await sign(3600);
    const before = await counts();
    const first = await verify(`Bearer ${token}`);
    expect(await verify(`Bearer ${token}`)).toEqual(first);
    expect(await verify(`Bearer ${token}`)).toEqual(first);
    expect(await delta(before)).toEqual({ verified: 1, cached: 2, refused: 0 });
  });

  it('never answers from memory past the token\'s exp, nor past the TTL', async () => {
    let clock = Date.now();
    const verify = createTokenVerifier({ jwks: jwks as never, issuer: 'tatkal-auth', audience: 'tatkal-api', cacheTtlMs: 60_000, now: () => clock });
    const shortLived = await sign(30);
    const longLived = await sign(3600);
    await verify(`Bearer ${shortLived}`);
    await verify(`Bearer ${longLived}`);
    clock += 31_000;
    await expect(verify(`Bearer ${shortLived}`)).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
    const before = await counts();
    expect(await verify(`Bearer ${longLived}`)).not.toBeNull(); // within the TTL: from memory
    clock += 30_000;
    expect(await verify(`Bearer ${longLived}`)).not.toBeNull(); // past the TTL: checked again
    expect(await delta(before)).toEqual({ verified: 1, cached: 1, refused: 0 });
  });

  it('never remembers a refused token, and keeps at most cacheMax tokens', async () => {
    const verify = createTokenVerifier({ jwks: jwks as never, issuer: 'tatkal-auth', audience: 'tatkal-api', cacheMax: 2 });
    const good = await sign(3600);
    const forged = `${good.slice(0, good.lastIndexOf('.'))}.${'A'.repeat(86)}`;
    const before = await counts();
    await expect(verify(`Bearer ${forged}`)).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
    await expect(verify(`Bearer ${forged}`)).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
    const [a, b, c] = await Promise.all([sign(3600), sign(3600), sign(3600)]);
    for (const t of [a, b, c]) await verify(`Bearer ${t}`);
    await verify(`Bearer ${a}`); // the oldest was dropped for c: checked again
    await verify(`Bearer ${c}`); // still there
    expect(await delta(before)).toEqual({ verified: 4, cached: 1, refused: 2 });
  });
});
