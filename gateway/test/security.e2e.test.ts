// Who gets in, and how much they may ask: the real gateway and subgraphs over HTTP, real
// PostgreSQL and Redis, small limits from env. Each client request comes from its own loopback
// address (127.0.0.x) where a test needs its own rate-limit budget; the gateway keys per-IP
// limits on the socket address, whatever x-forwarded-for the client sends.
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { networkInterfaces } from 'node:os';
import { Writable } from 'node:stream';
import { decodeProtectedHeader, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentityAssertions, createLogger, createRedis, IDENTITY_ASSERTION_HEADER } from '@tatkal/common';
import { loadGatewayConfig } from '../src/config.ts';
import { startGatewayService } from '../src/service.ts';
import { loadAuthConfig } from '../../subgraphs/auth/src/config.ts';
import { generateSigningJwk, importSigningKeys } from '../../subgraphs/auth/src/domain/keys.ts';
import { startAuthService } from '../../subgraphs/auth/src/service.ts';
import { createTestRun } from '../../subgraphs/booking/test/fixtures.ts';
import { signatureHeader } from '../../subgraphs/payment/src/webhookSignature.ts';
import { REDIS_URL } from '../../test/support/env.ts';
import { scrape } from '../../test/support/metrics.ts';
import { waitFor } from '../../test/support/wait.ts';
import { startSupergraph, type RunningSupergraph } from '../../test/support/supergraph.ts';
import { createTestKeys } from '../../test/support/tokens.ts';

interface GqlResult {
  // biome-ignore lint/suspicious/noExplicitAny: tests read results field by field, as the schema shapes them.
  data?: Record<string, any> | null;
  errors?: { message: string; path?: unknown[]; extensions?: Record<string, unknown> }[];
}
interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: GqlResult;
}

// Every log line of every process, to check request ids.
const logLines: Record<string, unknown>[] = [];
const logger = createLogger(
  'security-e2e',
  'info',
  new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line.trim()) logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  }),
);

let sg: RunningSupergraph;
const LIMITS = {
  RATE_LIMIT_IP: '300/1m',
  RATE_LIMIT_LOGIN: '10/1m',
  RATE_LIMIT_REGISTER: '5/1m',
  RATE_LIMIT_EXPENSIVE: '3/1m',
  QUERY_MAX_DEPTH: '12',
  QUERY_MAX_ALIASES: '30',
  QUERY_MAX_TOKENS: '5000',
  QUERY_MAX_COST: '5000',
  // Refetch the JWKS at once on an unknown kid (30 s in production).
  AUTH_JWKS_COOLDOWN_MS: '0',
  BODY_LIMIT: '100kb',
  // Known to the test: it signs like the gateway, and starts production processes sharing it.
  IDENTITY_ASSERTION_SECRET: randomBytes(32).toString('base64url'),
  PAYMENT_WEBHOOK_SECRET: `whsec_e2e_${randomUUID()}`,
};

beforeAll(async () => {
  sg = await startSupergraph('e2e_security', LIMITS, { logger });
});
afterAll(async () => {
  await sg?.stop();
});

let lastIp = 10;
/** A fresh loopback address: its own per-IP rate-limit budget. */
const nextIp = () => `127.0.0.${++lastIp}`;

const agents = new Map<string, http.Agent>();
function post(
  body: unknown,
  opts: { ip?: string; headers?: Record<string, string>; url?: string } = {},
): Promise<HttpResult> {
  const url = new URL(opts.url ?? sg.gatewayUrl);
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  const ip = opts.ip ?? '127.0.0.1';
  if (!agents.has(ip)) agents.set(ip, new http.Agent({ keepAlive: true, localAddress: ip, maxSockets: 32 }));
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        agent: agents.get(ip),
        headers: {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(payload)),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) as GqlResult });
          } catch {
            reject(new Error(`not JSON (${res.statusCode}): ${text.slice(0, 200)}`));
          }
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const gql = (query: string, variables: Record<string, unknown> = {}, opts: Parameters<typeof post>[1] = {}) =>
  post({ query, variables }, opts);
const codes = (r: HttpResult) => (r.body.errors ?? []).map((e) => e.extensions?.code);
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

const REGISTER = `mutation($input: RegisterInput!) {
  register(input: $input) { user { id } accessToken refreshToken }
}`;
const LOGIN = `mutation($e: String!, $p: String!) {
  login(email: $e, password: $p) { user { id } accessToken refreshToken }
}`;
const REFRESH = `mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken } }`;
const PASSWORD = 'a long enough passphrase';

async function registerUser(email = `u-${randomUUID()}@example.com`) {
  const res = await gql(REGISTER, { input: { email, password: PASSWORD, name: 'Test User' } }, { ip: nextIp() });
  expect(res.body.errors).toBeUndefined();
  return {
    email,
    id: res.body.data!.register.user.id as string,
    accessToken: res.body.data!.register.accessToken as string,
    refreshToken: res.body.data!.register.refreshToken as string,
  };
}

/** Rate-limit refusals so far, by limit name (one registry for the whole supergraph in this process). */
const rejections = async (limit: string) =>
  (await scrape(sg.gatewayUrl.replace('/graphql', ''))).sum('tatkal_rate_limit_rejections_total', { limit });

const counts = async () => ({
  users: await sg.db.prisma.user.count(),
  refreshTokens: await sg.db.prisma.refreshToken.count(),
  reservations: await sg.db.prisma.reservation.count(),
});

/** Signs like the auth subgraph, with its current signing key, but with the claims a test wants. */
async function signWithAuthKey(claims: { sub: string; aud?: string; expSecondsFromNow?: number }) {
  const [key] = await importSigningKeys(
    (JSON.parse(readFileSync(sg.authKeysFile, 'utf8')) as { keys: Parameters<typeof importSigningKeys>[0] }).keys,
  );
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ role: 'ADMIN' })
    .setProtectedHeader({ alg: 'EdDSA', kid: key!.kid })
    .setIssuer('tatkal-auth')
    .setAudience(claims.aud ?? 'tatkal-api')
    .setSubject(claims.sub)
    .setIssuedAt(now - 3600)
    .setExpirationTime(now + (claims.expSecondsFromNow ?? 600))
    .setJti(randomUUID())
    .sign(key!.privateKey);
}

describe('registration and login input', () => {
  it('BAD_USER_INPUT for weak, 10 KB, common passwords, bad emails, SQL-looking input; nothing written', async () => {
    const before = await counts();
    const attempts: [Record<string, string>, string][] = [
      [{ email: 'weak@example.com', password: 'short', name: 'X' }, 'password'],
      [{ email: 'weak@example.com', password: 'aaaaaaaaaaaaaaaa', name: 'X' }, 'password'],
      [{ email: 'weak@example.com', password: 'Password1234', name: 'X' }, 'password'],
      [{ email: 'huge@example.com', password: 'x1y2z3'.repeat(1700), name: 'X' }, 'password'],
      [{ email: 'not-an-email', password: PASSWORD, name: 'X' }, 'email'],
      [{ email: 'a@b', password: PASSWORD, name: 'X' }, 'email'],
      [{ email: '', password: PASSWORD, name: 'X' }, 'email'],
      [{ email: "x' OR 1=1 --", password: PASSWORD, name: 'X' }, 'email'],
      [{ email: "robert@example.com'); DROP TABLE auth.users; --", password: PASSWORD, name: 'X' }, 'email'],
    ];
    for (const [input, field] of attempts) {
      const res = await gql(REGISTER, { input }, { ip: nextIp() });
      expect(res.body.data).toBeNull();
      expect(res.body.errors).toHaveLength(1);
      expect(res.body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
    expect(await counts()).toEqual(before);
  });

  it('refuses a duplicate registration in another letter case without saying more', async () => {
    const user = await registerUser('Meera.Iyer@example.com');
    const before = await counts();
    const dup = await gql(
      REGISTER,
      { input: { email: 'MEERA.iyer@EXAMPLE.com', password: 'another fine passphrase', name: 'Impostor' } },
      { ip: nextIp() },
    );
    expect(codes(dup)).toEqual(['BAD_USER_INPUT']);
    expect(dup.body.errors![0]!.extensions!.field).toBe('email');
    expect(await counts()).toEqual(before);
    const stored = await sg.db.prisma.user.findUniqueOrThrow({ where: { id: user.id } });
    expect(stored.name).toBe('Test User');
  });

  it('treats SQL-looking strings as data: login, search and PNR lookups answer normally and leak nothing', async () => {
    const user = await registerUser();
    const ip = nextIp();
    const before = await counts();
    const login = await gql(LOGIN, { e: "' OR '1'='1' --", p: "' OR '1'='1" }, { ip });
    expect(codes(login)).toEqual(['UNAUTHENTICATED']);
    expect(login.body.errors![0]!.message).toBe('Email or password is incorrect');
    const search = await gql(
      `query($q: String!) { searchStations(query: $q, limit: 5) { station { code } } }`,
      { q: "'; DROP TABLE search.station_docs; --" },
      { ip },
    );
    expect(search.body.errors).toBeUndefined();
    expect(Array.isArray(search.body.data!.searchStations)).toBe(true);
    const pnr = await gql(
      `query($p: String!) { reservation(pnr: $p) { pnr } }`,
      { p: "1' OR '1'='1" },
      { ip, headers: bearer(user.accessToken) },
    );
    expect(codes(pnr)).toEqual(['BAD_USER_INPUT']);
    expect(pnr.body.data).toEqual({ reservation: null });
    expect(await counts()).toEqual(before);
    expect(
      (await gql(`{ searchStations(query: "mumbai", limit: 1) { station { code } } }`, {}, { ip })).body.data!
        .searchStations,
    ).toHaveLength(1);
  });
});

// Issue 12: what a careless client or an attacker sends gets a clear error with a documented
// code, and nothing is written. One row per mistake; `token` rows are signed in.
describe('client mistakes: a clear error each, nothing written', () => {
  const STATION = `query($c: ID!) { station(code: $c) { name } }`;
  const TRAIN = `query($n: ID!) { train(number: $n) { name } }`;
  const RUN = `query($t: String!, $d: Date!) { trainRun(trainNumber: $t, date: $d) { id } }`;
  const BETWEEN = `query($d: Date!) { trainsBetween(from: "MMCT", to: "NDLS", date: $d) { originDate } }`;
  const RESERVE = `mutation($input: ReserveSeatsInput!, $key: String!) {
    reserveSeats(input: $input, idempotencyKey: $key) { pnr }
  }`;
  const reserveInput = (over: Record<string, unknown> = {}, passenger: Record<string, unknown> = {}) => ({
    trainNumber: '12951',
    date: '2030-01-01',
    from: 'MMCT',
    to: 'NDLS',
    class: 'THIRD_AC',
    passengers: [{ name: 'Asha Rao', age: 34, gender: 'FEMALE', ...passenger }],
    ...over,
  });
  type Row = {
    name: string;
    body: { query: string; variables?: Record<string, unknown>; operationName?: string };
    token?: true;
    status: number;
    code: string;
    field?: string;
  };
  const rows: Row[] = [
    // An impossible Date, as a variable or a literal: refused at the gateway, no subgraph called.
    ...['2026-13-45', '2027-02-30', 'tomorrow', '2026-12-01T10:00:00+05:30'].map(
      (d): Row => ({
        name: `trainsBetween date ${d}`,
        body: { query: BETWEEN, variables: { d } },
        status: 400,
        code: 'BAD_USER_INPUT',
        field: 'date',
      }),
    ),
    {
      name: 'trainRun date 2026-13-45',
      body: { query: RUN, variables: { t: '12951', d: '2026-13-45' } },
      status: 400,
      code: 'BAD_USER_INPUT',
      field: 'date',
    },
    {
      name: 'trainRun literal date 2027-02-30',
      body: { query: `{ trainRun(trainNumber: "12951", date: "2027-02-30") { id } }` },
      status: 400,
      code: 'BAD_USER_INPUT',
      field: 'date',
    },
    {
      name: 'reserveSeats input.date 2027-02-30',
      body: { query: RESERVE, variables: { key: randomUUID(), input: reserveInput({ date: '2027-02-30' }) } },
      token: true,
      status: 400,
      code: 'BAD_USER_INPUT',
      field: 'input.date',
    },
    // A NUL (PostgreSQL refuses it) or another control character in any string argument.
    {
      name: 'register name with NUL',
      body: {
        query: REGISTER,
        variables: { input: { email: `nul-${randomUUID()}@example.com`, password: PASSWORD, name: 'Asha\u0000Rao' } },
      },
      status: 400,
      code: 'BAD_USER_INPUT',
      field: 'input.name',
    },
    {
      name: 'login email with NUL',
      body: { query: LOGIN, variables: { e: 'asha\u0000@example.com', p: PASSWORD } },
      status: 400,
      code: 'BAD_USER_INPUT',
      field: 'email',
    },
    {
      name: 'station(code) with NUL',
      body: { query: STATION, variables: { c: 'ND\u0000LS' } },
      status: 400,
      code: 'BAD_USER_INPUT',
      field: 'code',
    },
    {
      name: 'station(code) literal with NUL',
      body: { query: `{ station(code: "ND\\u0000LS") { name } }` },
      status: 400,
      code: 'BAD_USER_INPUT',
      field: 'code',
    },
    {
      name: 'train(number) with NUL',
      body: { query: TRAIN, variables: { n: '12951\u0000' } },
      status: 400,
      code: 'BAD_USER_INPUT',
      field: 'number',
    },
    {
      name: 'trainRun(trainNumber) with NUL',
      body: { query: RUN, variables: { t: '\u000012951', d: '2030-01-01' } },
      status: 400,
      code: 'BAD_USER_INPUT',
      field: 'trainNumber',
    },
    {
      name: 'searchStations query with an escape character',
      body: {
        query: `query($q: String!) { searchStations(query: $q) { station { code } } }`,
        variables: { q: 'mumbai\u001b[2J' },
      },
      status: 400,
      code: 'BAD_USER_INPUT',
      field: 'query',
    },
    {
      name: 'reserveSeats passenger name with a newline',
      body: { query: RESERVE, variables: { key: randomUUID(), input: reserveInput({}, { name: 'Asha\nRao' }) } },
      token: true,
      status: 400,
      code: 'BAD_USER_INPUT',
      field: 'input.passengers[0].name',
    },
    // No operation to run.
    {
      name: 'unknown operationName',
      body: { query: `query A { __typename }`, operationName: 'Nope' },
      status: 400,
      code: 'BAD_REQUEST',
    },
    {
      name: 'two operations, no operationName',
      body: { query: `query A { __typename } query B { __typename }` },
      status: 400,
      code: 'BAD_REQUEST',
    },
  ];

  it.each(rows)('$name: HTTP $status, $code', async (row) => {
    const user = row.token ? await registerUser() : null;
    const before = await counts();
    const res = await post(row.body, { ip: nextIp(), headers: user ? bearer(user.accessToken) : {} });
    expect({
      status: res.status,
      errors: res.body.errors?.map((e) => ({
        code: e.extensions?.code,
        ...(row.field ? { field: e.extensions?.field } : {}),
      })),
    }).toEqual({
      status: row.status,
      errors: [{ code: row.code, ...(row.field ? { field: row.field } : {}) }],
    });
    expect(res.body.data ?? null).toBeNull();
    expect(res.body.errors![0]!.message).not.toMatch(/internal|\d{3}: /i);
    expect(await counts()).toEqual(before);
  });

  it("extensions.replayed only on replays: a fresh key's first answer is a plain domain error", async () => {
    const user = await registerUser();
    const ops = [
      {
        name: 'cancelReservation',
        query: `mutation($k: String!) { cancelReservation(pnr: "1000000001", idempotencyKey: $k) { status } }`,
        variables: {},
      },
      {
        name: 'createPayment',
        query: `mutation($k: String!, $r: ID!) { createPayment(reservationId: $r, idempotencyKey: $k) { id } }`,
        variables: { r: randomUUID() },
      },
    ];
    for (const op of ops) {
      const key = randomUUID();
      const first = await gql(
        op.query,
        { ...op.variables, k: key },
        { headers: bearer(user.accessToken), ip: nextIp() },
      );
      const again = await gql(
        op.query,
        { ...op.variables, k: key },
        { headers: bearer(user.accessToken), ip: nextIp() },
      );
      const code = first.body.errors?.[0]?.extensions?.code;
      expect(['NOT_FOUND', 'FORBIDDEN'], op.name).toContain(code);
      expect(first.body.errors![0]!.extensions, op.name).not.toHaveProperty('replayed');
      expect(again.body.errors![0]!.extensions, op.name).toMatchObject({ code, replayed: true });
    }
  });
});

describe('payment webhooks', () => {
  it('a signed payment.succeeded for another amount is stored but confirms nothing', async () => {
    const user = await registerUser();
    const run = await createTestRun(sg.db.prisma, { coaches: 1, berthsPerCoach: 8 });
    const held = await gql(
      `mutation($input: ReserveSeatsInput!, $key: String!) {
        reserveSeats(input: $input, idempotencyKey: $key) { id pnr status farePaise }
      }`,
      {
        key: randomUUID(),
        input: {
          runId: run.runId,
          from: run.stations[0],
          to: run.stations[2],
          class: 'SLEEPER',
          passengers: [{ name: 'Asha Rao', age: 34, gender: 'FEMALE' }],
        },
      },
      { headers: bearer(user.accessToken), ip: nextIp() },
    );
    const reservation = held.body.data!.reserveSeats as { id: string; pnr: string; status: string; farePaise: number };
    expect(reservation.status).toBe('HELD');
    const paid = await gql(
      `mutation($r: ID!, $k: String!) {
        createPayment(reservationId: $r, idempotencyKey: $k) { id providerRef amountPaise }
      }`,
      { r: reservation.id, k: randomUUID() },
      { headers: bearer(user.accessToken), ip: nextIp() },
    );
    const payment = paid.body.data!.createPayment as { id: string; providerRef: string; amountPaise: number };
    expect(payment.amountPaise).toBe(reservation.farePaise);

    const body = JSON.stringify({
      id: `evt_${randomUUID()}`,
      type: 'payment.succeeded',
      created: Math.floor(Date.now() / 1000),
      data: { providerRef: payment.providerRef, amountPaise: 100, currency: 'INR' },
    });
    const res = await fetch(`${sg.urls.webhooks}/webhooks/payments`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'payment-signature': signatureHeader([LIMITS.PAYMENT_WEBHOOK_SECRET], body),
      },
      body,
    });
    expect({ status: res.status, body: await res.json() }).toEqual({
      status: 200,
      body: { received: true, outcome: 'AMOUNT_MISMATCH' },
    });
    // The event is kept; the payment did not move and no event went to booking (the webhook wrote no outbox row).
    expect(
      await sg.db.prisma.webhookEvent.count({
        where: { payload: { path: ['data', 'providerRef'], equals: payment.providerRef } },
      }),
    ).toBe(1);
    expect(
      await sg.db.prisma.paymentOutbox.count({
        where: { payload: { path: ['data', 'paymentId'], equals: payment.id } },
      }),
    ).toBe(0);
    const view = await gql(
      `query($p: String!) { reservation(pnr: $p) { status payment { status } } }`,
      { p: reservation.pnr },
      { headers: bearer(user.accessToken) },
    );
    expect(view.body.data).toEqual({ reservation: { status: 'HELD', payment: { status: 'PENDING' } } });
  });
});

describe('tokens', () => {
  it('refuses a JWT of another key, alg none, expired or for another audience: UNAUTHENTICATED (401)', async () => {
    const user = await registerUser();
    const otherKeys = await createTestKeys();
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const claims = Buffer.from(
      JSON.stringify({
        sub: user.id,
        role: 'ADMIN',
        iss: 'tatkal-auth',
        aud: 'tatkal-api',
        exp: 9999999999,
        iat: 1,
        jti: 'x',
      }),
    ).toString('base64url');
    const tokens = {
      otherKey: await otherKeys.sign(user.id, 'ADMIN'),
      algNone: `${header}.${claims}.`,
      expired: await signWithAuthKey({ sub: user.id, expSecondsFromNow: -60 }),
      otherAudience: await signWithAuthKey({ sub: user.id, aud: 'some-other-api' }),
      garbage: 'not.a.jwt',
    };
    for (const [name, token] of Object.entries(tokens)) {
      const res = await gql(`{ me { id email } users { nodes { email } } }`, {}, { headers: bearer(token) });
      expect({ name, status: res.status, codes: codes(res), data: res.body.data }).toEqual({
        name,
        status: 401,
        codes: ['UNAUTHENTICATED'],
        data: undefined,
      });
    }
    // The same claims signed properly do get in: the refusals above were about the token alone.
    const valid = await gql(`{ me { id } }`, {}, { headers: bearer(await signWithAuthKey({ sub: user.id })) });
    expect(valid.body.data).toEqual({ me: { id: user.id } });
  });

  it('answers a client retrying refreshSession (answer lost) with the same new pair, signing nobody out', async () => {
    const user = await registerUser();
    const ip = nextIp();
    const first = await gql(REFRESH, { t: user.refreshToken }, { ip });
    expect(first.body.errors).toBeUndefined();
    const retry = await gql(REFRESH, { t: user.refreshToken }, { ip });
    expect(retry.body).toEqual(first.body);
    const next = await gql(REFRESH, { t: first.body.data!.refreshSession.refreshToken as string }, { ip });
    expect(next.body.errors).toBeUndefined();
  });

  it('revokes the whole family when a rotated refresh token is used again after its successor was used', async () => {
    const user = await registerUser();
    const ip = nextIp();
    const first = await gql(REFRESH, { t: user.refreshToken }, { ip });
    const second = await gql(REFRESH, { t: first.body.data!.refreshSession.refreshToken as string }, { ip });
    const newer = second.body.data!.refreshSession.refreshToken as string;
    const before = await counts();
    const reuse = await gql(REFRESH, { t: user.refreshToken }, { ip });
    expect(codes(reuse)).toEqual(['UNAUTHENTICATED']);
    expect(reuse.body.data).toBeNull();
    expect(codes(await gql(REFRESH, { t: newer }, { ip }))).toEqual(['UNAUTHENTICATED']);
    expect(await counts()).toEqual(before);
    const family = await sg.db.prisma.refreshToken.findMany({ where: { userId: user.id } });
    expect(family).toHaveLength(3);
    expect(family.every((t) => t.revokedAt !== null)).toBe(true);
  });
});

describe('identity headers sent straight to a subgraph', () => {
  it('ignores x-user-id / x-user-role: me stays null, admin data and mutations are refused', async () => {
    const victim = await registerUser();
    const forged = {
      'x-user-id': victim.id,
      'x-user-role': 'ADMIN',
      'x-user': JSON.stringify({ userId: victim.id, role: 'ADMIN' }),
    };
    const ip = nextIp();
    const me = await gql(`{ me { id email } }`, {}, { url: `${sg.urls.auth}/graphql`, headers: forged, ip });
    expect(me.body).toEqual({ data: { me: null } });
    const users = await gql(
      `{ users { nodes { email } } }`,
      {},
      { url: `${sg.urls.auth}/graphql`, headers: forged, ip },
    );
    expect(codes(users)).toEqual(['UNAUTHENTICATED']);
    expect(users.body.data).toBeNull();
    const before = await counts();
    const reserve = await gql(
      `mutation { reserveSeats(idempotencyKey: "${randomUUID()}", input: { trainNumber: "12951", ` +
        'date: "2030-01-01", from: "MMCT", to: "NDLS", class: THIRD_AC, ' +
        'passengers: [{ name: "Forged", age: 30, gender: MALE }] }) { pnr } }',

      {},
      { url: `${sg.urls.booking}/graphql`, headers: forged, ip },
    );
    expect(codes(reserve)).toEqual(['UNAUTHENTICATED']);
    expect(reserve.body.data).toBeNull();
    // Through the gateway the forged headers are not even forwarded.
    expect((await gql(`{ me { id } }`, {}, { headers: forged, ip })).body).toEqual({ data: { me: null } });
    expect(await counts()).toEqual(before);
  });

  it('refuses an identity assertion not signed with the shared secret, or made for another token', async () => {
    const victim = await registerUser();
    const attacker = await registerUser();
    const ip = nextIp();
    const before = await counts();
    const reserve =
      `mutation { reserveSeats(idempotencyKey: "${randomUUID()}", input: { trainNumber: "12951", date: "2030-01-01", ` +
      'from: "MMCT", to: "NDLS", class: THIRD_AC, passengers: [{ name: "Forged", age: 30, gender: MALE }] }) { pnr } }';
    // The victim's claims signed with a guessed secret, sent with the attacker's own valid token.
    const guessed = createIdentityAssertions('x'.repeat(40)).sign(
      { identity: { userId: victim.id, role: 'ADMIN', tokenId: randomUUID(), verified: false }, clientIp: '127.0.0.1' },
      `Bearer ${attacker.accessToken}`,
    );
    for (const url of [`${sg.urls.auth}/graphql`, `${sg.urls.booking}/graphql`]) {
      const res = await gql(
        `{ me { id } }`,
        {},
        { url, ip, headers: { ...bearer(attacker.accessToken), [IDENTITY_ASSERTION_HEADER]: guessed } },
      );
      expect(res.status).toBe(401);
      expect(codes(res)).toEqual(['UNAUTHENTICATED']);
    }
    expect(
      codes(
        await gql(
          reserve,
          {},
          {
            url: `${sg.urls.booking}/graphql`,
            ip,
            headers: { ...bearer(attacker.accessToken), [IDENTITY_ASSERTION_HEADER]: guessed },
          },
        ),
      ),
    ).toEqual(['UNAUTHENTICATED']);
    // Through the gateway a client's assertion header is never forwarded: the attacker is himself.
    const viaGateway = await gql(
      `{ me { id } }`,
      {},
      { ip, headers: { ...bearer(attacker.accessToken), [IDENTITY_ASSERTION_HEADER]: guessed } },
    );
    expect(viaGateway.body).toEqual({ data: { me: { id: attacker.id } } });
    expect(await counts()).toEqual(before);
  });

  it('behind the gateway, subgraphs take its signed identity, not checking the token signature again', async () => {
    const user = await registerUser();
    // A token nobody has verified yet (the register response's token may be cached already).
    const token = await signWithAuthKey({ sub: user.id });
    const metrics = async () => {
      const m = await scrape(sg.gatewayUrl.replace('/graphql', ''));
      return {
        verified: m.sum('tatkal_token_verifications_total', { result: 'verified' }),
        asserted: m.sum('tatkal_token_verifications_total', { result: 'asserted' }),
      };
    };
    const before = await metrics();
    const res = await gql(`{ me { id } }`, {}, { ip: nextIp(), headers: bearer(token) });
    expect(res.body).toEqual({ data: { me: { id: user.id } } });
    const after = await metrics();
    // One Ed25519 check (the gateway's), one assertion accepted (auth's): one process, one registry.
    expect({ verified: after.verified - before.verified, asserted: after.asserted - before.asserted }).toEqual({
      verified: 1,
      asserted: 1,
    });
  });

  it("ignores a client's x-forwarded-for, at the gateway or at a subgraph (loopback callers included)", async () => {
    const user = await registerUser();
    const before = await counts();
    // Straight to auth from an address that is not the gateway: keyed on the socket address.
    const direct = nextIp();
    const directResults = [];
    for (let i = 0; i < 11; i++) {
      directResults.push(
        await gql(
          LOGIN,
          { e: user.email, p: 'wrong password here' },
          { url: `${sg.urls.auth}/graphql`, ip: direct, headers: { 'x-forwarded-for': `203.0.113.${i}` } },
        ),
      );
    }
    expect(directResults.slice(0, 10).map(codes)).toEqual(Array(10).fill(['UNAUTHENTICATED']));
    expect(codes(directResults[10]!)).toEqual(['RATE_LIMITED']);
    // Through the gateway: it replaces the header with the socket address.
    const viaGateway = nextIp();
    const results = [];
    for (let i = 0; i < 11; i++) {
      results.push(
        await gql(
          LOGIN,
          { e: user.email, p: 'wrong password here' },
          { ip: viaGateway, headers: { 'x-forwarded-for': `198.51.100.${i}` } },
        ),
      );
    }
    expect(results.slice(0, 10).map(codes)).toEqual(Array(10).fill(['UNAUTHENTICATED']));
    expect(codes(results[10]!)).toEqual(['RATE_LIMITED']);
    expect(results[10]!.headers['retry-after']).toBe('60');
    expect(await counts()).toEqual(before);
  });
});

describe('subgraphs are not a side door', () => {
  it("answers anonymous _entities on auth, sent straight to it, without any user's name", async () => {
    const victim = await registerUser();
    const q = `query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id name } } }`;
    const res = await gql(
      q,
      { r: [{ __typename: 'User', id: victim.id }] },
      { url: `${sg.urls.auth}/graphql`, ip: nextIp() },
    );
    expect(res.body).toEqual({ data: { _entities: [null] } });
  });

  it('binds every subgraph and the webhook sidecar to loopback by default: other interfaces find nothing', async () => {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
    for (const url of [sg.urls.auth, sg.urls.booking, sg.urls.search, sg.urls.payment, sg.urls.webhooks]) {
      expect(new URL(url).hostname).toBe('127.0.0.1');
      expect((await fetch(`${url}/health`)).status).toBe(200);
      // A machine with only a loopback interface has no other address to try.
      if (external)
        await expect(fetch(`http://${external}:${new URL(url).port}/health`)).rejects.toMatchObject({
          cause: { code: 'ECONNREFUSED' },
        });
    }
  });

  // Production: a subgraph answers only what the gateway signed. Auth and a gateway in front of it
  // run in production here, sharing the supergraph's secret, database and keys.
  describe('in production', () => {
    let auth: Awaited<ReturnType<typeof startAuthService>>;
    let gateway: Awaited<ReturnType<typeof startGatewayService>>;
    beforeAll(async () => {
      const common = {
        NODE_ENV: 'production',
        PORT: '0',
        LOG_LEVEL: 'silent',
        REDIS_URL,
        IDENTITY_ASSERTION_SECRET: LIMITS.IDENTITY_ASSERTION_SECRET,
        RATE_LIMIT_PREFIX: `rl:prod:${randomUUID()}:`,
      };
      auth = await startAuthService(
        loadAuthConfig({
          ...common,
          DATABASE_URL: sg.db.url,
          AUTH_SIGNING_KEYS_FILE: sg.authKeysFile,
          AUTH_GENERATE_KEYS: 'false',
        }),
        logger,
      );
      gateway = await startGatewayService(
        loadGatewayConfig({
          ...common,
          AUTH_JWKS_URL: `${auth.url}/.well-known/jwks.json`,
          // Signatures are the subject here, not trusted documents (test/trusted-documents.e2e.test.ts):
          // any operation runs.
          TRUSTED_DOCUMENTS_ONLY: 'false',
          SUPERGRAPH_PATH: new URL('../../supergraph.graphql', import.meta.url).pathname,
          AUTH_URL: `${auth.url}/graphql`,
          BOOKING_URL: `${sg.urls.booking}/graphql`,
          SEARCH_URL: `${sg.urls.search}/graphql`,
          PAYMENT_URL: `${sg.urls.payment}/graphql`,
        }),
        logger,
      );
    });
    afterAll(async () => {
      await gateway?.close();
      await auth?.close();
    });

    it('401 for every request without the gateway signature, before anything runs: no login guessing', async () => {
      const user = await registerUser();
      const before = await counts();
      const ip = nextIp();
      const direct = `${auth.url}/graphql`;
      const attempts = [
        await gql(
          LOGIN,
          { e: user.email, p: PASSWORD },
          { url: direct, ip, headers: { 'x-forwarded-for': '203.0.113.1' } },
        ),
        await gql(`{ me { id } }`, {}, { url: direct, ip, headers: bearer(user.accessToken) }),
        await gql(
          `query($r: [_Any!]!) { _entities(representations: $r) { ... on User { name } } }`,
          { r: [{ __typename: 'User', id: user.id }] },
          { url: direct, ip },
        ),
        await gql(
          `{ __typename }`,
          {},
          {
            url: direct,
            ip,
            headers: {
              [IDENTITY_ASSERTION_HEADER]: createIdentityAssertions('y'.repeat(40)).sign(
                { identity: null, clientIp: '127.0.0.1' },
                undefined,
              ),
            },
          },
        ),
      ];
      for (const res of attempts)
        expect({ status: res.status, codes: codes(res), data: res.body.data }).toEqual({
          status: 401,
          codes: ['UNAUTHENTICATED'],
          data: undefined,
        });
      expect(await counts()).toEqual(before);
      // Health, readiness and the JWKS stay open: probes and the gateway need them.
      expect((await fetch(`${auth.url}/health`)).status).toBe(200);
      expect((await fetch(`${auth.url}/.well-known/jwks.json`)).status).toBe(200);
    });

    it('answers what the gateway signed, anonymous or not; limits logins by the signed client address', async () => {
      const user = await registerUser();
      expect((await gql(`{ me { id } }`, {}, { url: `${gateway.url}/graphql` })).body).toEqual({ data: { me: null } });
      expect(
        (await gql(`{ me { id } }`, {}, { url: `${gateway.url}/graphql`, headers: bearer(user.accessToken) })).body,
      ).toEqual({ data: { me: { id: user.id } } });
      // Signed like the gateway (same secret), straight to auth: answered, keyed on the signed address.
      const signed = (clientIp: string) => ({
        [IDENTITY_ASSERTION_HEADER]: createIdentityAssertions(LIMITS.IDENTITY_ASSERTION_SECRET).sign(
          { identity: null, clientIp },
          undefined,
        ),
      });
      const results = [];
      for (let i = 0; i < 11; i++)
        results.push(
          await gql(
            LOGIN,
            { e: user.email, p: 'wrong password here' },
            { url: `${auth.url}/graphql`, ip: nextIp(), headers: signed('198.51.100.77') },
          ),
        );
      expect(results.slice(0, 10).map(codes)).toEqual(Array(10).fill(['UNAUTHENTICATED']));
      expect(codes(results[10]!)).toEqual(['RATE_LIMITED']);
    });
  });
});

describe('ownership', () => {
  it("answers another user's PNR exactly as a missing one (NOT_FOUND, no data): PNRs cannot be probed", async () => {
    const owner = await registerUser();
    const other = await registerUser();
    const run = await createTestRun(sg.db.prisma, { coaches: 1, berthsPerCoach: 8 });
    const reserved = await gql(
      `mutation($input: ReserveSeatsInput!, $key: String!) {
        reserveSeats(input: $input, idempotencyKey: $key) { pnr status }
      }`,
      {
        key: randomUUID(),
        input: {
          runId: run.runId,
          from: run.stations[0],
          to: run.stations[2],
          class: 'SLEEPER',
          passengers: [{ name: 'Asha Rao', age: 34, gender: 'FEMALE' }],
        },
      },
      { headers: bearer(owner.accessToken), ip: nextIp() },
    );
    expect(reserved.body.errors).toBeUndefined();
    const pnr = reserved.body.data!.reserveSeats.pnr as string;
    const q = `query($p: String!) { reservation(pnr: $p) { pnr passengers { name } } }`;
    const stolen = await gql(q, { p: pnr }, { headers: bearer(other.accessToken) });
    const unused = pnr === '1000000000' ? '1000000001' : '1000000000';
    const missing = await gql(q, { p: unused }, { headers: bearer(other.accessToken) });
    expect(codes(stolen)).toEqual(['NOT_FOUND']);
    expect(stolen.body.data).toEqual({ reservation: null });
    // The same answer but for the PNR in the message.
    expect(codes(missing)).toEqual(['NOT_FOUND']);
    expect(stolen.body.errors![0]!.message.replace(pnr, 'P')).toBe(
      missing.body.errors![0]!.message.replace(unused, 'P'),
    );
    expect(JSON.stringify(stolen.body)).not.toContain('Asha');
    const anonymous = await gql(q, { p: pnr });
    expect(codes(anonymous)).toEqual(['UNAUTHENTICATED']);
    expect(anonymous.body.data).toEqual({ reservation: null });
    const own = await gql(q, { p: pnr }, { headers: bearer(owner.accessToken) });
    expect(own.body.data!.reservation).toMatchObject({ pnr, passengers: [{ name: 'Asha Rao' }] });
  });
});

describe('query limits (before any subgraph is called)', () => {
  it('refuses a 10,000-deep query with QUERY_TOO_COMPLEX (400)', async () => {
    const deep = `{ me ${'{ id '.repeat(10_000)}${'} '.repeat(10_000)}}`;
    const res = await gql(deep);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [
        {
          message: 'The query exceeds the nesting depth limit of 12',
          extensions: { code: 'QUERY_TOO_COMPLEX', limit: 'depth', max: 12 },
        },
      ],
    });
    // The same in a GET URL (Apollo answers queries over GET too).
    const url = new URL(sg.gatewayUrl);
    url.searchParams.set('query', `{ me ${'{ id '.repeat(1000)}${'} '.repeat(1000)}}`);
    const get = await fetch(url, { headers: { 'apollo-require-preflight': 'true' } });
    expect(get.status).toBe(400);
    expect(await get.json()).toMatchObject({ errors: [{ extensions: { code: 'QUERY_TOO_COMPLEX', limit: 'depth' } }] });
  });

  it('refuses 1,000 aliases, and 31 aliased registrations write nothing', async () => {
    const aliases = Array.from({ length: 1000 }, (_, i) => `a${i}: __typename`).join(' ');
    const res = await gql(`{ ${aliases} }`);
    expect(res.status).toBe(400);
    expect(res.body.errors).toHaveLength(1);
    expect(res.body.errors![0]!.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'aliases', max: 30 });
    const before = await counts();
    const registrations = Array.from(
      { length: 31 },
      (_, i) =>
        `r${i}: register(input: { email: "alias${i}@example.com", password: "${PASSWORD}", name: "A" }) ` +
        '{ accessToken }',
    ).join(' ');
    const many = await gql(`mutation { ${registrations} }`, {}, { ip: nextIp() });
    expect(codes(many)).toEqual(['QUERY_TOO_COMPLEX']);
    expect(await counts()).toEqual(before);
  });

  it('refuses too many tokens', async () => {
    const res = await gql(`{ me { ${'id '.repeat(5000)} } }`);
    expect(res.status).toBe(400);
    expect(res.body.errors![0]!.extensions).toEqual({ code: 'QUERY_TOO_COMPLEX', limit: 'tokens', max: 5000 });
  });

  it('refuses a 5 MB body with 413 and batched requests with 400, as GraphQL errors', async () => {
    const big = await fetch(sg.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ me { id } }`, variables: { pad: 'x'.repeat(5 * 1024 * 1024) } }),
    });
    expect(big.status).toBe(413);
    expect(await big.json()).toEqual({
      errors: [{ message: 'The request body is larger than the limit', extensions: { code: 'BAD_REQUEST' } }],
    });
    const batch = await post([{ query: '{ __typename }' }, { query: '{ __typename }' }]);
    expect(batch.status).toBe(400);
    expect(codes(batch)).toEqual(['BAD_REQUEST']);
  });
});

describe('rate limits', () => {
  it('1,000 logins a minute from one IP: 10 succeed for the email, then RATE_LIMITED; past 300, 429', async () => {
    const user = await registerUser();
    const before = await counts();
    const rejectedBefore = { ip: await rejections('gateway.ip'), login: await rejections('Mutation.login') };
    const ip = nextIp();
    const results: HttpResult[] = [];
    const queue = Array.from({ length: 1000 }, (_, i) => i);
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (queue.shift() !== undefined)
          results.push(await gql(LOGIN, { e: i18nCase(user.email, results.length), p: PASSWORD }, { ip }));
      }),
    );
    const ok = results.filter((r) => r.body.data?.login);
    const limitedBySubgraph = results.filter((r) => r.status === 200 && codes(r)[0] === 'RATE_LIMITED');
    const limitedByGateway = results.filter((r) => r.status === 429);
    expect([ok.length, limitedBySubgraph.length, limitedByGateway.length]).toEqual([10, 290, 700]);
    for (const r of [...limitedBySubgraph, ...limitedByGateway]) {
      expect(r.body.errors![0]!.extensions).toMatchObject({ code: 'RATE_LIMITED' });
      expect(Number(r.body.errors![0]!.extensions!.retryAfterSeconds)).toBeGreaterThan(0);
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    }
    // Only the 10 allowed logins wrote a session.
    expect(await counts()).toEqual({ ...before, refreshTokens: before.refreshTokens + 10 });
    // Every refusal is counted under the limit that made it: the gateway's per-IP, auth's login rule.
    expect(await rejections('gateway.ip')).toBe(rejectedBefore.ip + 700);
    expect(await rejections('Mutation.login')).toBe(rejectedBefore.login + 290);
    // Another client address is not affected.
    expect((await gql(`{ __typename }`, {}, { ip: nextIp() })).status).toBe(200);
  });

  it('registers at most 5 accounts a minute from one IP', async () => {
    const ip = nextIp();
    const before = await counts();
    const results = [];
    for (let i = 0; i < 7; i++)
      results.push(
        await gql(
          REGISTER,
          { input: { email: `burst-${i}-${randomUUID()}@example.com`, password: PASSWORD, name: 'B' } },
          { ip },
        ),
      );
    expect(results.map((r) => codes(r)[0] ?? 'ok')).toEqual([
      'ok',
      'ok',
      'ok',
      'ok',
      'ok',
      'RATE_LIMITED',
      'RATE_LIMITED',
    ]);
    expect((await counts()).users).toBe(before.users + 5);
  });

  it("limits reserveSeats per user by field name, whatever the operation's name, before booking runs", async () => {
    const user = await registerUser();
    const other = await registerUser();
    const before = await counts();
    const rejectedBefore = await rejections('gateway.reserveSeats');
    // A reserveSeats field with fresh keys that booking would refuse (no such run), were it ever reached.
    const reserveField = () =>
      `reserveSeats(idempotencyKey: "${randomUUID()}", input: { runId: "${randomUUID()}", from: "MMCT", to: "NDLS", ` +
      'class: THIRD_AC, passengers: [{ name: "R", age: 30, gender: MALE }] }) { pnr }';
    const badInput = (name: string) => `mutation ${name} { ${reserveField()} }`;
    // Different operation names and IPs do not help: the user is counted, by field name.
    const results = [];
    for (const name of ['Reserve', 'Harmless', 'Search', 'Ping'])
      results.push(await gql(badInput(name), {}, { headers: bearer(user.accessToken), ip: nextIp() }));
    expect(results.slice(0, 3).map((r) => codes(r)[0])).not.toContain('RATE_LIMITED');
    const limited = results[3]!;
    expect(limited.status).toBe(429);
    expect(limited.body.errors).toHaveLength(1);
    expect(limited.body.errors![0]!.extensions!.code).toBe('RATE_LIMITED');
    const retryAfter = limited.body.errors![0]!.extensions!.retryAfterSeconds as number;
    expect(retryAfter).toBeGreaterThan(0);
    expect(limited.headers['retry-after']).toBe(String(retryAfter));
    // Aliases count too: another user asking for four at once is refused in one go.
    const aliased = `mutation { ${[1, 2, 3, 4].map((i) => `r${i}: ${reserveField()}`).join(' ')} }`;
    expect(codes(await gql(aliased, {}, { headers: bearer(other.accessToken) }))).toEqual(['RATE_LIMITED']);
    expect(await counts()).toEqual(before);
    expect(await rejections('gateway.reserveSeats')).toBe(rejectedBefore + 2);
  });
});

describe("one Redis call for a request's rate-limit windows", () => {
  const redis = createRedis(REDIS_URL, { name: 'security-e2e', commandTimeoutMs: 2000 });
  beforeAll(async () => {
    if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
  });
  afterAll(() => redis.disconnect());
  const gatewayKey = (key: string) => `rl:${sg.db.name}:gw:${key}`;
  // A reserveSeats booking would refuse (no such run), were it ever reached.
  const RESERVE =
    `mutation($k: String!, $run: ID!) { reserveSeats(idempotencyKey: $k, input: { runId: $run, from: "MMCT", ` +
    'to: "NDLS", class: THIRD_AC, passengers: [{ name: "R", age: 30, gender: MALE }] }) { pnr } }';
  const reserve = (token: string, opts: Parameters<typeof post>[1] = {}) =>
    gql(RESERVE, { k: randomUUID(), run: randomUUID() }, { ...opts, headers: { ...bearer(token), ...opts.headers } });
  const count = async (key: string) => Number((await redis.get(key)) ?? 0);

  it("counts a signed-in client's IP once per request, whichever way the request goes", async () => {
    const user = await registerUser();
    const ip = nextIp();
    const ipKey = gatewayKey(`ip:${ip}`);
    // reserveSeats: its IP window and its user's, counted together after the cost check.
    expect(codes(await reserve(user.accessToken, { ip }))).not.toContain('RATE_LIMITED');
    expect(await count(ipKey)).toBe(1);
    expect(await count(gatewayKey(`op:reserveSeats:user:${user.id}`))).toBe(1);
    // Booking's own reserveSeats rule did not count a call the gateway signed.
    expect(await redis.keys(`rl:booking:gql:user:${user.id}:*`)).toEqual([]);
    // Any other query of a signed-in client: after the body is read, before parsing.
    expect((await gql('{ __typename }', {}, { ip, headers: bearer(user.accessToken) })).status).toBe(200);
    expect(await count(ipKey)).toBe(2);
    // A body that never reaches the limiters' checks (not JSON) still counts, when it closes.
    expect((await post('{not json', { ip, headers: bearer(user.accessToken) })).status).toBe(400);
    await waitFor('the bad body to be counted', async () => (await count(ipKey)) === 3, { intervalMs: 10 });
    // Anonymous: before the body is read, as before.
    expect((await gql('{ __typename }', {}, { ip })).status).toBe(200);
    expect(await count(ipKey)).toBe(4);
  });

  it('refuses a signed-in reserveSeats over its IP limit with 429 from the IP, not counting the user', async () => {
    const user = await registerUser();
    const ip = nextIp();
    await redis.set(gatewayKey(`ip:${ip}`), '300', 'PX', 45_000);
    const rejectedBefore = await rejections('gateway.ip');
    const limited = await reserve(user.accessToken, { ip });
    expect(limited.status).toBe(429);
    expect(limited.body.errors).toHaveLength(1);
    expect(limited.body.errors![0]!.extensions!.code).toBe('RATE_LIMITED');
    const retryAfter = Number(limited.body.errors![0]!.extensions!.retryAfterSeconds);
    expect(retryAfter).toBeGreaterThan(40);
    expect(retryAfter).toBeLessThanOrEqual(45);
    expect(limited.headers['retry-after']).toBe(String(retryAfter));
    expect(await rejections('gateway.ip')).toBe(rejectedBefore + 1);
    expect(await redis.exists(gatewayKey(`op:reserveSeats:user:${user.id}`))).toBe(0);
    // From another address the user still has the whole per-user budget (3/1m here).
    const elsewhere = [];
    for (let i = 0; i < 4; i++) elsewhere.push(codes(await reserve(user.accessToken, { ip: nextIp() }))[0]);
    expect(elsewhere.slice(0, 3)).not.toContain('RATE_LIMITED');
    expect(elsewhere[3]).toBe('RATE_LIMITED');
  });

  it("still limits reserveSeats in booking for a caller without the gateway's signature", async () => {
    const user = await registerUser();
    const ip = nextIp();
    const results = [];
    for (let i = 0; i < 31; i++)
      results.push(codes(await reserve(user.accessToken, { ip, url: `${sg.urls.booking}/graphql` }))[0]);
    expect(results.slice(0, 30)).not.toContain('RATE_LIMITED');
    expect(results[30]).toBe('RATE_LIMITED');
  });
});

describe('request ids', () => {
  it('logs the request id on the operation lines of the gateway and every subgraph the request reached', async () => {
    const user = await registerUser();
    const requestId = `sec-${randomUUID()}`;
    const run = await sg.db.prisma.trainRun.findFirstOrThrow({
      where: { train: { number: '12951' } },
      orderBy: { date: 'asc' },
    });
    const res = await gql(
      `query Journey($d: Date!) {
        me { id } trainRun(trainNumber: "12951", date: $d) { id train { stops { station { code aliases } } } }
      }`,
      { d: run.date.toISOString().slice(0, 10) },
      { headers: { ...bearer(user.accessToken), 'x-request-id': requestId } },
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.headers['x-request-id']).toBe(requestId);
    const lines = logLines.filter((l) => l.requestId === requestId);
    const operations = lines.filter((l) => l.msg === 'graphql operation');
    // Gateway (operation Journey) plus auth, booking and search (the gateway's own fetches).
    expect(operations.length).toBeGreaterThanOrEqual(4);
    expect(operations.find((l) => l.operationName === 'Journey')).toMatchObject({
      outcome: 'ok',
      status: 200,
      operationType: 'query',
    });
    for (const l of operations) expect(typeof l.durationMs).toBe('number');
  });

  it("puts the PNR on booking's log lines: a reservation's once made, a cancellation's from the start", async () => {
    const user = await registerUser();
    const run = await createTestRun(sg.db.prisma, { coaches: 1, berthsPerCoach: 2 });
    const reserveId = `pnr-reserve-${randomUUID()}`;
    const reserved = await gql(
      `mutation Hold($input: ReserveSeatsInput!, $key: String!) {
        reserveSeats(input: $input, idempotencyKey: $key) { pnr status }
      }`,

      {
        key: randomUUID(),
        input: {
          runId: run.runId,
          from: run.stations[0],
          to: run.stations[3],
          class: 'SLEEPER',
          passengers: [{ name: 'Kavya Menon', age: 29, gender: 'FEMALE' }],
        },
      },
      { headers: { ...bearer(user.accessToken), 'x-request-id': reserveId } },
    );
    expect(reserved.body.errors).toBeUndefined();
    const pnr = reserved.body.data!.reserveSeats.pnr as string;
    // Booking's operation line (its fetch is Hold__booking__0) is written after the PNR is known.
    const bookingLine = logLines.find(
      (l) =>
        l.requestId === reserveId && l.msg === 'graphql operation' && String(l.operationName).includes('__booking__'),
    );
    expect(bookingLine).toMatchObject({ pnr, outcome: 'ok' });
    // The gateway process never learns it.
    expect(logLines.find((l) => l.requestId === reserveId && l.operationName === 'Hold')).not.toHaveProperty('pnr');

    const cancelId = `pnr-cancel-${randomUUID()}`;
    const cancelled = await gql(
      `mutation Cancel($pnr: String!, $key: String!) { cancelReservation(pnr: $pnr, idempotencyKey: $key) { status } }`,
      { pnr, key: randomUUID() },
      { headers: { ...bearer(user.accessToken), 'x-request-id': cancelId } },
    );
    expect(cancelled.body.data?.cancelReservation.status).toBe('CANCELLED');
    const cancelLines = logLines.filter(
      (l) =>
        l.requestId === cancelId && l.msg === 'graphql operation' && String(l.operationName).includes('__booking__'),
    );
    expect(cancelLines).toHaveLength(1);
    expect(cancelLines[0]).toMatchObject({ pnr });
  });
});

// Last: booking, search and payment cache the JWKS too and refetch at most every 30 s, so right
// after a rotation they refuse the new key's tokens for a moment (docs/architecture.md: publish a
// new key before it signs).
describe('key rotation', () => {
  it('keeps old-key tokens valid after a rotation on the running auth; the gateway fetches the new key', async () => {
    const user = await registerUser();
    const me = `{ me { id } }`;
    expect((await gql(me, {}, { headers: bearer(user.accessToken) })).body.data).toEqual({ me: { id: user.id } });
    const oldKid = decodeProtectedHeader(user.accessToken).kid;

    const file = JSON.parse(readFileSync(sg.authKeysFile, 'utf8')) as { keys: { kid: string }[] };
    const newKey = await generateSigningJwk();
    writeFileSync(sg.authKeysFile, JSON.stringify({ keys: [newKey, ...file.keys] }));
    await sg.reloadAuthKeys();

    const jwks = (await (await fetch(`${sg.urls.auth}/.well-known/jwks.json`)).json()) as {
      keys: { kid: string; d?: string }[];
    };
    expect(jwks.keys.map((k) => k.kid)).toEqual([newKey.kid, oldKid]);
    expect(jwks.keys.some((k) => k.d !== undefined)).toBe(false);

    const login = await gql(LOGIN, { e: user.email, p: PASSWORD }, { ip: nextIp() });
    const newToken = login.body.data!.login.accessToken as string;
    expect(decodeProtectedHeader(newToken).kid).toBe(newKey.kid);
    // The gateway had cached a JWKS without this kid: it refetched it, or this would be 401.
    const viaNew = await gql(me, {}, { headers: bearer(newToken) });
    expect({ status: viaNew.status, data: viaNew.body.data }).toEqual({ status: 200, data: { me: { id: user.id } } });
    const viaOld = await gql(me, {}, { headers: bearer(user.accessToken) });
    expect(viaOld.body.data).toEqual({ me: { id: user.id } });
  });
});

/** The same address in changing letter case: the login limit keys on the normalised email. */
function i18nCase(email: string, n: number): string {
  return n % 2 ? email.toUpperCase() : email;
}
