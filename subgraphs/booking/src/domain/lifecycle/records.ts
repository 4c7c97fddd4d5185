// The reserveSeats idempotency record, bound to its operation name: the queue reads it (replays,
// retries of a queued key, refusals) and caches outcomes in Redis; only the lifecycle's moves
// write it in the database, in the statement or transaction that moves the reservation.
import { groupCommit, type Idempotency, type KeyRecord, type Stored } from '@tatkal/common';

/** The idempotent operation whose records the reservation lifecycle writes. */
export const RESERVE_OPERATION = 'reserveSeats';

/** Keys looked up in one query at most. */
const LOOKUP_BATCH = 256;

export function reserveRecords(idempotency: Idempotency) {
  const op = RESERVE_OPERATION;
  // A group read: every refusal of a rush asks the database for its key, one query per batch.
  const lookups = groupCommit<{ userId: string; key: string }, KeyRecord | null>(
    () => LOOKUP_BATCH,
    async (batch) => {
      const found = await idempotency.lookupRecords(
        op,
        batch.map((e) => e.item),
      );
      for (const e of batch) e.resolve(found.get(`${e.item.userId}|${e.item.key}`) ?? null);
    },
  );
  return {
    prepare: (userId: string, key: string, request: unknown) =>
      idempotency.prepare({ userId, operation: op, key, request }),
    /** Caches an outcome (or a queued request's marker) in Redis: the fast path for retries. */
    cache: (userId: string, key: string, hash: string, stored: Stored) =>
      idempotency.cache(userId, op, key, hash, stored),
    /** The key's record in the database, read with the other lookups of the moment. */
    lookup: (userId: string, key: string) => lookups.submit({ userId, key }),
    finished: (keys: { userId: string; key: string }[]) => idempotency.finishedRecords(op, keys),
  };
}
export type ReserveRecords = ReturnType<typeof reserveRecords>;
