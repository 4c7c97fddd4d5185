import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdempotency, createTokenVerifier, type Identity } from '@tatkal/common';
import { Prisma } from '@tatkal/db';
import type { AuthContext } from '../src/context.ts';
import { generateSigningJwk, importSigningKeys, publicJwks, type SigningKey } from '../src/domain/keys.ts';
import { disabledOtpSender } from '../src/otp/sender.ts';
import { buildAuthServer } from '../src/server.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { errorCodes, execute } from '../../../test/support/graphql.ts';
import { testLogger } from '../../../test/support/logger.ts';
import { countingPrisma } from '../../../test/support/queryCount.ts';

let db: TestDatabase;
let keys: SigningKey[];
const { server } = buildAuthServer({ logger: testLogger, production: false });
const settings = { issuer: 'tatkal-auth', audience: 'tatkal-api', accessTokenTtlSeconds: 900, refreshTokenTtlDays: 30 };
const ctx = (identity: Identity | null = null): AuthContext => ({
  prisma: db.prisma,
  keys,
  settings,
  // Identity verification has its own test (identity.int.test.ts).
  otp: disabledOtpSender,
  idempotency: createIdempotency({ db: db.prisma, sql: Prisma, schema: 'auth' }),
  identity,
  requestId: 't',
  log: testLogger,
});

const REGISTER = `mutation($input: RegisterInput!) {
  register(input: $input) { user { id email name role } accessToken refreshToken }
}`;
const LOGIN = `mutation($e: String!, $p: String!) {
  login(email: $e, password: $p) { user { id } accessToken refreshToken }
}`;
const REFRESH = `mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken } }`;

beforeAll(async () => {
  db = await createTestDatabase('auth');
  keys = await importSigningKeys([await generateSigningJwk()]);
  await server.start();
});
afterAll(async () => {
  await server.stop();
  await db?.drop();
});

describe('register and login', () => {
  it('registers a user, lower-cases the email and issues a verifiable EdDSA token', async () => {
    const res = await execute(
      server,
      REGISTER,
      { input: { email: 'Asha.Rao@Example.com', password: 'correct horse battery', name: 'Asha Rao' } },
      ctx(),
    );
    expect(res.errors).toBeUndefined();
    const payload = res.data!.register;
    expect(payload.user).toMatchObject({ email: 'asha.rao@example.com', name: 'Asha Rao', role: 'CUSTOMER' });
    const verify = createTokenVerifier({
      jwks: publicJwks(keys),
      issuer: settings.issuer,
      audience: settings.audience,
    });
    await expect(verify(`Bearer ${payload.accessToken}`)).resolves.toMatchObject({
      userId: payload.user.id,
      role: 'CUSTOMER',
    });
    const stored = await db.prisma.user.findUniqueOrThrow({ where: { id: payload.user.id } });
    expect(stored.passwordHash).toMatch(/^scrypt\$/);
    expect(stored.passwordHash).not.toContain('correct horse');
  });

  it('refuses a duplicate email in another case, a weak password and a malformed email, writing nothing', async () => {
    const before = await db.prisma.user.count();
    const dup = await execute(
      server,
      REGISTER,
      { input: { email: 'ASHA.RAO@example.COM', password: 'another good passphrase', name: 'X' } },
      ctx(),
    );
    expect(errorCodes(dup)).toEqual(['BAD_USER_INPUT']);
    const weak = await execute(
      server,
      REGISTER,
      { input: { email: 'weak@example.com', password: 'short', name: 'X' } },
      ctx(),
    );
    expect(errorCodes(weak)).toEqual(['BAD_USER_INPUT']);
    const huge = await execute(
      server,
      REGISTER,
      { input: { email: 'huge@example.com', password: 'x1'.repeat(5000), name: 'X' } },
      ctx(),
    );
    expect(errorCodes(huge)).toEqual(['BAD_USER_INPUT']);
    const email = await execute(
      server,
      REGISTER,
      { input: { email: "x' OR 1=1 --", password: 'correct horse battery', name: 'X' } },
      ctx(),
    );
    expect(errorCodes(email)).toEqual(['BAD_USER_INPUT']);
    expect(await db.prisma.user.count()).toBe(before);
  });

  it('gives the same answer for an unknown email and a wrong password', async () => {
    const unknown = await execute(server, LOGIN, { e: 'nobody@example.com', p: 'correct horse battery' }, ctx());
    const wrong = await execute(server, LOGIN, { e: 'asha.rao@example.com', p: 'wrong horse battery' }, ctx());
    expect(errorCodes(unknown)).toEqual(['UNAUTHENTICATED']);
    expect(unknown.errors![0]!.message).toBe(wrong.errors![0]!.message);
    const ok = await execute(server, LOGIN, { e: 'ASHA.rao@example.com', p: 'correct horse battery' }, ctx());
    expect(ok.errors).toBeUndefined();
  });
});

describe('refresh tokens', () => {
  const loginToken = async () =>
    (await execute(server, LOGIN, { e: 'asha.rao@example.com', p: 'correct horse battery' }, ctx())).data!.login
      .refreshToken as string;
  /** Moves a token's rotation back in time: past the grace window without waiting for it. */
  const rotatedSecondsAgo = (token: string, seconds: number) =>
    db.prisma.$executeRaw`
      UPDATE auth.refresh_tokens SET rotated_at = now() - make_interval(secs => ${seconds})
      WHERE token_hash = encode(sha256(convert_to(${token}, 'UTF8')), 'hex')`;
  const family = async (token: string) => {
    const rows = await db.prisma.$queryRaw<{ family_id: string }[]>`
      SELECT family_id::text FROM auth.refresh_tokens
      WHERE token_hash = encode(sha256(convert_to(${token}, 'UTF8')), 'hex')`;

    return db.prisma.refreshToken.findMany({ where: { familyId: rows[0]!.family_id }, orderBy: { createdAt: 'asc' } });
  };

  it('rotates on every use and revokes the family when a rotated token is reused after the grace window', async () => {
    const first = await loginToken();
    const second = (await execute(server, REFRESH, { t: first }, ctx())).data!.refreshSession.refreshToken;
    expect(second).not.toBe(first);
    await rotatedSecondsAgo(first, 11);
    const reuse = await execute(server, REFRESH, { t: first }, ctx());
    expect(errorCodes(reuse)).toEqual(['UNAUTHENTICATED']);
    // The thief's reuse also logged out the legitimate holder of the newer token.
    const afterRevoke = await execute(server, REFRESH, { t: second }, ctx());
    expect(errorCodes(afterRevoke)).toEqual(['UNAUTHENTICATED']);
    expect((await family(first)).map((t) => [t.revokedAt !== null, t.successorSealed])).toEqual([
      [true, null],
      [true, null],
    ]);
  });

  it('a refresh retried in the grace window (answer lost) gets the same new pair; the session lives on', async () => {
    const first = await loginToken();
    const answer = (await execute(server, REFRESH, { t: first }, ctx())).data!.refreshSession;
    // Three retries at once, as a client with a flaky connection might send them.
    const retries = await Promise.all([1, 2, 3].map(() => execute(server, REFRESH, { t: first }, ctx())));
    for (const retry of retries) {
      expect(retry.errors).toBeUndefined();
      expect(retry.data!.refreshSession).toEqual(answer);
    }
    expect(await family(first)).toHaveLength(2);
    expect((await family(first)).every((t) => t.revokedAt === null)).toBe(true);
    // The pair works: it rotates on, and then the first token's copy of it is gone.
    const third = await execute(server, REFRESH, { t: answer.refreshToken }, ctx());
    expect(third.errors).toBeUndefined();
    const rows = await family(first);
    expect(rows.map((t) => t.successorSealed !== null)).toEqual([false, true, false]);
    expect(rows[0]!.successorSealed).toBeNull();
  });

  it('treats the first token as stolen once its successor was used, even inside the grace window', async () => {
    const first = await loginToken();
    const second = (await execute(server, REFRESH, { t: first }, ctx())).data!.refreshSession.refreshToken;
    expect((await execute(server, REFRESH, { t: second }, ctx())).errors).toBeUndefined();
    expect(errorCodes(await execute(server, REFRESH, { t: first }, ctx()))).toEqual(['UNAUTHENTICATED']);
    expect((await family(first)).every((t) => t.revokedAt !== null)).toBe(true);
  });

  it('keeps no readable copy of the new pair: it is stored sealed with a key only the old token gives', async () => {
    const first = await loginToken();
    const answer = (await execute(server, REFRESH, { t: first }, ctx())).data!.refreshSession;
    const [old] = await family(first);
    expect(old!.successorSealed).toBeTruthy();
    expect(old!.successorSealed).not.toContain(answer.refreshToken);
    expect(old!.successorSealed).not.toContain(answer.accessToken.split('.')[1]);
  });

  it('logout revokes the token', async () => {
    const login = await execute(server, LOGIN, { e: 'asha.rao@example.com', p: 'correct horse battery' }, ctx());
    const token = login.data!.login.refreshToken;
    const out = await execute(server, `mutation($t: String!) { logout(refreshToken: $t) }`, { t: token }, ctx());
    expect(out.data!.logout).toBe(true);
    expect(errorCodes(await execute(server, REFRESH, { t: token }, ctx()))).toEqual(['UNAUTHENTICATED']);
  });
});

describe('User entity and admin queries', () => {
  it('resolves User by id through _entities for the user themself, email included', async () => {
    const user = await db.prisma.user.findUniqueOrThrow({ where: { email: 'asha.rao@example.com' } });
    const q = `query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id name email } } }`;
    const own = await execute(
      server,
      q,
      { r: [{ __typename: 'User', id: user.id }] },
      ctx({ userId: user.id, role: 'CUSTOMER', tokenId: 'j', verified: false }),
    );
    expect(own.data!._entities[0]).toEqual({ id: user.id, name: 'Asha Rao', email: 'asha.rao@example.com' });
  });

  it('resolves another user, or any user for an anonymous caller, as null: a user id reveals no name', async () => {
    const user = await db.prisma.user.findUniqueOrThrow({ where: { email: 'asha.rao@example.com' } });
    const q = `query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id name } } }`;
    for (const who of [
      null,
      { userId: crypto.randomUUID(), role: 'CUSTOMER' as const, tokenId: 'j', verified: false },
    ]) {
      const res = await execute(server, q, { r: [{ __typename: 'User', id: user.id }] }, ctx(who));
      expect(res).toEqual({ data: { _entities: [null] } });
    }
    const admin = await execute(
      server,
      q,
      { r: [{ __typename: 'User', id: user.id }] },
      ctx({ userId: crypto.randomUUID(), role: 'ADMIN', tokenId: 'j', verified: false }),
    );
    expect(admin.data!._entities).toEqual([{ id: user.id, name: 'Asha Rao' }]);
  });

  it('lists users for admins only', async () => {
    const q = `{ users(first: 5) { nodes { id } nextCursor } }`;
    expect(errorCodes(await execute(server, q, {}, ctx()))).toEqual(['UNAUTHENTICATED']);
    expect(
      errorCodes(
        await execute(
          server,
          q,
          {},
          ctx({ userId: crypto.randomUUID(), role: 'CUSTOMER', tokenId: 'j', verified: false }),
        ),
      ),
    ).toEqual(['FORBIDDEN']);
    const admin = await execute(
      server,
      q,
      {},
      ctx({ userId: crypto.randomUUID(), role: 'ADMIN', tokenId: 'j', verified: false }),
    );
    expect(admin.errors).toBeUndefined();
    expect(admin.data!.users.nodes.length).toBe(await db.prisma.user.count());
  });

  it('resolves 20 references with one query, in order, null for unknown and malformed ids', async () => {
    const made = Array.from({ length: 14 }, (_, i) => ({
      id: crypto.randomUUID(),
      email: `batch${i}@example.com`,
      name: `Batch ${i}`,
      passwordHash: 'scrypt$unused',
    }));
    await db.prisma.user.createMany({ data: made });
    const ids = [
      ...made.slice(0, 7).map((u) => u.id),
      crypto.randomUUID(),
      'not-a-uuid',
      ...made.slice(7).map((u) => u.id),
      crypto.randomUUID(),
      made[3]!.id,
      "x' OR 1=1 --",
      crypto.randomUUID(),
    ];
    expect(ids).toHaveLength(20);
    const counting = countingPrisma(db.url);
    try {
      const q = `query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id name email } } }`;
      let res: Awaited<ReturnType<typeof execute>> | undefined;
      const admin = { userId: crypto.randomUUID(), role: 'ADMIN' as const, tokenId: 'j', verified: false };
      const sql = await counting.statementsDuring(async () => {
        res = await execute(
          server,
          q,
          { r: ids.map((id) => ({ __typename: 'User', id })) },
          { ...ctx(admin), prisma: counting.prisma },
        );
      });
      expect(res!.errors).toBeUndefined();
      const byId = new Map<string, unknown>(made.map((u) => [u.id, { id: u.id, name: u.name, email: u.email }]));
      expect(res!.data!._entities).toEqual(ids.map((id) => byId.get(id) ?? null));
      // Also 1 before the loader (Prisma batches findUnique calls made in one tick); this keeps it so.
      expect(sql).toHaveLength(1);
      expect(sql[0]).toMatch(/FROM "auth"\."users"/);
    } finally {
      await counting.disconnect();
    }
  });
});
