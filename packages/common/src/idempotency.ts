// Idempotent mutations with Stripe's semantics, scoped to (user, operation, key):
// - the first request's outcome (result or domain error) is stored and replayed to retries;
// - a retry while the first still runs waits briefly for it, then gets IDEMPOTENCY_IN_PROGRESS;
// - the same key with a different request gets IDEMPOTENCY_KEY_REUSED;
// - validation failures and unexpected errors store nothing, so a corrected retry can proceed.
// PostgreSQL is the record (table <schema>.idempotency_keys); Redis only caches finished outcomes.
// Two ways to run: `run` claims the key first (for work with effects outside one transaction,
// such as a call to the payment provider); `runAtomically` claims nothing and inserts the record
// in the work's own transaction, whose primary key then decides (the reservation hot path).
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { AppError, ErrorCode, badInput } from './errors.ts';

/** The subset of PrismaClient this module needs (kept structural so every service can pass its own). */
export interface RawSql {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>;
  $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number>;
}

export interface IdempotencyOptions {
  db: RawSql;
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

/** Thrown inside the work's transaction when another request recorded this key first: rolls the work back. */
export class IdempotencyKeyTaken extends Error {
  constructor() {
    super('Another request with this idempotency key finished first');
    this.name = 'IdempotencyKeyTaken';
  }
}

type RunParams = { userId: string; operation: string; key: string; request: unknown };

/** The columns of an idempotency record, for a work that inserts it in its own statement (runAtomically). */
export interface IdempotencyRecord {
  /** The quoted, schema-qualified table, e.g. "booking"."idempotency_keys". */
  table: string;
  userId: string;
  operation: string;
  key: string;
  requestHash: string;
}

/**
 * What runAtomically hands its work. Called, it inserts the record of `result` in the work's
 * transaction, a statement of its own. Or the work's own write statement inserts it (`record`:
 * the columns; the response column is `storedResponse(result)` as JSON; ON CONFLICT DO NOTHING)
 * and the work calls `recorded(result)` after that statement, or throws IdempotencyKeyTaken when
 * the statement inserted no record: one round trip fewer.
 */
export interface Completion<T> {
  (tx: RawSql, result: T): Promise<void>;
  readonly record: IdempotencyRecord;
  recorded(result: T): void;
}

/** The response column of a successful result's record (what a retry gets back). */
export const storedResponse = (result: unknown): string => JSON.stringify({ ok: true, data: result });

const inProgress = () =>
  new AppError(ErrorCode.IDEMPOTENCY_IN_PROGRESS, 'A request with this idempotency key is still being processed; retry shortly', { retryAfterMs: 500 });
const keyReused = () => new AppError(ErrorCode.IDEMPOTENCY_KEY_REUSED, 'This idempotency key was already used for a different request');

/** A finished outcome as stored: what every retry gets back. */
export type Stored = { ok: true; data: unknown } | { ok: false; error: { message: string; extensions: Record<string, unknown> } };

// Store what the client gets, so a replay is the same bytes: JSON in, JSON out. A success is
// stored as storedResponse renders it, which is also what a work's own statement inserts.
export const successOutcome = (data: unknown) => JSON.parse(storedResponse(data)) as Stored;
export const errorOutcome = (err: AppError): Stored => JSON.parse(JSON.stringify({ ok: false, error: { message: err.message, extensions: { ...err.extensions } } })) as Stored;

/** The result of a stored outcome: its data, or its error thrown (`replayed` marks a retry's answer). */
export function resultOf<T>(stored: Stored, replayed: boolean): T {
  if (stored.ok) return stored.data as T;
  throw new AppError(stored.error.extensions.code as ErrorCode, stored.error.message, replayed ? { ...stored.error.extensions, replayed: true } : stored.error.extensions);
}

/**
 * Completes records in the caller's transaction, many in one statement: the work that decided
 * them (booking's allocator) commits its effects and their outcomes together.
 */
export async function completeRecords(db: RawSql, schema: IdempotencyOptions['schema'], records: { userId: string; operation: string; key: string; stored: Stored }[]) {
  if (records.length === 0) return;
  await db.$executeRawUnsafe(
    `UPDATE "${schema}"."idempotency_keys" k SET response = d.response, completed_at = now(), locked_until = now()
     FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[]) AS d(user_id, operation, key, response)
     WHERE k.user_id = d.user_id AND k.operation = d.operation AND k.key = d.key`,
    records.map((r) => r.userId),
    records.map((r) => r.operation),
    records.map((r) => r.key),
    records.map((r) => JSON.stringify(r.stored)),
  );
}

/** Removes records that never finished (a queued request that failed for good): a retry starts afresh. */
export async function forgetRecords(db: RawSql, schema: IdempotencyOptions['schema'], records: { userId: string; operation: string; key: string }[]) {
  if (records.length === 0) return;
  await db.$executeRawUnsafe(
    `DELETE FROM "${schema}"."idempotency_keys" k USING unnest($1::text[], $2::text[], $3::text[]) AS d(user_id, operation, key)
     WHERE k.user_id = d.user_id AND k.operation = d.operation AND k.key = d.key AND k.completed_at IS NULL`,
    records.map((r) => r.userId),
    records.map((r) => r.operation),
    records.map((r) => r.key),
  );
}

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export function validateIdempotencyKey(key: string): void {
  if (!KEY_PATTERN.test(key)) {
    throw badInput('idempotencyKey must be 1 to 255 printable characters without spaces (a UUID is a good choice)', 'idempotencyKey');
  }
}

/** Canonical JSON (sorted keys) so the same request always hashes the same. */
export function requestHash(request: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === 'object'
        ? Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]))
        : v;
  return createHash('sha256').update(JSON.stringify(canonical(request ?? null))).digest('hex');
}

/** The stored outcome; `replayed` marks an error answered from the record (not the request's own first answer). */
const replay = <T>(stored: Stored, replayed = true): T => resultOf<T>(stored, replayed);

/** Domain outcomes worth remembering; validation and infrastructure failures are not. */
function isReplayable(err: unknown): err is AppError {
  return err instanceof AppError && ![ErrorCode.BAD_USER_INPUT, ErrorCode.TRY_AGAIN, ErrorCode.INTERNAL_SERVER_ERROR, ErrorCode.UNAUTHENTICATED].includes(err.code as never);
}

export function createIdempotency(opts: IdempotencyOptions) {
  const table = `"${opts.schema}"."idempotency_keys"`;
  const leaseMs = opts.leaseMs ?? 30_000;
  const waitMs = opts.waitMs ?? 5_000;
  const retentionMs = (opts.retentionHours ?? 24) * 3_600_000;
  const cacheKey = (userId: string, operation: string, key: string) => `idem:${opts.schema}:${userId}:${operation}:${key}`;

  async function cached(userId: string, operation: string, key: string): Promise<{ hash: string; stored: Stored } | null> {
    if (!opts.redis) return null;
    try {
      const raw = await opts.redis.get(cacheKey(userId, operation, key));
      return raw ? (JSON.parse(raw) as { hash: string; stored: Stored }) : null;
    } catch {
      return null; // Redis down or slow: the database answers.
    }
  }

  async function record(db: RawSql, userId: string, operation: string, key: string, stored: Stored) {
    await db.$executeRawUnsafe(
      `UPDATE ${table} SET response = $4::jsonb, completed_at = now() WHERE user_id = $1 AND operation = $2 AND key = $3`,
      userId,
      operation,
      key,
      JSON.stringify(stored),
    );
  }

  /** Inserts a finished outcome; false if the key already has a record (a request with it got there first). */
  async function insertRecord(db: RawSql, userId: string, operation: string, key: string, hash: string, stored: Stored): Promise<boolean> {
    const rows = await db.$queryRawUnsafe<{ key: string }[]>(
      `INSERT INTO ${table} (user_id, operation, key, request_hash, response, completed_at, locked_until)
       VALUES ($1, $2, $3, $4, $5::jsonb, now(), now())
       ON CONFLICT (user_id, operation, key) DO NOTHING
       RETURNING key`,
      userId,
      operation,
      key,
      hash,
      JSON.stringify(stored),
    );
    return rows.length > 0;
  }

  async function cache(userId: string, operation: string, key: string, hash: string, stored: Stored) {
    if (opts.redis) {
      await opts.redis.set(cacheKey(userId, operation, key), JSON.stringify({ hash, stored }), 'PX', retentionMs).catch(() => {});
    }
  }

  async function forget(userId: string, operation: string, key: string) {
    await opts.db.$executeRawUnsafe(`DELETE FROM ${table} WHERE user_id = $1 AND operation = $2 AND key = $3 AND completed_at IS NULL`, userId, operation, key);
  }

  /** Claims the key: true if this request now owns it (new, or the previous owner's lease ran out). */
  async function claim(userId: string, operation: string, key: string, hash: string): Promise<boolean> {
    const rows = await opts.db.$queryRawUnsafe<{ key: string }[]>(
      `INSERT INTO ${table} (user_id, operation, key, request_hash, locked_until)
       VALUES ($1, $2, $3, $4, now() + ($5 || ' milliseconds')::interval)
       ON CONFLICT (user_id, operation, key) DO UPDATE SET locked_until = EXCLUDED.locked_until
         WHERE ${table}.completed_at IS NULL AND ${table}.locked_until < now() AND ${table}.request_hash = EXCLUDED.request_hash
       RETURNING key`,
      userId,
      operation,
      key,
      hash,
      String(leaseMs),
    );
    return rows.length > 0;
  }

  async function lookup(userId: string, operation: string, key: string) {
    const rows = await opts.db.$queryRawUnsafe<{ request_hash: string; response: Stored | null }[]>(
      `SELECT request_hash, response FROM ${table} WHERE user_id = $1 AND operation = $2 AND key = $3`,
      userId,
      operation,
      key,
    );
    return rows[0] ?? null;
  }

  /** The outcome another request with this key recorded first: replayed, or refused if the request differs. */
  async function recorded<T>(userId: string, operation: string, key: string, hash: string): Promise<T> {
    const row = await lookup(userId, operation, key);
    if (row && row.request_hash !== hash) throw keyReused();
    if (!row?.response) throw inProgress();
    await cache(userId, operation, key, hash, row.response);
    return replay<T>(row.response);
  }

  /** Checks the key and hashes the request; an outcome already cached in Redis comes back as `hit`. */
  async function prepare(params: RunParams): Promise<{ hash: string; hit: Stored | null }> {
    validateIdempotencyKey(params.key);
    const hash = requestHash(params.request);
    const cachedOutcome = await cached(params.userId, params.operation, params.key);
    if (cachedOutcome && cachedOutcome.hash !== hash) throw keyReused();
    return { hash, hit: cachedOutcome?.stored ?? null };
  }


  /**
   * Runs `work`, whose `complete(tx, result)` stores the result through `recordInTx` in the work's
   * own transaction. Returns the outcome to replay and whether it is recorded already (it is when
   * `complete` ran and the work then returned: its transaction committed). A domain error is an
   * outcome too (a transaction that recorded and then failed rolled its record back); any other
   * error is thrown.
   */
  async function outcomeOf<T>(
    work: (complete: Completion<T>) => Promise<T>,
    recordInTx: (tx: RawSql, stored: Stored) => Promise<void>,
    record: IdempotencyRecord,
  ): Promise<{ stored: Stored; recorded: boolean }> {
    let recordedInWork: Stored | null = null;
    const complete: Completion<T> = Object.assign(
      async (tx: RawSql, result: T) => {
        const stored = successOutcome(result);
        await recordInTx(tx, stored);
        recordedInWork = stored;
      },
      {
        record,
        recorded: (result: T) => {
          recordedInWork = successOutcome(result);
        },
      },
    );
    try {
      const data = await work(complete);
      return recordedInWork ? { stored: recordedInWork, recorded: true } : { stored: successOutcome(data), recorded: false };
    } catch (err) {
      if (!isReplayable(err)) throw err;
      return { stored: errorOutcome(err), recorded: false };
    }
  }

  return {
    /** The quoted table of this service's records. */
    table,
    /** Checks the key and hashes the request; an outcome cached in Redis comes back as `hit`. */
    prepare,
    /** Caches a finished outcome in Redis (the fast path for retries). */
    cache,
    /** The record of a key: its request hash, stored response and whether it is finished. */
    async lookupRecord(userId: string, operation: string, key: string) {
      const rows = await opts.db.$queryRawUnsafe<{ request_hash: string; response: Stored | null; completed: boolean }[]>(
        `SELECT request_hash, response, completed_at IS NOT NULL AS completed FROM ${table} WHERE user_id = $1 AND operation = $2 AND key = $3`,
        userId,
        operation,
        key,
      );
      return rows[0] ?? null;
    },
    /** Finished records among these keys (one query), for waiters polling outcomes decided elsewhere. */
    async finishedRecords(operation: string, keys: { userId: string; key: string }[]): Promise<Map<string, Stored>> {
      if (keys.length === 0) return new Map();
      const rows = await opts.db.$queryRawUnsafe<{ user_id: string; key: string; response: Stored }[]>(
        `SELECT k.user_id, k.key, k.response FROM ${table} k JOIN unnest($2::text[], $3::text[]) AS d(user_id, key)
           ON k.user_id = d.user_id AND k.key = d.key AND k.operation = $1
         WHERE k.completed_at IS NOT NULL`,
        operation,
        keys.map((k) => k.userId),
        keys.map((k) => k.key),
      );
      return new Map(rows.map((r) => [`${r.user_id}|${r.key}`, r.response]));
    },
    /**
     * Runs `work` at most once per (userId, operation, key). Work that fails validation
     * (BAD_USER_INPUT) or the infrastructure stores nothing, so a corrected retry proceeds.
     *
     * `work` may call `complete(tx, result)` inside its own transaction: the response is then
     * recorded atomically with the work's writes (a crash right after the commit cannot let a
     * retry run the work twice), and it saves a round trip. Otherwise it is recorded after.
     */
    async run<T>(
      params: RunParams,
      work: (complete: (tx: RawSql, result: T) => Promise<void>) => Promise<T>,
    ): Promise<T> {
      const { userId, operation, key } = params;
      const { hash, hit } = await prepare(params);
      if (hit) return replay<T>(hit);

      const deadline = Date.now() + waitMs;
      for (let delay = 25; ; delay = Math.min(delay * 2, 250)) {
        if (await claim(userId, operation, key, hash)) break;
        const row = await lookup(userId, operation, key);
        if (!row) continue; // the owner gave up (validation failure): claim again
        if (row.request_hash !== hash) throw keyReused();
        if (row.response) return replay<T>(row.response);
        if (Date.now() >= deadline) {
          throw inProgress();
        }
        await new Promise((r) => setTimeout(r, delay));
      }

      let outcome: { stored: Stored; recorded: boolean };
      try {
        // `run` has claimed the key: its record exists, so work may only complete it (an update).
        outcome = await outcomeOf(work, (tx, stored) => record(tx, userId, operation, key, stored), { table, userId, operation, key, requestHash: hash });
      } catch (err) {
        await forget(userId, operation, key);
        throw err;
      }
      if (!outcome.recorded) await record(opts.db, userId, operation, key, outcome.stored);
      await cache(userId, operation, key, hash, outcome.stored);
      return replay<T>(outcome.stored, false);
    },

    /**
     * Like `run`, for work whose every effect is in one database transaction that calls
     * `complete(tx, result)` before it commits: no claim first (one statement and one commit
     * fewer). `complete` inserts the record; the key's primary key lets only one transaction
     * insert it. A concurrent request with the same key waits there for the first one to end,
     * then rolls its own work back and replays the first one's outcome. Domain errors thrown by
     * the work are recorded after it, the same way.
     */
    async runAtomically<T>(
      params: RunParams,
      work: (complete: Completion<T>) => Promise<T>,
    ): Promise<T> {
      const { userId, operation, key } = params;
      const { hash, hit } = await prepare(params);
      if (hit) return replay<T>(hit);

      let outcome: { stored: Stored; recorded: boolean };
      try {
        outcome = await outcomeOf(
          work,
          async (tx, stored) => {
            if (!(await insertRecord(tx, userId, operation, key, hash, stored))) throw new IdempotencyKeyTaken();
          },
          { table, userId, operation, key, requestHash: hash },
        );
      } catch (err) {
        if (err instanceof IdempotencyKeyTaken) return recorded<T>(userId, operation, key, hash);
        throw err;
      }
      if (!outcome.recorded && !(await insertRecord(opts.db, userId, operation, key, hash, outcome.stored))) return recorded<T>(userId, operation, key, hash);
      await cache(userId, operation, key, hash, outcome.stored);
      return replay<T>(outcome.stored, false);
    },

    /** Deletes keys older than the retention period. */
    async purge(): Promise<number> {
      return opts.db.$executeRawUnsafe(`DELETE FROM ${table} WHERE created_at < now() - ($1 || ' milliseconds')::interval`, String(retentionMs * 2));
    },
  };
}
export type Idempotency = ReturnType<typeof createIdempotency>;
