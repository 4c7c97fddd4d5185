// The typed client against the real supergraph, with booking answering QUEUED at once
// (QUEUE_WAIT_MS=0): the queue is polled to its outcome, tokens are refreshed, keys are reused.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRun, type TestRun } from '../../../subgraphs/booking/test/fixtures.ts';
import { startSupergraph, type RunningSupergraph } from '../../../test/support/supergraph.ts';
import { TatkalClient, type ReserveSeatsInput } from '../src/index.ts';

let sg: RunningSupergraph;
let run: TestRun;

beforeAll(async () => {
  sg = await startSupergraph('e2e_client', { QUEUE_WAIT_MS: '0' });
  run = await createTestRun(sg.db.prisma, { coaches: 1, berthsPerCoach: 16 });
});
afterAll(async () => {
  await sg?.stop();
});

const password = 'a long enough passphrase';

/** A signed-in client whose requests are listed by operation name (a real fetch underneath). */
async function traveller() {
  const operations: string[] = [];
  const client = new TatkalClient({
    url: sg.gatewayUrl,
    poll: { minIntervalMs: 50 },
    fetch: (async (url: string | URL | Request, init?: RequestInit) => {
      operations.push((JSON.parse(String(init?.body)) as { operationName: string }).operationName);
      return fetch(url, init);
    }) as typeof fetch,
  });
  await client.register({ email: `client-${randomUUID()}@example.com`, password, name: 'Asha Rao' });
  operations.length = 0;
  return { client, operations };
}

const input = (passengers = 1): ReserveSeatsInput => ({
  runId: run.runId,
  from: run.stations[0],
  to: run.stations[3],
  class: 'SLEEPER',
  passengers: Array.from({ length: passengers }, (_, i) => ({
    name: `Traveller ${'ABCD'[i]}`,
    age: 30 + i,
    gender: 'FEMALE' as const,
  })),
});

describe('the queue', () => {
  it('answers QUEUED with a position, and the client polls reservation(pnr) until the berth is HELD', async () => {
    const { client, operations } = await traveller();
    const key = randomUUID();
    const first = await client.reserve(input(), { idempotencyKey: key, wait: false });
    expect(first.status).toBe('QUEUED');
    expect(first.queuePosition).toBeGreaterThanOrEqual(1);
    const final = await client.waitForOutcome(first);
    expect(final).toMatchObject({ pnr: first.pnr, status: 'HELD', queuePosition: null });
    expect(final.passengers[0]).toMatchObject({ status: 'HELD', coach: 'S1' });
    expect(operations[0]).toBe('ReserveSeats');
    expect(operations.slice(1).length).toBeGreaterThanOrEqual(1);
    expect(new Set(operations.slice(1))).toEqual(new Set(['ReservationStatus']));
    // The same key again: the same reservation, never a second PNR.
    expect((await client.reserve(input(), { idempotencyKey: key })).pnr).toBe(first.pnr);
  });

  it('reserve() waits for the outcome itself; the seat map shows the berths taken; cancel frees them', async () => {
    const { client } = await traveller();
    const held = await client.reserve(input(2));
    expect(held.status).toBe('HELD');
    const taken = held.passengers.map((p) => p.berth);
    const map = await client.seatMap({ runId: run.runId, coach: 'S1', from: run.stations[0], to: run.stations[3] });
    expect(map.berths.filter((b) => taken.includes(b.berth)).map((b) => b.available)).toEqual([false, false]);
    expect((await client.cancel(held.pnr)).status).toBe('CANCELLED');
    const after = await client.seatMap({ runId: run.runId, coach: 'S1', from: run.stations[0], to: run.stations[3] });
    expect(after.berths.filter((b) => taken.includes(b.berth)).map((b) => b.available)).toEqual([true, true]);
  });
});

describe('the session', () => {
  it('refreshes after the gateway refuses the access token (HTTP 401) and sends the request again', async () => {
    const { client, operations } = await traveller();
    const before = client.session!;
    client.setSession({ ...before, accessToken: `${before.accessToken}x` });
    expect((await client.myReservations()).nodes).toEqual([]);
    expect(operations).toEqual(['MyReservations', 'RefreshSession', 'MyReservations']);
    expect(client.session!.refreshToken).not.toBe(before.refreshToken);
    // The old refresh token is spent (rotation): the new one works.
    await client.refresh();
    expect(operations.at(-1)).toBe('RefreshSession');
  });

  it('refreshes before a request when the access token is about to expire', async () => {
    const { client, operations } = await traveller();
    const before = client.session!;
    client.setSession({ ...before, accessTokenExpiresAt: new Date(Date.now() + 1_000).toISOString() });
    await client.myReservations();
    expect(operations).toEqual(['RefreshSession', 'MyReservations']);
    expect(client.session!.accessToken).not.toBe(before.accessToken);
  });

  it('signs out: the refresh token is revoked', async () => {
    const { client } = await traveller();
    const refreshToken = client.session!.refreshToken!;
    await client.signOut();
    expect(client.session).toBeNull();
    const other = new TatkalClient({ url: sg.gatewayUrl, session: { accessToken: 'none', refreshToken } });
    await expect(other.refresh()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});
