// Found by the chaos run (bench/chaos.ts, issue 25): a booking process killed right after a
// cancellation committed, before its idempotency record had the answer. The traveller's retry
// with the same key ran the cancellation again and was answered INVALID_STATE ("A cancelled
// reservation cannot be cancelled") for a cancellation that had happened. The answer is now
// stored in the cancellation's own transaction, so a retry gets the cancellation back.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdempotency, createRedis, type Identity, type Idempotency, type Redis } from '@tatkal/common';
import { Prisma } from '@tatkal/db';
import { bookingContext, type BookingDeps } from '../src/context.ts';
import { createBookingDeps } from '../src/deps.ts';
import { buildBookingServer } from '../src/server.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { REDIS_URL } from '../../../test/support/env.ts';
import { errorCodes, execute } from '../../../test/support/graphql.ts';
import { testLogger } from '../../../test/support/logger.ts';
import { identity } from '../../../test/support/tokens.ts';
import { waitFor } from '../../../test/support/wait.ts';
import { createTestRun } from './fixtures.ts';

let db: TestDatabase;
let redis: Redis;
let deps: BookingDeps;
const { server } = buildBookingServer({ logger: testLogger, production: false });
const ctx = (who: Identity) => bookingContext(deps, { identity: who, requestId: 'test', log: testLogger });

const RESERVE = `mutation($input: ReserveSeatsInput!, $key: String!) {
  reserveSeats(input: $input, idempotencyKey: $key) { id pnr status passengers { id status } }
}`;
const CANCEL = `mutation($pnr: String!, $ids: [ID!], $key: String!) {
  cancelReservation(pnr: $pnr, passengerIds: $ids, idempotencyKey: $key) { pnr status passengers { status } }
}`;

beforeAll(async () => {
  db = await createTestDatabase('cancel_crash');
  redis = createRedis(REDIS_URL);
  deps = createBookingDeps(db.prisma, redis, testLogger, {
    txMaxWaitMs: 30_000,
    txTimeoutMs: 30_000,
    queueWaitMs: 60_000,
  });
  await server.start();
});

afterAll(async () => {
  await server.stop();
  redis?.disconnect();
  await db?.drop();
});

describe('a cancellation whose process died before its answer was stored', () => {
  for (const partial of [false, true]) {
    const what = partial ? 'one passenger' : 'whole PNR';
    it(`a retry with the same key gets the cancellation back (${what})`, async () => {
      const run = await createTestRun(db.prisma, { coaches: 1, berthsPerCoach: 4 });
      const owner = identity(randomUUID());
      const passengers = [0, 1].map((i) => ({ name: `Passenger ${'AB'[i]}`, age: 30 + i, gender: 'MALE' }));
      const input = { runId: run.runId, from: run.stations[0], to: run.stations[3], class: 'SLEEPER', passengers };
      const held = await execute(server, RESERVE, { input, key: randomUUID() }, ctx(owner));
      expect(held.errors).toBeUndefined();
      const { pnr, passengers: pax } = held.data!.reserveSeats as { pnr: string; passengers: { id: string }[] };
      const ids = partial ? [pax[1]!.id] : null;
      const key = randomUUID();

      // The first attempt, through the resolver in a "process" with a 1 s idempotency lease:
      // the cancellation commits, and the process dies before \`run\` stores the answer after it
      // (its promise never settles).
      const short = createIdempotency({ db: db.prisma, sql: Prisma, schema: 'booking', redis: null, leaseMs: 1_000 });
      let committed!: () => void;
      const cancelledInDb = new Promise<void>((r) => {
        committed = r;
      });
      const dying: Idempotency = {
        ...short,
        run: (params, work) =>
          short.run(params, (complete, completion) =>
            work(complete, completion).then(() => {
              committed();
              return new Promise<never>(() => {});
            }),
          ),
      };
      const dyingDeps = { ...deps, idempotency: dying, reservations: { ...deps.reservations, idempotency: dying } };
      void execute(
        server,
        CANCEL,
        { pnr, ids, key },
        bookingContext(dyingDeps, { identity: owner, requestId: 'test', log: testLogger }),
      );
      await cancelledInDb;
      await waitFor('the dead attempt’s lease to run out', async () => {
        const rows = await db.prisma.$queryRaw<{ free: boolean }[]>`
          SELECT locked_until < now() AS free FROM booking.idempotency_keys WHERE key = ${key}`;
        return rows[0]?.free === true && rows[0];
      });

      // The traveller's retry, same key, to a live process.
      const retry = await execute(server, CANCEL, { pnr, ids, key }, ctx(owner));
      expect(errorCodes(retry)).toEqual([]);
      expect(retry.data!.cancelReservation).toEqual({
        pnr,
        status: partial ? 'HELD' : 'CANCELLED',
        passengers: partial
          ? [{ status: 'HELD' }, { status: 'CANCELLED' }]
          : [{ status: 'CANCELLED' }, { status: 'CANCELLED' }],
      });
    });
  }
});
