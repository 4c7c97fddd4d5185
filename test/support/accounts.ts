// Accounts an end-to-end test signs in with through the gateway: a traveller (identity-verified by
// the OTP simulator's code when asked) and an admin.
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type { gatewayClient } from './graphql.ts';
import type { RunningSupergraph } from './supergraph.ts';
import { waitFor } from './wait.ts';

type Gql = ReturnType<typeof gatewayClient>;

/** A new traveller's access token; `verify`: after verifying their phone with the delivered code. */
export async function traveller(sg: RunningSupergraph, gql: Gql, verify: boolean): Promise<string> {
  const phone = `+9198${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
  const reg = await gql(`mutation($input: RegisterInput!) { register(input: $input) { accessToken } }`, {
    input: { email: `t-${randomUUID()}@example.com`, password: 'a long enough passphrase', name: 'Asha', phone },
  });
  expect(reg.errors).toBeUndefined();
  let token: string = reg.data!.register.accessToken;
  if (verify) {
    const sent = await gql(
      `mutation($key: String!) { requestIdentityCode(idempotencyKey: $key) { sentTo } }`,
      { key: randomUUID() },
      token,
    );
    expect(sent.errors).toBeUndefined();
    const code = await waitFor('the one-time code delivered', async () => sg.otp.latestCode(phone));
    const verified = await gql(
      `mutation($code: String!) { verifyIdentity(code: $code) { accessToken } }`,
      { code },
      token,
    );
    expect(verified.errors).toBeUndefined();
    token = verified.data!.verifyIdentity.accessToken;
  }
  return token;
}

/** An admin's access token: a registered user made ADMIN, whose refreshed token says so. */
export async function adminSession(sg: RunningSupergraph, gql: Gql): Promise<string> {
  const reg = await gql(`mutation($input: RegisterInput!) { register(input: $input) { user { id } refreshToken } }`, {
    input: { email: `admin-${randomUUID()}@example.com`, password: 'a long enough passphrase', name: 'Admin' },
  });
  await sg.db.prisma.user.update({ where: { id: reg.data!.register.user.id }, data: { role: 'ADMIN' } });
  const refreshed = await gql(`mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }`, {
    t: reg.data!.register.refreshToken,
  });
  return refreshed.data!.refreshSession.accessToken;
}
