// Idempotency.run against the real PostgreSQL: claims of requests arriving together are written
// one statement per batch, and batching changes no answer (one run per key, repeats replayed, a
// reused key refused, a taken-over lease still honoured).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '@tatkal/db';
import { AppError } from './errors.ts';
import { createIdempotency, startIdempotencyPurge } from './idempotency.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { testLogger } from '../../../test/support/logger.ts';
import { countingPrisma, type CountingPrisma } from '../../../test/support/queryCount.ts';
import { waitFor } from '../../../test/support/wait.ts';

let db: TestDatabase;
let counting: CountingPrisma;
beforeAll(async () => {
  db = await createTestDatabase('idempotency');
  counting = countingPrisma(db.url);
});
afterAll(async () => {
  await counting?.disconnect();
  await db?.drop();
});

const idempotency = () => createIdempotency({ db: counting.prisma, sql: Prisma, schema: 'payment' });
const codeOf = (err: unknown) => (err instanceof AppError ? err.extensions.code : String(err));

describe('claims of requests arriving together', () => {
  it('are one statement for many keys, and every key runs its work once', async () => {
    const idem = idempotency();
    const userId = randomUUID();
    const keys = Array.from({ length: 40 }, () => randomUUID());
    const runs = new Map<string, number>();
    let answers: string[] = [];
    const statements = await counting.statementsDuring(async () => {
      answers = await Promise.all(
        keys.map((key) =>
          idem.run({ userId, operation: 'op', key, request: { key } }, async () => {
            runs.set(key, (runs.get(key) ?? 0) + 1);
            return `done ${key}`;
          }),
        ),
      );
    });
    expect(answers).toEqual(keys.map((k) => `done ${k}`));
    expect([...runs.values()]).toEqual(keys.map(() => 1));
    const claims = statements.filter((s) => /INSERT INTO "payment"."idempotency_keys"/.test(s));
    // 40 claims together: the first alone, the rest in one or a few batches, never one each.
    expect(claims.length).toBeGreaterThanOrEqual(1);
    expect(claims.length).toBeLessThan(keys.length / 4);
    const stored = await db.prisma.$queryRaw<{ n: bigint }[]>`
      SELECT count(*) AS n FROM payment.idempotency_keys
      WHERE user_id = ${userId} AND completed_at IS NOT NULL`;
    expect(Number(stored[0]!.n)).toBe(keys.length);
  });

  it('a key sent many times at once runs once; every copy gets its answer; another request is refused', async () => {
    const idem = idempotency();
    const userId = randomUUID();
    const key = randomUUID();
    let runs = 0;
    const work = async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 50)); // still running when the copies claim
      return { paid: runs };
    };
    const copies = Array.from({ length: 10 }, () =>
      idem.run({ userId, operation: 'op', key, request: { amount: 1 } }, work).catch(codeOf),
    );
    const other = idem.run({ userId, operation: 'op', key, request: { amount: 2 } }, work).catch(codeOf);
    // Other keys in the same batches.
    const neighbours = Array.from({ length: 10 }, () =>
      idem.run({ userId, operation: 'op', key: randomUUID(), request: {} }, async () => 'n'),
    );
    const [answers, otherAnswer] = await Promise.all([Promise.all(copies), other, Promise.all(neighbours)]);
    expect(runs).toBe(1);
    expect(answers).toEqual(answers.map(() => ({ paid: 1 })));
    expect(otherAnswer).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('a batch takes over a key whose owner died (lease run out) and leaves a live lease alone', async () => {
    const idem = createIdempotency({ db: counting.prisma, sql: Prisma, schema: 'payment', waitMs: 200 });
    const userId = randomUUID();
    const [dead, live] = [randomUUID(), randomUUID()];
    const hash = (await idem.prepare({ userId, operation: 'op', key: dead, request: {} })).hash;
    await db.prisma.$executeRaw`
      INSERT INTO payment.idempotency_keys (user_id, operation, key, request_hash, locked_until)
      VALUES (${userId}, 'op', ${dead}, ${hash}, now() - interval '1 second'),
             (${userId}, 'op', ${live}, ${hash}, now() + interval '1 minute')`;
    const together = [dead, live, randomUUID(), randomUUID()].map((key) =>
      idem.run({ userId, operation: 'op', key, request: {} }, async () => `ran ${key}`).catch(codeOf),
    );
    const [deadAnswer, liveAnswer, ...fresh] = await Promise.all(together);
    expect(deadAnswer).toBe(`ran ${dead}`);
    expect(liveAnswer).toBe('IDEMPOTENCY_IN_PROGRESS');
    expect(fresh.every((a) => String(a).startsWith('ran '))).toBe(true);
  });
});

describe('retention', () => {
  it('records older than twice the retention are purged at start and hourly; newer ones are kept', async () => {
    const idem = createIdempotency({ db: db.prisma, sql: Prisma, schema: 'payment', retentionHours: 24 });
    const userId = randomUUID();
    const insert = (key: string, hoursAgo: number) => db.prisma.$executeRaw`
      INSERT INTO payment.idempotency_keys (user_id, operation, key, request_hash, response, created_at,
        completed_at, locked_until)
      VALUES (${userId}, 'op', ${key}, 'h', '{"ok":true,"data":1}',
        now() - make_interval(hours => ${hoursAgo}::int), now(), now())`;
    await insert('old', 49);
    await insert('kept', 47);
    const purge = startIdempotencyPurge(idem, testLogger);
    try {
      await waitFor('the old record purged', async () => {
        const rows = await db.prisma.$queryRaw<{ key: string }[]>`
          SELECT key FROM payment.idempotency_keys WHERE user_id = ${userId}`;
        return rows.length === 1 && rows[0]!.key === 'kept';
      });
    } finally {
      await purge.stop();
    }
  });
});
