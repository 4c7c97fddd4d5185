// The reserveSeats idempotency record, bound to its operation name: the queue reads it (replays,
// retries of a queued key) and caches outcomes in Redis; only the lifecycle's moves write it in
// the database, in the statement or transaction that moves the reservation.
import type { Idempotency, Stored } from '@tatkal/common';

/** The idempotent operation whose records the reservation lifecycle writes. */
export const RESERVE_OPERATION = 'reserveSeats';

export function reserveRecords(idempotency: Idempotency) {
  const op = RESERVE_OPERATION;
  return {
    prepare: (userId: string, key: string, request: unknown) =>
      idempotency.prepare({ userId, operation: op, key, request }),
    /** Caches an outcome (or a queued request's marker) in Redis: the fast path for retries. */
    cache: (userId: string, key: string, hash: string, stored: Stored) =>
      idempotency.cache(userId, op, key, hash, stored),
    lookup: (userId: string, key: string) => idempotency.lookupRecord(userId, op, key),
    finished: (keys: { userId: string; key: string }[]) => idempotency.finishedRecords(op, keys),
  };
}
export type ReserveRecords = ReturnType<typeof reserveRecords>;
