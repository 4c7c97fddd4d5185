// Identity verification through the gateway, every part real (the one-time code from the
// development OTP simulator): what reaches a subgraph is the gateway's signed identity, and after
// verifyIdentity it says `verified: true`; an AGENT's role arrives the same way. A recording proxy
// in front of auth shows the assertion exactly as the subgraph receives it.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TatkalClient } from '@tatkal/client';
import { createIdentityAssertions, IDENTITY_ASSERTION_HEADER, type Caller } from '@tatkal/common';
import { gatewayClient } from './support/graphql.ts';
import { startSupergraph, type RunningSupergraph } from './support/supergraph.ts';

const secret = randomBytes(32).toString('base64url');
const assertions = createIdentityAssertions(secret);
let sg: RunningSupergraph;
let proxy: Server;
/** Every request the gateway sent auth: its bearer header and signed identity. */
const seen: { authorization?: string; assertion?: string }[] = [];
const gql = gatewayClient(() => sg.gatewayUrl);

/** Forwards to auth, keeping what the subgraph would see. */
async function recordingProxy(target: string): Promise<string> {
  proxy = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const authorization = req.headers.authorization;
      const assertion = req.headers[IDENTITY_ASSERTION_HEADER];
      seen.push({ authorization, assertion: typeof assertion === 'string' ? assertion : undefined });
      const headers = Object.fromEntries(
        Object.entries(req.headers).filter(
          (e): e is [string, string] => typeof e[1] === 'string' && !['host', 'content-length'].includes(e[0]),
        ),
      );
      const answer = await fetch(target, { method: req.method, headers, body: Buffer.concat(chunks) });
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
      res.end(Buffer.from(await answer.arrayBuffer()));
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/graphql`;
}

/** The caller auth was told about for the last request made with this access token. */
const arrivedWith = (accessToken: string): Caller => {
  const bearer = `Bearer ${accessToken}`;
  const request = [...seen].reverse().find((r) => r.authorization === bearer);
  if (!request?.assertion) throw new Error('no signed request with this token reached auth');
  return assertions.verify(request.assertion, bearer);
};

beforeAll(async () => {
  sg = await startSupergraph(
    'e2e_identity',
    { IDENTITY_ASSERTION_SECRET: secret },
    { gatewayRoute: async (name, url) => (name === 'auth' ? recordingProxy(url) : url) },
  );
});
afterAll(async () => {
  await sg?.stop();
  await new Promise((resolve) => proxy?.close(resolve));
});

async function register(phone: string) {
  const res = await gql(
    `mutation($input: RegisterInput!) { register(input: $input) { user { id } accessToken refreshToken } }`,
    { input: { email: `e2e-${randomUUID()}@example.com`, password: 'a long enough passphrase', name: 'Asha', phone } },
  );
  expect(res.errors).toBeUndefined();
  return res.data!.register as { user: { id: string }; accessToken: string; refreshToken: string };
}

describe('identity verification through the gateway', () => {
  it("a verified user's identity reaches the subgraph with verified: true", async () => {
    const phone = `+9197${String(Date.now() % 1e8).padStart(8, '0')}`;
    const session = await register(phone);
    const me = `{ me { id role identityVerified } }`;
    expect((await gql(me, {}, session.accessToken)).data!.me).toEqual({
      id: session.user.id,
      role: 'CUSTOMER',
      identityVerified: false,
    });
    expect(arrivedWith(session.accessToken).identity).toMatchObject({ userId: session.user.id, verified: false });

    const sent = await gql(
      `mutation($key: String!) { requestIdentityCode(idempotencyKey: $key) { sentTo expiresAt } }`,
      { key: randomUUID() },
      session.accessToken,
    );
    expect(sent.errors).toBeUndefined();
    expect(sent.data!.requestIdentityCode.sentTo).toBe(`+91******${phone.slice(-4)}`);
    // Delivered (the answer waited for the simulator's 202); read it there, as a phone's owner reads an SMS.
    const code = sg.otp.latestCode(phone)!;
    expect(code).toMatch(/^\d{6}$/);

    const wrong = await gql(
      `mutation($code: String!) { verifyIdentity(code: $code) { accessToken } }`,
      { code: code === '000000' ? '000001' : '000000' },
      session.accessToken,
    );
    expect(wrong.errors?.map((e) => [e.extensions?.code, e.extensions?.attemptsLeft])).toEqual([
      ['IDENTITY_CODE_INVALID', 4],
    ]);

    const verified = await gql(
      `mutation($code: String!) { verifyIdentity(code: $code) { accessToken user { identityVerified } } }`,
      { code },
      session.accessToken,
    );
    expect(verified.errors).toBeUndefined();
    expect(verified.data!.verifyIdentity.user.identityVerified).toBe(true);
    const token = verified.data!.verifyIdentity.accessToken as string;

    expect((await gql(me, {}, token)).data!.me.identityVerified).toBe(true);
    expect(arrivedWith(token)).toEqual({
      identity: { userId: session.user.id, role: 'CUSTOMER', tokenId: expect.any(String), verified: true },
      clientIp: expect.any(String),
    });
    // The old token still says what it said: only new tokens carry the verification.
    await gql(me, {}, session.accessToken);
    expect(arrivedWith(session.accessToken).identity?.verified).toBe(false);
  });

  it("an AGENT's role, given by an admin, reaches the subgraph after the agent's refresh", async () => {
    const admin = await register(`+9196${String(Date.now() % 1e8).padStart(8, '0')}`);
    await sg.db.prisma.user.update({ where: { id: admin.user.id }, data: { role: 'ADMIN' } });
    const adminTokens = await gql(`mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }`, {
      t: admin.refreshToken,
    });
    const adminToken = adminTokens.data!.refreshSession.accessToken as string;
    const agent = await register(`+9195${String(Date.now() % 1e8).padStart(8, '0')}`);

    const setRole = `mutation($id: ID!) { setUserRole(userId: $id, role: AGENT) { id role } }`;
    const refused = await gql(setRole, { id: agent.user.id }, agent.accessToken);
    expect(refused.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    const set = await gql(setRole, { id: agent.user.id }, adminToken);
    expect(set.data!.setUserRole).toEqual({ id: agent.user.id, role: 'AGENT' });

    const refreshed = await gql(`mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }`, {
      t: agent.refreshToken,
    });
    const agentToken = refreshed.data!.refreshSession.accessToken as string;
    expect((await gql(`{ me { role } }`, {}, agentToken)).data!.me.role).toBe('AGENT');
    expect(arrivedWith(agentToken).identity).toMatchObject({ userId: agent.user.id, role: 'AGENT', verified: false });
  });

  it('the typed client verifies by trusted documents and keeps the verified token in its session', async () => {
    const phone = `+9194${String(Date.now() % 1e8).padStart(8, '0')}`;
    const client = new TatkalClient({ url: sg.gatewayUrl });
    await client.register({
      email: `client-${randomUUID()}@example.com`,
      password: 'a long enough passphrase',
      name: 'Ravi',
      phone,
    });
    expect(await client.me()).toMatchObject({ role: 'CUSTOMER', identityVerified: false });
    const challenge = await client.requestIdentityCode();
    expect(challenge.maxAttempts).toBe(5);
    await expect(client.requestIdentityCode()).rejects.toMatchObject({ code: 'IDENTITY_CODE_RESEND_TOO_SOON' });
    const refreshToken = client.session!.refreshToken;
    const verified = await client.verifyIdentity(sg.otp.latestCode(phone)!);
    expect(verified.user.identityVerified).toBe(true);
    expect(client.session).toMatchObject({ accessToken: verified.accessToken, refreshToken });
    expect(await client.me()).toMatchObject({ identityVerified: true });
    expect(arrivedWith(verified.accessToken).identity?.verified).toBe(true);
  });
});
