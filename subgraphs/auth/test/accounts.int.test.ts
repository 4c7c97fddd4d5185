// One account per person (docs/api.md, "Limits per person"): per email (any case) and per mobile
// number; a register that meets another account's writes nothing.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdempotency } from '@tatkal/common';
import { Prisma } from '@tatkal/db';
import type { AuthContext } from '../src/context.ts';
import { generateSigningJwk, importSigningKeys, type SigningKey } from '../src/domain/keys.ts';
import { disabledOtpSender } from '../src/otp/sender.ts';
import { buildAuthServer } from '../src/server.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { errorCodes, execute } from '../../../test/support/graphql.ts';
import { testLogger } from '../../../test/support/logger.ts';

let db: TestDatabase;
let keys: SigningKey[];
const { server } = buildAuthServer({ logger: testLogger, production: false });
const settings = { issuer: 'tatkal-auth', audience: 'tatkal-api', accessTokenTtlSeconds: 900, refreshTokenTtlDays: 30 };
const ctx = (): AuthContext => ({
  prisma: db.prisma,
  keys,
  settings,
  otp: disabledOtpSender,
  idempotency: createIdempotency({ db: db.prisma, sql: Prisma, schema: 'auth' }),
  identity: null,
  requestId: 't',
  log: testLogger,
});

const REGISTER = `mutation($input: RegisterInput!) { register(input: $input) { user { id email } } }`;
const register = (email: string, phone?: string) =>
  execute(server, REGISTER, { input: { email, password: 'correct horse battery', name: 'Asha Rao', phone } }, ctx());
const email = () => `person-${randomUUID()}@example.com`;

beforeAll(async () => {
  db = await createTestDatabase('accounts');
  keys = await importSigningKeys([await generateSigningJwk()]);
  await server.start();
});
afterAll(async () => {
  await server.stop();
  await db?.drop();
});

describe('one account per person', () => {
  it('refuses a mobile number another account has (PHONE_IN_USE) and writes nothing', async () => {
    const first = await register(email(), '+919812345670');
    expect(first.errors).toBeUndefined();
    const users = await db.prisma.user.count();
    const second = await register(email(), ' +919812345670 ');
    expect(errorCodes(second)).toEqual(['PHONE_IN_USE']);
    expect(second.errors![0]!.extensions!.field).toBe('phone');
    expect(await db.prisma.user.count()).toBe(users);
    // Another number is fine, and so are accounts without one.
    expect((await register(email(), '+919812345671')).errors).toBeUndefined();
    expect((await register(email())).errors).toBeUndefined();
    expect((await register(email())).errors).toBeUndefined();
  });

  it('refuses an email another account has, in any case (BAD_USER_INPUT on email), and writes nothing', async () => {
    const address = email();
    expect((await register(address, '+919812345672')).errors).toBeUndefined();
    const users = await db.prisma.user.count();
    const again = await register(address.toUpperCase(), '+919812345673');
    expect(errorCodes(again)).toEqual(['BAD_USER_INPUT']);
    expect(again.errors![0]!.extensions!.field).toBe('email');
    expect(await db.prisma.user.count()).toBe(users);
  });

  it('lets exactly one of two simultaneous registrations with one mobile number through', async () => {
    const results = await Promise.all([register(email(), '+919812345674'), register(email(), '+919812345674')]);
    expect(results.map((r) => (r.errors ? errorCodes(r)[0] : 'OK')).sort()).toEqual(['OK', 'PHONE_IN_USE']);
    expect(await db.prisma.user.count({ where: { phone: '+919812345674' } })).toBe(1);
  });
});
