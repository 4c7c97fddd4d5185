// Identity verification against PostgreSQL, with the development OTP simulator really listening
// (port 0) and auth delivering to it over HTTP; the test reads the code the simulator received.
// Time moves by the domain's clock, never by waiting.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createIdempotency, createTokenVerifier, type HttpServer, type Identity, type Role } from '@tatkal/common';
import { Prisma } from '@tatkal/db';
import type { AuthContext } from '../src/context.ts';
import { generateSigningJwk, importSigningKeys, publicJwks, type SigningKey } from '../src/domain/keys.ts';
import { simulatorOtpSender, type OtpSender } from '../src/otp/sender.ts';
import { createOtpSimulator, type OtpSimulator } from '../src/otp/simulator.ts';
import { buildAuthServer } from '../src/server.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { errorCodes, execute } from '../../../test/support/graphql.ts';
import { captureLogger } from '../../../test/support/logger.ts';

let db: TestDatabase;
let keys: SigningKey[];
let simulator: OtpSimulator;
let simulatorHttp: HttpServer;
let otp: OtpSender;
let clock = Date.now();
const { logger, lines } = captureLogger('auth');
const { server } = buildAuthServer({ logger, production: false });
const settings = { issuer: 'tatkal-auth', audience: 'tatkal-api', accessTokenTtlSeconds: 900, refreshTokenTtlDays: 30 };
const ctx = (identity: Identity | null, overrides: Partial<AuthContext> = {}): AuthContext => ({
  prisma: db.prisma,
  keys,
  settings,
  otp,
  idempotency: createIdempotency({ db: db.prisma, sql: Prisma, schema: 'auth' }),
  identityCodes: { ttlSeconds: 300, resendSeconds: 60 },
  now: () => clock,
  identity,
  requestId: 't',
  log: logger,
  ...overrides,
});
const verifyToken = (token: string) =>
  createTokenVerifier({ jwks: publicJwks(keys), issuer: settings.issuer, audience: settings.audience })(
    `Bearer ${token}`,
  );

const REGISTER = `mutation($input: RegisterInput!) {
  register(input: $input) { user { id } accessToken refreshToken }
}`;
const REQUEST = `mutation($key: String!) {
  requestIdentityCode(idempotencyKey: $key) { sentTo expiresAt resendAvailableAt maxAttempts }
}`;
const VERIFY = `mutation($code: String!) {
  verifyIdentity(code: $code) { user { id role identityVerified identityVerifiedAt } accessToken accessTokenExpiresAt }
}`;
const ME = `{ me { id role identityVerified identityVerifiedAt } }`;
const SET_ROLE = `mutation($id: ID!, $role: Role!) { setUserRole(userId: $id, role: $role) { id role } }`;

let phoneSeq = 0;
/** A new customer with a phone (or none): their identity as the gateway would assert it, and their tokens. */
async function customer(opts: { phone?: boolean } = {}) {
  const phone = `+9198${String(Date.now() % 1e6).padStart(6, '0')}${String(phoneSeq++).padStart(2, '0')}`;
  const res = await execute(
    server,
    REGISTER,
    {
      input: {
        email: `idv-${randomUUID()}@example.com`,
        password: 'correct horse battery',
        name: 'Asha Rao',
        ...(opts.phone === false ? {} : { phone }),
      },
    },
    ctx(null),
  );
  expect(res.errors).toBeUndefined();
  const { user, refreshToken } = res.data!.register;
  const identity: Identity = { userId: user.id, role: 'CUSTOMER', tokenId: randomUUID(), verified: false };
  return { id: user.id as string, phone, identity, refreshToken: refreshToken as string };
}

const storedCode = (userId: string) => db.prisma.identityCode.findUnique({ where: { userId } });

beforeAll(async () => {
  db = await createTestDatabase('auth_identity');
  keys = await importSigningKeys([await generateSigningJwk()]);
  simulator = createOtpSimulator();
  simulatorHttp = await simulator.listen(0);
  otp = simulatorOtpSender(simulatorHttp.url);
  await server.start();
});
afterAll(async () => {
  await server.stop();
  await simulator?.close();
  await db?.drop();
});
beforeEach(() => {
  clock = Date.now();
});

describe('requestIdentityCode and verifyIdentity', () => {
  it('sends a 6-digit code to the phone, verifies it, and answers a token that says verified', async () => {
    const asha = await customer();
    const before = await execute(server, ME, {}, ctx(asha.identity));
    expect(before.data!.me).toEqual({
      id: asha.id,
      role: 'CUSTOMER',
      identityVerified: false,
      identityVerifiedAt: null,
    });

    const sent = await execute(server, REQUEST, { key: randomUUID() }, ctx(asha.identity));
    expect(sent.errors).toBeUndefined();
    expect(sent.data!.requestIdentityCode).toEqual({
      sentTo: `+91******${asha.phone.slice(-4)}`,
      expiresAt: new Date(clock + 300_000).toISOString(),
      resendAvailableAt: new Date(clock + 60_000).toISOString(),
      maxAttempts: 5,
    });
    // What the phone received, read over the simulator's HTTP API as a developer would.
    const res = await fetch(`${simulatorHttp.url}/messages/latest?to=${encodeURIComponent(asha.phone)}`);
    const message = (await res.json()) as { code: string; text: string };
    expect(message.code).toMatch(/^\d{6}$/);
    expect(message.text).toContain(message.code);
    expect(simulator.latestCode(asha.phone)).toBe(message.code);

    // Hashed at rest: a salted scrypt hash, not the code.
    const row = (await storedCode(asha.id))!;
    expect(row.codeHash).toMatch(/^scrypt\$/);
    expect(row.codeHash).not.toContain(message.code);
    expect(JSON.stringify(row)).not.toContain(message.code);
    expect(row.phone).toBe(asha.phone);

    const verified = await execute(server, VERIFY, { code: message.code }, ctx(asha.identity));
    expect(verified.errors).toBeUndefined();
    const payload = verified.data!.verifyIdentity;
    expect(payload.user).toMatchObject({ id: asha.id, role: 'CUSTOMER', identityVerified: true });
    expect(payload.user.identityVerifiedAt).toBe(new Date(clock).toISOString());
    expect(await verifyToken(payload.accessToken)).toMatchObject({
      userId: asha.id,
      role: 'CUSTOMER',
      verified: true,
    });
    const user = await db.prisma.user.findUniqueOrThrow({ where: { id: asha.id } });
    expect(user.identityVerifiedAt?.toISOString()).toBe(new Date(clock).toISOString());
    expect((await execute(server, ME, {}, ctx(asha.identity))).data!.me.identityVerified).toBe(true);

    // The refresh token from before the verification now gets tokens that carry it.
    const refreshed = await execute(
      server,
      `mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken user { identityVerified } } }`,
      { t: asha.refreshToken },
      ctx(null),
    );
    expect(refreshed.data!.refreshSession.user.identityVerified).toBe(true);
    expect(await verifyToken(refreshed.data!.refreshSession.accessToken)).toMatchObject({ verified: true });

    // The same code again (an answer lost): the same outcome, a new token.
    const again = await execute(server, VERIFY, { code: message.code }, ctx(asha.identity));
    expect(again.errors).toBeUndefined();
    expect(again.data!.verifyIdentity.user.identityVerified).toBe(true);

    // Neither the code nor its hash ever reached the log.
    const logged = JSON.stringify(lines);
    expect(logged).toContain('identity code sent');
    expect(logged).not.toContain(message.code);
    expect(logged).not.toContain(row.codeHash);
  });

  it('a retry with the same idempotency key gets the first answer and sends nothing', async () => {
    const ravi = await customer();
    const key = randomUUID();
    const first = await execute(server, REQUEST, { key }, ctx(ravi.identity));
    const code = simulator.latestCode(ravi.phone);
    clock += 5_000;
    const retry = await execute(server, REQUEST, { key }, ctx(ravi.identity));
    expect(retry).toEqual(first);
    expect(simulator.messages(ravi.phone)).toHaveLength(1);
    expect(simulator.latestCode(ravi.phone)).toBe(code);
  });

  it('refuses a second code within 60 s (its own code, a hint); then the new code replaces the old', async () => {
    const meera = await customer();
    await execute(server, REQUEST, { key: randomUUID() }, ctx(meera.identity));
    const oldCode = simulator.latestCode(meera.phone)!;
    clock += 45_000;
    const tooSoon = await execute(server, REQUEST, { key: randomUUID() }, ctx(meera.identity));
    expect(errorCodes(tooSoon)).toEqual(['IDENTITY_CODE_RESEND_TOO_SOON']);
    expect(tooSoon.errors![0]!.extensions!.retryAfterSeconds).toBe(15);
    expect(simulator.messages(meera.phone)).toHaveLength(1);

    clock += 15_000;
    const resent = await execute(server, REQUEST, { key: randomUUID() }, ctx(meera.identity));
    expect(resent.errors).toBeUndefined();
    const newCode = simulator.latestCode(meera.phone)!;
    expect(simulator.messages(meera.phone)).toHaveLength(2);
    if (newCode !== oldCode) {
      const old = await execute(server, VERIFY, { code: oldCode }, ctx(meera.identity));
      expect(errorCodes(old)).toEqual(['IDENTITY_CODE_INVALID']);
    }
    const ok = await execute(server, VERIFY, { code: newCode }, ctx(meera.identity));
    expect(ok.data!.verifyIdentity.user.identityVerified).toBe(true);
  });

  it('refuses an expired code (IDENTITY_CODE_EXPIRED), also when the stored expiry has passed', async () => {
    const kiran = await customer();
    await execute(server, REQUEST, { key: randomUUID() }, ctx(kiran.identity));
    const code = simulator.latestCode(kiran.phone)!;
    clock += 300_000;
    expect(errorCodes(await execute(server, VERIFY, { code }, ctx(kiran.identity)))).toEqual(['IDENTITY_CODE_EXPIRED']);

    // The same from the database's side: a live code whose expiry is moved into the past.
    clock += 60_000;
    await execute(server, REQUEST, { key: randomUUID() }, ctx(kiran.identity));
    await db.prisma.$executeRaw`
      UPDATE auth.identity_codes SET expires_at = ${new Date(clock - 1)} WHERE user_id = ${kiran.id}::uuid`;
    const fresh = simulator.latestCode(kiran.phone)!;
    expect(errorCodes(await execute(server, VERIFY, { code: fresh }, ctx(kiran.identity)))).toEqual([
      'IDENTITY_CODE_EXPIRED',
    ]);
    expect((await db.prisma.user.findUniqueOrThrow({ where: { id: kiran.id } })).identityVerifiedAt).toBeNull();
  });

  it('allows 5 wrong codes, then the code is dead even when right (IDENTITY_CODE_ATTEMPTS_EXCEEDED)', async () => {
    const dev = await customer();
    await execute(server, REQUEST, { key: randomUUID() }, ctx(dev.identity));
    const code = simulator.latestCode(dev.phone)!;
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await execute(server, VERIFY, { code: wrong }, ctx(dev.identity)));
    expect(answers.map((a) => [errorCodes(a)[0], a.errors![0]!.extensions!.attemptsLeft])).toEqual([
      ['IDENTITY_CODE_INVALID', 4],
      ['IDENTITY_CODE_INVALID', 3],
      ['IDENTITY_CODE_INVALID', 2],
      ['IDENTITY_CODE_INVALID', 1],
      ['IDENTITY_CODE_ATTEMPTS_EXCEEDED', undefined],
    ]);
    expect(errorCodes(await execute(server, VERIFY, { code }, ctx(dev.identity)))).toEqual([
      'IDENTITY_CODE_ATTEMPTS_EXCEEDED',
    ]);
    expect((await storedCode(dev.id))!.attempts).toBe(5);
    expect((await db.prisma.user.findUniqueOrThrow({ where: { id: dev.id } })).identityVerifiedAt).toBeNull();
  });

  it('counts guesses sent at once one by one: never more than 5 checked', async () => {
    const sam = await customer();
    await execute(server, REQUEST, { key: randomUUID() }, ctx(sam.identity));
    const code = simulator.latestCode(sam.phone)!;
    const wrong = String((Number(code) + 7) % 1_000_000).padStart(6, '0');
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => execute(server, VERIFY, { code: wrong }, ctx(sam.identity))),
    );
    const codes = answers.map((a) => errorCodes(a)[0]);
    expect(codes.filter((c) => c === 'IDENTITY_CODE_INVALID')).toHaveLength(4);
    expect(codes.filter((c) => c === 'IDENTITY_CODE_ATTEMPTS_EXCEEDED')).toHaveLength(8);
    expect((await storedCode(sam.id))!.attempts).toBe(5);
  });

  it('refuses no phone (BAD_USER_INPUT), a malformed code or key, no code requested, anonymous', async () => {
    const nophone = await customer({ phone: false });
    const before = simulator.messages().length;
    const refused = await execute(server, REQUEST, { key: randomUUID() }, ctx(nophone.identity));
    expect(errorCodes(refused)).toEqual(['BAD_USER_INPUT']);
    expect(refused.errors![0]!.extensions!.field).toBe('phone');
    expect(simulator.messages()).toHaveLength(before);
    expect(await storedCode(nophone.id)).toBeNull();

    expect(errorCodes(await execute(server, VERIFY, { code: '123456' }, ctx(nophone.identity)))).toEqual([
      'IDENTITY_CODE_INVALID',
    ]);
    for (const code of ['12345', '1234567', 'abcdef', '12 456'])
      expect(errorCodes(await execute(server, VERIFY, { code }, ctx(nophone.identity)))).toEqual(['BAD_USER_INPUT']);
    expect(errorCodes(await execute(server, REQUEST, { key: ' ' }, ctx(nophone.identity)))).toEqual(['BAD_USER_INPUT']);
    expect(errorCodes(await execute(server, REQUEST, { key: randomUUID() }, ctx(null)))).toEqual(['UNAUTHENTICATED']);
    expect(errorCodes(await execute(server, VERIFY, { code: '123456' }, ctx(null)))).toEqual(['UNAUTHENTICATED']);
  });

  it('a code the provider did not take is not kept: TRY_AGAIN, and the retry with the same key sends one', async () => {
    const lata = await customer();
    const key = randomUUID();
    const down = simulatorOtpSender('http://127.0.0.1:1');
    const failed = await execute(server, REQUEST, { key }, ctx(lata.identity, { otp: down }));
    expect(errorCodes(failed)).toEqual(['TRY_AGAIN']);
    expect(await storedCode(lata.id)).toBeNull();
    const retry = await execute(server, REQUEST, { key }, ctx(lata.identity));
    expect(retry.errors).toBeUndefined();
    expect(simulator.messages(lata.phone)).toHaveLength(1);
  });
});

describe('roles: AGENT, assigned by an administrator', () => {
  const admin = (): Identity => ({ userId: randomUUID(), role: 'ADMIN', tokenId: randomUUID(), verified: false });

  it('an admin makes a user an AGENT; their next tokens say so', async () => {
    const agent = await customer();
    const set = await execute(server, SET_ROLE, { id: agent.id, role: 'AGENT' }, ctx(admin()));
    expect(set.errors).toBeUndefined();
    expect(set.data!.setUserRole).toEqual({ id: agent.id, role: 'AGENT' });
    const refreshed = await execute(
      server,
      `mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken user { role } } }`,
      { t: agent.refreshToken },
      ctx(null),
    );
    expect(refreshed.data!.refreshSession.user.role).toBe('AGENT');
    expect(await verifyToken(refreshed.data!.refreshSession.accessToken)).toMatchObject({
      userId: agent.id,
      role: 'AGENT',
      verified: false,
    });
    const me = await execute(server, ME, {}, ctx({ ...agent.identity, role: 'AGENT' }));
    expect(me.data!.me.role).toBe('AGENT');
    // And back.
    const back = await execute(server, SET_ROLE, { id: agent.id, role: 'CUSTOMER' }, ctx(admin()));
    expect(back.data!.setUserRole.role).toBe('CUSTOMER');
  });

  it('refuses customers, agents (FORBIDDEN), anonymous, an unknown user, an admin changing own role', async () => {
    const target = await customer();
    for (const role of ['CUSTOMER', 'AGENT'] as Role[]) {
      const res = await execute(server, SET_ROLE, { id: target.id, role: 'ADMIN' }, ctx({ ...target.identity, role }));
      expect(errorCodes(res)).toEqual(['FORBIDDEN']);
    }
    expect(errorCodes(await execute(server, SET_ROLE, { id: target.id, role: 'ADMIN' }, ctx(null)))).toEqual([
      'UNAUTHENTICATED',
    ]);
    expect(errorCodes(await execute(server, SET_ROLE, { id: randomUUID(), role: 'AGENT' }, ctx(admin())))).toEqual([
      'NOT_FOUND',
    ]);
    expect(errorCodes(await execute(server, SET_ROLE, { id: 'nope', role: 'AGENT' }, ctx(admin())))).toEqual([
      'BAD_USER_INPUT',
    ]);
    const self = admin();
    await db.prisma.user.create({
      data: {
        id: self.userId,
        email: `admin-${randomUUID()}@example.com`,
        name: 'A',
        passwordHash: 'x',
        role: 'ADMIN',
      },
    });
    expect(errorCodes(await execute(server, SET_ROLE, { id: self.userId, role: 'CUSTOMER' }, ctx(self)))).toEqual([
      'BAD_USER_INPUT',
    ]);
    expect((await db.prisma.user.findUniqueOrThrow({ where: { id: target.id } })).role).toBe('CUSTOMER');
  });
});
