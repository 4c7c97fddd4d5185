// Idempotent mutations with Stripe's semantics, scoped to (user, operation, key):
// - the first request's outcome (result or domain error) is stored and replayed to retries;
// - a retry while the first still runs waits briefly for it, then gets IDEMPOTENCY_IN_PROGRESS;
// - the same key with a different request gets IDEMPOTENCY_KEY_REUSED;
// - validation failures and unexpected errors store nothing, so a corrected retry can proceed.
// A record is the row of one key in <schema>.idempotency_keys: pending until its outcome is
// stored (complete), then finished; Redis only caches finished outcomes. This module writes every
// record: `run` claims and completes its own; work that decides many requests in its own
// statements (booking's queue and allocator) puts the fragments `insertPending` and `completion`
// in them, or calls `complete` and `forget` in its transaction.
import type { Redis } from 'ioredis';
import { ALONE, groupCommitOrAlone } from './groupCommit.ts';
import {
  type KeyRecord,
  type Outcome,
  type Stored,
  inProgress,
  isReplayable,
  keyReused,
  replay,
  requestHash,
  storedResponse,
  successOutcome,
  errorOutcome,
  validateIdempotencyKey,
} from './idempotencyOutcomes.ts';
import type { Logger } from './logger.ts';
import { type Periodic, startPeriodic } from './periodic.ts';

/** A piece of SQL with its parameters, as Prisma's `Prisma.sql` makes it: it nests in a caller's `$queryRaw`. */
export interface SqlFragment {
  readonly strings: readonly string[];
  readonly values: readonly unknown[];
  /** The statement with PostgreSQL's $1, $2, ... placeholders. */
  readonly text: string;
}

/** Prisma's SQL builders (`Prisma` from @tatkal/db), injected: this package does not depend on the generated client. */
export interface SqlBuilder {
  sql(strings: readonly string[], ...values: unknown[]): SqlFragment;
  raw(text: string): SqlFragment;
}

/** The subset of PrismaClient (or a transaction client) this module needs, kept structural. */
export interface RawSql {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>;
  $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number>;
}

const execute = (db: RawSql, fragment: SqlFragment) => db.$executeRawUnsafe(fragment.text, ...fragment.values);

export interface IdempotencyOptions {
  db: RawSql;
  sql: SqlBuilder;
  /** The service's own schema: booking, payment or auth. */
  schema: 'booking' | 'payment' | 'auth';
  redis?: Redis | null;
  /** How long a started request owns its key before another may take over (a crashed process). */
  leaseMs?: number;
  /** How long a concurrent retry waits for the first request before IDEMPOTENCY_IN_PROGRESS. */
  waitMs?: number;
  /** Keys are kept at least this long. */
  retentionHours?: number;
}

type RunParams = { userId: string; operation: string; key: string; request: unknown };

export {
  type KeyRecord,
  type Outcome,
  type Stored,
  errorOutcome,
  keyReused,
  requestHash,
  resultOf,
  successOutcome,
  validateIdempotencyKey,
} from './idempotencyOutcomes.ts';

/** Claims written in one statement at most. */
const CLAIM_BATCH = 256;

export function createIdempotency(opts: IdempotencyOptions) {
  const table = `"${opts.schema}"."idempotency_keys"`;
  const { sql, raw } = opts.sql;
  const tableSql = raw(table);
  const leaseMs = opts.leaseMs ?? 30_000;
  const waitMs = opts.waitMs ?? 5_000;
  const retentionMs = (opts.retentionHours ?? 24) * 3_600_000;
  const cacheKey = (userId: string, operation: string, key: string) =>
    `idem:${opts.schema}:${userId}:${operation}:${key}`;

  async function cached(
    userId: string,
    operation: string,
    key: string,
  ): Promise<{ hash: string; stored: Stored } | null> {
    if (!opts.redis) return null;
    try {
      const raw = await opts.redis.get(cacheKey(userId, operation, key));
      return raw ? (JSON.parse(raw) as { hash: string; stored: Stored }) : null;
    } catch {
      return null; // Redis down or slow: the database answers.
    }
  }

  async function cache(userId: string, operation: string, key: string, hash: string, stored: Stored) {
    if (opts.redis) {
      await opts.redis
        .set(cacheKey(userId, operation, key), JSON.stringify({ hash, stored }), 'PX', retentionMs)
        .catch(() => {});
    }
  }

  /**
   * Stores outcomes in pending records, one statement for any number of them (`at`: the
   * completion time, the database's clock when absent). A fragment: the caller's own statement
   * may run it as one of its CTEs.
   */
  function completion(operation: string, outcomes: readonly Outcome[], at?: Date): SqlFragment {
    const time = at ? sql(['', '::timestamptz'], at) : raw('now()');
    return sql`UPDATE ${tableSql} k SET response = d.response, completed_at = ${time}, locked_until = ${time}
      FROM unnest(
          ${outcomes.map((o) => o.userId)}::text[],
          ${outcomes.map((o) => o.key)}::text[],
          ${outcomes.map((o) => JSON.stringify(o.stored))}::jsonb[]
        ) AS d(user_id, key, response)
      WHERE k.user_id = d.user_id AND k.operation = ${operation} AND k.key = d.key`;
  }

  async function complete(db: RawSql, operation: string, outcomes: readonly Outcome[]): Promise<void> {
    if (outcomes.length > 0) await execute(db, completion(operation, outcomes));
  }

  /** Removes records that never finished: a retry with one of these keys starts afresh. */
  async function forget(
    db: RawSql,
    operation: string,
    keys: readonly { userId: string; key: string }[],
  ): Promise<void> {
    if (keys.length === 0) return;
    await execute(
      db,
      sql`DELETE FROM ${tableSql} k
        USING unnest(${keys.map((k) => k.userId)}::text[], ${keys.map((k) => k.key)}::text[]) AS d(user_id, key)
      WHERE k.user_id = d.user_id AND k.operation = ${operation} AND k.key = d.key
        AND k.completed_at IS NULL`,
    );
  }

  // Claims: a record is taken over only when unfinished, its owner's lease has run out, and it is
  // the same request. One statement for any number of keys (rows in key order, so two batches of
  // two replicas never wait on each other's keys in opposite orders).
  type Claim = { userId: string; operation: string; key: string; hash: string };
  const claimId = (c: Claim) => `${c.userId}|${c.operation}|${c.key}`;
  async function writeClaims(batch: readonly Claim[]): Promise<boolean[]> {
    const sorted = [...batch].sort((a, b) => (claimId(a) < claimId(b) ? -1 : 1));
    const rows = await opts.db.$queryRawUnsafe<{ user_id: string; operation: string; key: string }[]>(
      `INSERT INTO ${table} (user_id, operation, key, request_hash, locked_until)
       SELECT d.user_id, d.operation, d.key, d.hash, now() + ($5 || ' milliseconds')::interval
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
         WITH ORDINALITY AS d(user_id, operation, key, hash, ord)
       ORDER BY d.ord
       ON CONFLICT (user_id, operation, key) DO UPDATE SET locked_until = EXCLUDED.locked_until
         WHERE ${table}.completed_at IS NULL AND ${table}.locked_until < now()
           AND ${table}.request_hash = EXCLUDED.request_hash
       RETURNING user_id, operation, key`,
      sorted.map((c) => c.userId),
      sorted.map((c) => c.operation),
      sorted.map((c) => c.key),
      sorted.map((c) => c.hash),
      String(leaseMs),
    );
    const claimed = new Set(rows.map((r) => `${r.user_id}|${r.operation}|${r.key}`));
    return batch.map((c) => claimed.has(claimId(c)));
  }

  // The claims of requests arriving together share a statement (a payment minute's createPayments:
  // a statement costs the service and PostgreSQL more than a row); a repeated key, and every claim
  // of a batch whose statement failed, is claimed alone.
  const claims = groupCommitOrAlone<Claim, boolean>({
    maxBatch: CLAIM_BATCH,
    keysOf: (c) => [claimId(c)],
    write: writeClaims,
    onError: () => {}, // each claim then runs alone and meets the error itself
  });

  /** Claims the key: true if this request now owns it (new, or the previous owner's lease ran out). */
  async function claim(userId: string, operation: string, key: string, hash: string): Promise<boolean> {
    const c = { userId, operation, key, hash };
    const claimed = await claims(c);
    return claimed === ALONE ? (await writeClaims([c]))[0]! : claimed;
  }

  async function lookupRecord(userId: string, operation: string, key: string): Promise<KeyRecord | null> {
    const rows = await opts.db.$queryRawUnsafe<KeyRecord[]>(
      `SELECT request_hash, response, completed_at IS NOT NULL AS completed FROM ${table}
       WHERE user_id = $1 AND operation = $2 AND key = $3`,
      userId,
      operation,
      key,
    );
    return rows[0] ?? null;
  }

  /**
   * The records of these keys (one query), by `user|key`; a key without a record is absent, and
   * with `finishedOnly` one not finished too.
   */
  async function lookupRecords(
    operation: string,
    keys: readonly { userId: string; key: string }[],
    finishedOnly = false,
  ): Promise<Map<string, KeyRecord>> {
    if (keys.length === 0) return new Map();
    const rows = await opts.db.$queryRawUnsafe<(KeyRecord & { user_id: string; key: string })[]>(
      `SELECT k.user_id, k.key, k.request_hash, k.response, k.completed_at IS NOT NULL AS completed
       FROM ${table} k JOIN unnest($2::text[], $3::text[]) AS d(user_id, key)
         ON k.user_id = d.user_id AND k.key = d.key AND k.operation = $1
       ${finishedOnly ? 'WHERE k.completed_at IS NOT NULL' : ''}`,
      operation,
      keys.map((k) => k.userId),
      keys.map((k) => k.key),
    );
    return new Map(
      rows.map((r) => [
        `${r.user_id}|${r.key}`,
        { request_hash: r.request_hash, response: r.response, completed: r.completed },
      ]),
    );
  }

  /** Checks the key and hashes the request; an outcome already cached in Redis comes back as `hit`. */
  async function prepare(params: RunParams): Promise<{ hash: string; hit: Stored | null }> {
    validateIdempotencyKey(params.key);
    const hash = requestHash(params.request);
    const cachedOutcome = await cached(params.userId, params.operation, params.key);
    if (cachedOutcome && cachedOutcome.hash !== hash) throw keyReused();
    return { hash, hit: cachedOutcome?.stored ?? null };
  }

  return {
    /** The quoted table of this service's records. */
    table,
    /** Checks the key and hashes the request; an outcome cached in Redis comes back as `hit`. */
    prepare,
    /** Caches a finished outcome in Redis (the fast path for retries). */
    cache,
    /** The record of a key: its request hash, stored response and whether it is finished. */
    lookupRecord,
    lookupRecords,
    /** Finished records among these keys (one query), for waiters polling outcomes decided elsewhere. */
    async finishedRecords(operation: string, keys: { userId: string; key: string }[]): Promise<Map<string, Stored>> {
      const found = await lookupRecords(operation, keys, true);
      return new Map([...found].map(([k, r]) => [k, r.response!]));
    },
    /**
     * Inserts pending records whose answer so far is `answer` (a queued request's view: a retry
     * finds what the first request made), held until completed; keys already taken are skipped.
     * A fragment for a CTE of the caller's statement: it returns `user_id, key` of each record it
     * inserted, in `rows` order.
     */
    insertPending(
      operation: string,
      rows: readonly { userId: string; key: string; requestHash: string; answer: unknown }[],
    ): SqlFragment {
      return sql`INSERT INTO ${tableSql} (user_id, operation, key, request_hash, response, locked_until)
      SELECT d.user_id, ${operation}::text, d.key, d.hash, d.response, 'infinity'
      FROM unnest(
          ${rows.map((r) => r.userId)}::text[],
          ${rows.map((r) => r.key)}::text[],
          ${rows.map((r) => r.requestHash)}::text[],
          ${rows.map((r) => storedResponse(r.answer))}::jsonb[]
        ) WITH ORDINALITY AS d(user_id, key, hash, response, ord)
      ORDER BY d.ord
      ON CONFLICT (user_id, operation, key) DO NOTHING
      RETURNING user_id, key`;
    },
    completion,
    /** Stores outcomes in their pending records, in the caller's transaction (`completion`, run alone). */
    complete,
    forget,
    /**
     * Runs `work` at most once per (userId, operation, key). Work that fails validation
     * (BAD_USER_INPUT) or the infrastructure stores nothing, so a corrected retry proceeds.
     *
     * `work` may call `complete(tx, result)` inside its own transaction: the response is then
     * stored atomically with the work's writes (a crash right after the commit cannot let a
     * retry run the work twice), and it saves a round trip. Or it may put `completion(result).sql`
     * (an UPDATE; its WHERE may be extended with AND ...) in its own statement and call `applied()`
     * once that statement stored it. Otherwise it is stored after.
     */
    async run<T>(
      params: RunParams,
      work: (
        complete: (tx: RawSql, result: T) => Promise<void>,
        completion: (result: T) => { sql: SqlFragment; applied: () => void },
      ) => Promise<T>,
    ): Promise<T> {
      const { userId, operation, key } = params;
      const { hash, hit } = await prepare(params);
      if (hit) return replay<T>(hit);

      const deadline = Date.now() + waitMs;
      for (let delay = 25; ; delay = Math.min(delay * 2, 250)) {
        if (await claim(userId, operation, key, hash)) break;
        const row = await lookupRecord(userId, operation, key);
        if (!row) continue; // the owner gave up (validation failure): claim again
        if (row.request_hash !== hash) throw keyReused();
        if (row.response) return replay<T>(row.response);
        if (Date.now() >= deadline) {
          throw inProgress();
        }
        await new Promise((r) => setTimeout(r, delay));
      }

      let stored: Stored;
      let completedInWork = false;
      try {
        const data = await work(
          async (tx, result) => {
            stored = successOutcome(result);
            await complete(tx, operation, [{ userId, key, stored }]);
            completedInWork = true;
          },
          (result) => {
            const outcome = successOutcome(result);
            return {
              sql: completion(operation, [{ userId, key, stored: outcome }]),
              applied: () => {
                stored = outcome;
                completedInWork = true;
              },
            };
          },
        );
        // Completed in the work's transaction, which committed when the work returned.
        if (!completedInWork) stored = successOutcome(data);
      } catch (err) {
        if (!isReplayable(err)) {
          await forget(opts.db, operation, [{ userId, key }]);
          throw err;
        }
        // A transaction that completed the record and then failed rolled it back.
        completedInWork = false;
        stored = errorOutcome(err);
      }
      if (!completedInWork) await complete(opts.db, operation, [{ userId, key, stored: stored! }]);
      await cache(userId, operation, key, hash, stored!);
      return replay<T>(stored!, false);
    },

    /** Deletes keys older than the retention period. */
    async purge(): Promise<number> {
      return opts.db.$executeRawUnsafe(
        `DELETE FROM ${table} WHERE created_at < now() - ($1 || ' milliseconds')::interval`,
        String(retentionMs * 2),
      );
    },
  };
}
export type Idempotency = ReturnType<typeof createIdempotency>;

/**
 * Purges a service's records past their retention at start and hourly after (every instance may:
 * the DELETE is idempotent).
 */
export function startIdempotencyPurge(idempotency: Idempotency, logger: Logger): Periodic {
  return startPeriodic({ name: 'idempotency purge', intervalMs: 3_600_000, logger, runAtStart: true }, async () => {
    const purged = await idempotency.purge();
    if (purged) logger.info({ purged, table: idempotency.table }, 'deleted idempotency records past their retention');
  });
}
