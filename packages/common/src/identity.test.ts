// The token verifier's memory of verified tokens: a hit skips the signature check, but never
// outlives the token's exp nor the cache TTL, and a refused token is never remembered.
import { createHmac, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from './config.ts';
import { AppError } from './errors.ts';
import {
  createIdentityAssertions,
  createTokenVerifier,
  IDENTITY_ASSERTION_HEADER,
  subgraphCaller,
  tokenVerifications,
  type Identity,
} from './identity.ts';

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
  return {
    verified: after.verified - before.verified,
    cached: after.cached - before.cached,
    refused: after.refused - before.refused,
  };
};

describe('token verifier cache', () => {
  it("checks a token's signature once and answers the same identity from memory after", async () => {
    const verify = createTokenVerifier({ jwks: jwks as never, issuer: 'tatkal-auth', audience: 'tatkal-api' });
    const token = await sign(3600);
    const before = await counts();
    const first = await verify(`Bearer ${token}`);
    expect(await verify(`Bearer ${token}`)).toEqual(first);
    expect(await verify(`Bearer ${token}`)).toEqual(first);
    expect(await delta(before)).toEqual({ verified: 1, cached: 2, refused: 0 });
  });

  it("never answers from memory past the token's exp, nor past the TTL", async () => {
    let clock = Date.now();
    const verify = createTokenVerifier({
      jwks: jwks as never,
      issuer: 'tatkal-auth',
      audience: 'tatkal-api',
      cacheTtlMs: 60_000,
      now: () => clock,
    });
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
    const verify = createTokenVerifier({
      jwks: jwks as never,
      issuer: 'tatkal-auth',
      audience: 'tatkal-api',
      cacheMax: 2,
    });
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

describe('token claims: role and verification', () => {
  const tokenWith = async (claims: Record<string, unknown>) => {
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const keySet = { keys: [{ ...(await exportJWK(publicKey)), kid: 'k2', alg: 'EdDSA' }] };
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'EdDSA', kid: 'k2' })
      .setIssuer('tatkal-auth')
      .setAudience('tatkal-api')
      .setSubject(randomUUID())
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    const verify = createTokenVerifier({ jwks: keySet as never, issuer: 'tatkal-auth', audience: 'tatkal-api' });
    return () => verify(`Bearer ${token}`);
  };

  it('reads AGENT and the verification; a token without the claim (issued before it) is not verified', async () => {
    expect(await (await tokenWith({ role: 'AGENT', verified: true }))()).toMatchObject({
      role: 'AGENT',
      verified: true,
    });
    expect(await (await tokenWith({ role: 'ADMIN', verified: false }))()).toMatchObject({ verified: false });
    expect(await (await tokenWith({ role: 'CUSTOMER' }))()).toMatchObject({ role: 'CUSTOMER', verified: false });
  });

  it('refuses an unknown role and a verification that is not a boolean', async () => {
    for (const claims of [{ role: 'ROOT' }, { role: 'CUSTOMER', verified: 'yes' }, { role: 'AGENT', verified: 1 }])
      await expect((await tokenWith(claims))()).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
  });
});

describe('identity assertions (the gateway signs every request, a subgraph checks)', () => {
  const secret = 'a'.repeat(16) + randomUUID();
  const assertions = createIdentityAssertions(secret);
  const identity: Identity = { userId: randomUUID(), role: 'CUSTOMER', tokenId: randomUUID(), verified: false };
  const bearer = 'Bearer aaa.bbb.ccc';
  const ip = '203.0.113.7';
  const refusedWith401 = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('UNAUTHENTICATED');
      return;
    }
    throw new Error('accepted');
  };

  it('gives back the identity and client address the gateway signed, for the same bearer header, within 30 s', () => {
    const now = Date.now();
    const header = assertions.sign({ identity, clientIp: ip }, bearer, now);
    expect(assertions.verify(header, bearer, now)).toEqual({ identity, clientIp: ip });
    expect(assertions.verify(header, bearer, now + 29_000)).toEqual({ identity, clientIp: ip });
    refusedWith401(() => assertions.verify(header, bearer, now + 31_000));
  });

  it('carries the verification and every role, AGENT included, through a round trip', () => {
    for (const role of ['CUSTOMER', 'AGENT', 'ADMIN'] as const)
      for (const verified of [true, false]) {
        const who: Identity = { userId: randomUUID(), role, tokenId: randomUUID(), verified };
        const header = assertions.sign({ identity: who, clientIp: ip }, bearer);
        expect(JSON.parse(Buffer.from(header.split('.')[1]!, 'base64url').toString())).toMatchObject({
          role,
          verified,
        });
        expect(assertions.verify(header, bearer)).toEqual({ identity: who, clientIp: ip });
      }
  });

  it('refuses a changed verification, reads a missing one (an older gateway) as false, refuses a non-boolean', () => {
    const sign = (claims: Record<string, unknown>) => {
      const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
      // The MAC as the gateway computes it: what a holder of the secret would send.
      const mac = createHmac('sha256', secret).update(`v2\n${bearer}\n${body}`).digest('base64url');
      return `v2.${body}.${mac}`;
    };
    const exp = Math.floor(Date.now() / 1000) + 30;
    const base = { sub: identity.userId, role: 'AGENT', jti: identity.tokenId, ip, exp };
    expect(assertions.verify(sign(base), bearer).identity).toEqual({ ...identity, role: 'AGENT', verified: false });
    expect(assertions.verify(sign({ ...base, verified: true }), bearer).identity?.verified).toBe(true);
    for (const verified of ['true', 1, null])
      refusedWith401(() => assertions.verify(sign({ ...base, verified }), bearer));
    refusedWith401(() => assertions.verify(sign({ ...base, role: 'SUPERUSER' }), bearer));
    // Not verified, signed; the same claims saying verified under the old MAC are refused.
    const header = assertions.sign({ identity, clientIp: ip }, bearer);
    const [v, , mac] = header.split('.');
    const claimed = Buffer.from(JSON.stringify({ ...base, role: 'CUSTOMER', verified: true })).toString('base64url');
    refusedWith401(() => assertions.verify(`${v}.${claimed}.${mac}`, bearer));
  });

  it('signs anonymous requests too, valid only without a bearer header', () => {
    const header = assertions.sign({ identity: null, clientIp: ip }, undefined);
    expect(assertions.verify(header, undefined)).toEqual({ identity: null, clientIp: ip });
    refusedWith401(() => assertions.verify(header, bearer));
  });

  it('refuses an assertion for another token, with changed identity or address, another secret or a bad shape', () => {
    const header = assertions.sign({ identity, clientIp: ip }, bearer);
    refusedWith401(() => assertions.verify(header, 'Bearer xxx.yyy.zzz'));
    refusedWith401(() => assertions.verify(header, undefined));
    const [v, , mac] = header.split('.');
    const exp = Math.floor(Date.now() / 1000) + 30;
    const admin = Buffer.from(
      JSON.stringify({ sub: identity.userId, role: 'ADMIN', jti: identity.tokenId, ip, exp }),
    ).toString('base64url');
    refusedWith401(() => assertions.verify(`${v}.${admin}.${mac}`, bearer));
    const elsewhere = Buffer.from(
      JSON.stringify({ sub: identity.userId, role: identity.role, jti: identity.tokenId, ip: '198.51.100.1', exp }),
    ).toString('base64url');
    refusedWith401(() => assertions.verify(`${v}.${elsewhere}.${mac}`, bearer));
    refusedWith401(() => createIdentityAssertions('b'.repeat(48)).verify(header, bearer));
    for (const bad of ['', 'v2', 'v2..', `v1.${header.slice(3)}`, `${header}.x`, header.slice(0, -2)])
      refusedWith401(() => assertions.verify(bad, bearer));
    expect(() => createIdentityAssertions('too short')).toThrow(/at least 32 bytes/);
  });

  it('with the secret, a subgraph checks the assertion, not the token; never trusts one it cannot check', async () => {
    const tokens: (string | undefined)[] = [];
    const verifyToken = async (authorization: string | undefined) => {
      tokens.push(authorization);
      return authorization ? { userId: 'from-token', role: 'CUSTOMER' as const, tokenId: 't', verified: false } : null;
    };
    const header = assertions.sign({ identity, clientIp: ip }, bearer);
    const caller = subgraphCaller({ verifyToken, assertions });
    expect(
      await caller(
        { authorization: bearer, [IDENTITY_ASSERTION_HEADER]: header, 'x-forwarded-for': '198.51.100.9' },
        '10.0.0.2',
      ),
    ).toEqual({ identity, clientIp: ip, signed: true });
    expect(tokens).toEqual([]);
    // No assertion (a direct call outside production): the token is verified, the socket is the address.
    expect(await caller({ authorization: bearer, 'x-forwarded-for': '198.51.100.9' }, '10.0.0.2')).toEqual({
      identity: { userId: 'from-token', role: 'CUSTOMER', tokenId: 't', verified: false },
      clientIp: '10.0.0.2',
      signed: false,
    });
    // A forged assertion is refused, not passed over to the token.
    await expect(
      caller({ authorization: bearer, [IDENTITY_ASSERTION_HEADER]: 'v2.e30.AAAA' }, '10.0.0.2'),
    ).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    // Without the secret the header means nothing: the token decides, and no token is anonymous.
    const unkeyed = subgraphCaller({ verifyToken });
    expect(
      (await unkeyed({ authorization: bearer, [IDENTITY_ASSERTION_HEADER]: header }, '10.0.0.2')).identity?.userId,
    ).toBe('from-token');
    expect(await unkeyed({ [IDENTITY_ASSERTION_HEADER]: header }, '10.0.0.2')).toEqual({
      identity: null,
      clientIp: '10.0.0.2',
      signed: false,
    });
    expect(tokens).toEqual([bearer, bearer, undefined]);
  });

  it('cannot be made to require a signature it has no secret to check', () => {
    expect(() => subgraphCaller({ verifyToken: async () => identity, requireSignature: true })).toThrow(
      new ConfigError('invalid configuration: IDENTITY_ASSERTION_SECRET: required to answer the gateway only'),
    );
  });

  it('requiring the signature (production), refuses every request without one, anonymous or with a token', async () => {
    const verifyToken = async () => identity;
    const caller = subgraphCaller({ verifyToken, assertions, requireSignature: true });
    await expect(caller({}, '10.0.0.2')).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
      extensions: { http: { status: 401 } },
    });
    await expect(caller({ authorization: bearer }, '10.0.0.2')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(
      await caller(
        { [IDENTITY_ASSERTION_HEADER]: assertions.sign({ identity: null, clientIp: ip }, undefined) },
        '10.0.0.2',
      ),
    ).toEqual({ identity: null, clientIp: ip, signed: true });
  });
});
