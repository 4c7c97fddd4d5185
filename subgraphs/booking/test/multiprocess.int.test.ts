// Two booking processes share PostgreSQL and Redis; requests are split between them over HTTP.
// One allocator at a time decides (the run's lease and its fence), whichever process a request
// reached: zero double booking, and each request's outcome reaches it through either process.
import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcess, type RunningProcess } from '../../../packages/testkit/src/processes.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { AMQP_URL, REDIS_URL } from '../../../test/support/env.ts';
import { createTestKeys, type TestKeys } from '../../../test/support/tokens.ts';
import { retrying, waitFor } from '../../../test/support/wait.ts';
import { createTestRun, doubleBookingAudit, type TestRun } from './fixtures.ts';

let db: TestDatabase;
let keys: TestKeys;
let jwksServer: Server;
let run: TestRun;
const instances: RunningProcess[] = [];

beforeAll(async () => {
  db = await createTestDatabase('booking_multiprocess');
  keys = await createTestKeys();
  // The processes verify tokens against a JWKS URL, as they would against the auth subgraph.
  jwksServer = createServer((_req, res) =>
    res.setHeader('content-type', 'application/json').end(JSON.stringify(keys.jwks)),
  );
  await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
  const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as { port: number }).port}/jwks.json`;
  run = await createTestRun(db.prisma, { coaches: 4, berthsPerCoach: 50 });
  const env = {
    DATABASE_URL: db.url,
    REDIS_URL,
    AMQP_URL,
    AUTH_JWKS_URL: jwksUrl,
    SWEEP_INTERVAL_MS: '0',
    DB_POOL_SIZE: '15',
    EVENTS_ENABLED: 'false',
    INVENTORY_HORIZON_DAYS: '0',
  };
  instances.push(
    ...(await Promise.all([
      startProcess('booking-1', 'subgraphs/booking/src/index.ts', env),
      startProcess('booking-2', 'subgraphs/booking/src/index.ts', env),
    ])),
  );
}, 120_000);

afterAll(async () => {
  await Promise.all(instances.map((p) => p.stop()));
  jwksServer?.close();
  await db?.drop();
});

describe('two booking processes', () => {
  it('600 requests split across two processes for 200 berths: exactly 200 held, none twice', async () => {
    const query = `mutation($input: ReserveSeatsInput!, $key: String!) {
      reserveSeats(input: $input, idempotencyKey: $key) {
        pnr status passengers { status coach berth waitlistNumber }
      }
    }`;
    type Outcome = {
      pnr: string;
      status: string;
      passengers: { status: string; coach: string | null; berth: number | null; waitlistNumber: number | null }[];
    };
    type Answer = {
      data?: { reserveSeats: Outcome };
      errors?: { extensions: { code: string } }[];
    };
    // A client as documented: TRY_AGAIN (overload) is retried with the same idempotency key, and
    // a QUEUED reservation is followed with reservation(pnr) until its outcome.
    const send = async (i: number): Promise<Answer> => {
      const answer = await reserve(i);
      const queued = answer.data?.reserveSeats;
      if (queued?.status !== 'QUEUED') return answer;
      const token = tokens.get(i)!;
      const outcome = await waitFor(
        `the outcome of ${queued.pnr}`,
        async () => {
          const res = await fetch(`${instances[i % 2]!.url}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
            body: JSON.stringify({
              query: `query($pnr: String!) {
                reservation(pnr: $pnr) { pnr status passengers { status coach berth waitlistNumber } }
              }`,
              variables: { pnr: queued.pnr },
            }),
          });
          const polled = (await res.json()) as { data: { reservation: Outcome } };
          if (!polled.data?.reservation) throw new Error(JSON.stringify(polled));
          return polled.data.reservation.status !== 'QUEUED' && polled.data.reservation;
        },
        { intervalMs: 250, timeoutMs: 60_000 },
      );
      return { data: { reserveSeats: outcome } };
    };
    const tokens = new Map<number, string>();
    const reserve = async (i: number): Promise<Answer> => {
      const token = await keys.sign(randomUUID());
      tokens.set(i, token);
      const body = JSON.stringify({
        query,
        variables: {
          key: randomUUID(),
          input: {
            runId: run.runId,
            from: run.stations[0],
            to: run.stations[3],
            class: 'SLEEPER',
            passengers: [{ name: 'Multi Process', age: 40, gender: 'MALE' }],
          },
        },
      });
      return retrying(
        'reserveSeats',
        async (attempt) => {
          const res = await fetch(`${instances[(i + attempt) % 2]!.url}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
            body,
          });
          return (await res.json()) as Answer;
        },
        (answer) => answer.errors?.[0]?.extensions.code === 'TRY_AGAIN',
        { attempts: 5, backoffMs: (attempt) => 200 * attempt },
      );
    };
    // Each process fetches the JWKS once before the burst (a running service has it cached): the
    // first fetch under a 600-request burst on a loaded machine could exceed jose's time-out.
    const warm = await keys.sign(randomUUID());
    for (const instance of instances) {
      const res = await fetch(`${instance.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${warm}` },
        body: JSON.stringify({ query: '{ myReservations { nodes { id } } }' }),
      });
      expect(res.status).toBe(200);
    }
    const results = await Promise.all(Array.from({ length: 600 }, (_, i) => send(i)));
    // Every request is held (unpaid): 200 on berths, 400 on the waitlist, told by the passenger.
    const statuses = results.map((r) =>
      r.data
        ? `${r.data.reserveSeats.status}/${r.data.reserveSeats.passengers[0]!.status}`
        : r.errors?.[0]?.extensions.code,
    );
    const counts: Record<string, number> = {};
    for (const s of statuses) counts[String(s)] = (counts[String(s)] ?? 0) + 1;
    expect(counts).toEqual({ 'HELD/HELD': 200, 'HELD/WAITLISTED': 400 });
    const wl = results.flatMap((r) => r.data!.reserveSeats.passengers.flatMap((p) => p.waitlistNumber ?? []));
    expect(wl.sort((a, b) => a - b)).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
    expect(await doubleBookingAudit(db.prisma, run.runId)).toEqual({
      overlaps: 0,
      maskMismatch: 0,
      seatedPassengers: 200,
      distinctSeats: 200,
    });
    // 600 HTTP requests through two processes took ~52 s alone on the loaded 2-core machine.
  }, 180_000);
});
