// What an idempotency record answers, apart from where it is kept: keys checked, requests hashed,
// outcomes stored as the client gets them and replayed to retries (idempotency.ts stores them).
import { createHash } from 'node:crypto';
import { AppError, ErrorCode, badInput } from './errors.ts';

/** A finished outcome for one key of an operation. */
export interface Outcome {
  userId: string;
  key: string;
  stored: Stored;
}

/** A key's record: the request it was first sent with, its answer so far, whether it is finished. */
export interface KeyRecord {
  request_hash: string;
  response: Stored | null;
  completed: boolean;
}

/** The JSON of a successful result as its record stores it (what a retry gets back). */
export const storedResponse = (result: unknown): string => JSON.stringify({ ok: true, data: result });

export const inProgress = () =>
  new AppError(
    ErrorCode.IDEMPOTENCY_IN_PROGRESS,
    'A request with this idempotency key is still being processed; retry shortly',
    { retryAfterMs: 500 },
  );
/** The same key sent with a different request. */
export const keyReused = () =>
  new AppError(ErrorCode.IDEMPOTENCY_KEY_REUSED, 'This idempotency key was already used for a different request');

/** A finished outcome as stored: what every retry gets back. */
export type Stored =
  | { ok: true; data: unknown }
  | { ok: false; error: { message: string; extensions: Record<string, unknown> } };

// Store what the client gets, so a replay is the same bytes: JSON in, JSON out.
export const successOutcome = (data: unknown) => JSON.parse(storedResponse(data)) as Stored;
export const errorOutcome = (err: AppError): Stored =>
  JSON.parse(
    JSON.stringify({ ok: false, error: { message: err.message, extensions: { ...err.extensions } } }),
  ) as Stored;

/** The result of a stored outcome: its data, or its error thrown (`replayed` marks a retry's answer). */
export function resultOf<T>(stored: Stored, replayed: boolean): T {
  if (stored.ok) return stored.data as T;
  throw new AppError(
    stored.error.extensions.code as ErrorCode,
    stored.error.message,
    replayed ? { ...stored.error.extensions, replayed: true } : stored.error.extensions,
  );
}

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export function validateIdempotencyKey(key: string): void {
  if (!KEY_PATTERN.test(key)) {
    throw badInput(
      'idempotencyKey must be 1 to 255 printable characters without spaces (a UUID is a good choice)',
      'idempotencyKey',
    );
  }
}

/** Canonical JSON (sorted keys) so the same request always hashes the same. */
export function requestHash(request: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v as object)
              .sort()
              .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
          )
        : v;
  return createHash('sha256')
    .update(JSON.stringify(canonical(request ?? null)))
    .digest('hex');
}

/** The stored outcome; `replayed` marks an error answered from the record (not the request's own first answer). */
export const replay = <T>(stored: Stored, replayed = true): T => resultOf<T>(stored, replayed);

/** Domain outcomes worth remembering; validation and infrastructure failures are not. */
export function isReplayable(err: unknown): err is AppError {
  return (
    err instanceof AppError &&
    ![
      ErrorCode.BAD_USER_INPUT,
      ErrorCode.TRY_AGAIN,
      ErrorCode.INTERNAL_SERVER_ERROR,
      ErrorCode.UNAUTHENTICATED,
    ].includes(err.code as never)
  );
}
