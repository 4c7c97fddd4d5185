// Payment asks booking on the caller's behalf: with the shared secret the call is signed as the
// gateway signs its own (a production booking answers nothing unsigned), for the caller's token.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentityAssertions, IDENTITY_ASSERTION_HEADER, type Identity } from '@tatkal/common';
import { createBookingClient } from '../src/bookingClient.ts';

let server: Server;
let url: string;
const seen: IncomingHttpHeaders[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ data: { _entities: [null] } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

describe('booking client', () => {
  const identity: Identity = { userId: randomUUID(), role: 'CUSTOMER', tokenId: randomUUID(), verified: false };
  const caller = { authorization: 'Bearer aaa.bbb.ccc', requestId: 'req-7', identity, clientIp: '203.0.113.5' };

  it('signs the call for the caller and their address, valid only with their token', async () => {
    const secret = randomBytes(32).toString('base64url');
    expect(
      await createBookingClient(url, { assertions: createIdentityAssertions(secret) }).reservation(
        randomUUID(),
        caller,
      ),
    ).toBeNull();
    const headers = seen.at(-1)!;
    expect(headers).toMatchObject({ authorization: caller.authorization, 'x-request-id': 'req-7' });
    const assertion = headers[IDENTITY_ASSERTION_HEADER] as string;
    expect(createIdentityAssertions(secret).verify(assertion, caller.authorization)).toEqual({
      identity,
      clientIp: '203.0.113.5',
    });
    expect(() => createIdentityAssertions(secret).verify(assertion, 'Bearer other.token.here')).toThrow(
      /Invalid identity assertion/,
    );
  });

  it('sends no assertion without the secret (booking then verifies the token itself)', async () => {
    await createBookingClient(url).reservation(randomUUID(), caller);
    expect(seen.at(-1)).not.toHaveProperty(IDENTITY_ASSERTION_HEADER);
  });
});
