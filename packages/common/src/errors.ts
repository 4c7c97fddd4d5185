import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';

/**
 * Every error a client can cause carries one of these codes in `extensions.code`.
 * The list is documented in docs/api.md; keep both in step.
 */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  SEAT_UNAVAILABLE: 'SEAT_UNAVAILABLE',
  SOLD_OUT: 'SOLD_OUT',
  HOLD_EXPIRED: 'HOLD_EXPIRED',
  INVALID_STATE: 'INVALID_STATE',
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  IDEMPOTENCY_IN_PROGRESS: 'IDEMPOTENCY_IN_PROGRESS',
  RATE_LIMITED: 'RATE_LIMITED',
  TRY_AGAIN: 'TRY_AGAIN',
  QUERY_TOO_COMPLEX: 'QUERY_TOO_COMPLEX',
  /** The quota's booking window has not opened yet; `opensAt` (ISO, IST offset) says when it does. */
  BOOKING_NOT_OPEN: 'BOOKING_NOT_OPEN',
  /** More passengers than the quota allows on one PNR (4 for Tatkal, 6 otherwise); `max` says how many. */
  TOO_MANY_PASSENGERS: 'TOO_MANY_PASSENGERS',
  /** The train has no such quota in that class (no Tatkal in First AC, no ladies' quota in AC 2 tier...). */
  QUOTA_NOT_AVAILABLE: 'QUOTA_NOT_AVAILABLE',
  /** A passenger does not qualify for the quota (ladies: women and children under 12; lower berth: seniors). */
  QUOTA_NOT_ELIGIBLE: 'QUOTA_NOT_ELIGIBLE',
  /** Tatkal and Premium Tatkal need an identity-verified account (requestIdentityCode, verifyIdentity). */
  IDENTITY_NOT_VERIFIED: 'IDENTITY_NOT_VERIFIED',
  /** Agents may not book Tatkal in the first 30 minutes of its window; `opensAt` says when they may. */
  AGENT_WINDOW_CLOSED: 'AGENT_WINDOW_CLOSED',
  /** Online cancellation is over: a confirmed berth after the chart, RAC or WL within 30 minutes of departure. */
  CANCELLATION_CLOSED: 'CANCELLATION_CLOSED',
  /** An account's Tatkal PNRs between 10:00 and 12:00 IST of a day reached the limit (2); `limit` says it. */
  TATKAL_LIMIT_REACHED: 'TATKAL_LIMIT_REACHED',
  /** The caller's address's Tatkal PNRs between 10:00 and 12:00 IST reached the limit (2), over all accounts. */
  TATKAL_ADDRESS_LIMIT_REACHED: 'TATKAL_ADDRESS_LIMIT_REACHED',
  /** An account's PNRs this calendar month (IST) reached the limit (12; 24 identity-verified). */
  MONTHLY_LIMIT_REACHED: 'MONTHLY_LIMIT_REACHED',
  /** An account has as many unpaid holds and queued requests as it may (4): pay or cancel one first. */
  UNPAID_HOLDS_LIMIT_REACHED: 'UNPAID_HOLDS_LIMIT_REACHED',
  /** An AGENT account already has a Tatkal PNR on this run (one per run). */
  AGENT_RUN_LIMIT_REACHED: 'AGENT_RUN_LIMIT_REACHED',
  /** register: another account has this mobile number (one account per mobile number). */
  PHONE_IN_USE: 'PHONE_IN_USE',
  /** Identity verification (auth): a wrong one-time code, or none was requested. */
  IDENTITY_CODE_INVALID: 'IDENTITY_CODE_INVALID',
  /** The one-time code ran out (5 minutes): request another. */
  IDENTITY_CODE_EXPIRED: 'IDENTITY_CODE_EXPIRED',
  /** Five wrong codes: this code is dead, request another. */
  IDENTITY_CODE_ATTEMPTS_EXCEEDED: 'IDENTITY_CODE_ATTEMPTS_EXCEEDED',
  /** A code was sent less than a minute ago; `retryAfterSeconds` says when another can be. */
  IDENTITY_CODE_RESEND_TOO_SOON: 'IDENTITY_CODE_RESEND_TOO_SOON',
  /** Trusted documents (gateway in production): a hash the manifest does not have. */
  PERSISTED_QUERY_NOT_IN_LIST: 'PERSISTED_QUERY_NOT_IN_LIST',
  /** Trusted documents (gateway in production): an operation's text without a hash. */
  PERSISTED_QUERY_ID_REQUIRED: 'PERSISTED_QUERY_ID_REQUIRED',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Domain errors: expected outcomes a client can act on (and that idempotency replays). */
export class AppError extends GraphQLError {
  constructor(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}) {
    // An expected outcome, not a fault: no stack trace. Capturing and formatting one (through
    // source maps) cost ~0.1 ms per SOLD_OUT under a rush, for nothing anyone reads.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(message, { extensions: { ...extensions, code } });
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
  }
  get code(): ErrorCode {
    return this.extensions.code as ErrorCode;
  }
}

export const badInput = (message: string, field?: string) =>
  new AppError(ErrorCode.BAD_USER_INPUT, message, field ? { field } : {});
export const notFound = (message: string) => new AppError(ErrorCode.NOT_FOUND, message);
export const unauthenticated = (message = 'Sign in to do this') => new AppError(ErrorCode.UNAUTHENTICATED, message);
export const forbidden = (message = 'You are not allowed to do this') => new AppError(ErrorCode.FORBIDDEN, message);

const clientCodes = new Set<string>(Object.values(ErrorCode));
// Codes Apollo Server itself raises for malformed operations.
const apolloCodes = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);

/**
 * Apollo `formatError`: client-caused errors pass as they are; anything else becomes
 * INTERNAL_SERVER_ERROR with a generic message, the details go to the log only.
 */
export function makeFormatError(opts: { log: (err: unknown) => void; exposeDetails: boolean }) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    // Apollo Server reports an APQ hash that does not match its query without a code.
    if (
      formatted.message === 'provided sha does not match query' &&
      formatted.extensions?.code === ErrorCode.INTERNAL_SERVER_ERROR
    ) {
      return {
        message: 'persistedQuery.sha256Hash is not the SHA-256 of the query',
        extensions: { code: 'BAD_REQUEST' },
      };
    }
    const code = formatted.extensions?.code as string | undefined;
    const original = unwrapResolverError(error);
    if (code && (clientCodes.has(code) || apolloCodes.has(code)) && code !== ErrorCode.INTERNAL_SERVER_ERROR) {
      const { stacktrace: _stack, ...extensions } = formatted.extensions ?? {};
      return { ...formatted, extensions: opts.exposeDetails ? formatted.extensions : extensions };
    }
    // Overload, not a fault: the one place a database error becomes TRY_AGAIN.
    if (isRetryableDbError(original)) {
      const busy = tryAgain();
      return {
        message: busy.message,
        locations: formatted.locations,
        path: formatted.path,
        extensions: busy.extensions,
      };
    }
    opts.log(original);
    if (opts.exposeDetails) return formatted;
    return {
      message: 'Internal server error',
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
    };
  };
}

/** Prisma's known request errors that map to client errors where Prisma is called. */
export function prismaErrorCode(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    const code = (err as { code: string }).code;
    if (/^P\d{4}$/.test(code)) return code;
  }
  return undefined;
}

/**
 * The constraint (index name) a unique violation broke, from PostgreSQL's SQLSTATE 23505 as
 * Prisma reports it for raw queries through the driver adapter (P2010) or for model queries
 * (P2002); undefined for any other error. Callers match the constraint, never the message.
 */
export function uniqueViolation(err: unknown): string | undefined {
  const code = prismaErrorCode(err);
  const meta = (err as { meta?: Record<string, unknown> } | null)?.meta;
  if (code === 'P2002') {
    const cause = (meta?.driverAdapterError as { cause?: { constraint?: { index?: string } } } | undefined)?.cause;
    return cause?.constraint?.index ?? String(meta?.target ?? '');
  }
  if (code !== 'P2010') return undefined;
  const cause = (meta?.driverAdapterError as { cause?: Record<string, unknown> } | undefined)?.cause;
  if (cause?.originalCode !== '23505') return undefined;
  return (cause.constraint as { index?: string } | undefined)?.index ?? '';
}

/**
 * Overload, not a bug: no pooled connection in time (pg-pool), a transaction that could not start
 * or ran out of time (Prisma P2028), a serialization failure or deadlock (40001/40P01). The client
 * may retry with the same idempotency key.
 */
export function isRetryableDbError(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return (
    prismaErrorCode(err) === 'P2028' ||
    /timeout exceeded when trying to connect|40001|40P01|deadlock detected|could not serialize/i.test(message)
  );
}

/**
 * The busy answer: retry with the same idempotency key. A retryable database error thrown by a
 * resolver becomes this in `makeFormatError`, so domain code only throws it for its own reasons
 * (a service it called did not answer, a restart). Counted by `tryAgainMetricsPlugin`.
 */
export const tryAgain = (
  message = 'The system is busy; retry this request with the same idempotency key',
  extensions: Record<string, unknown> = { retryable: true },
) => new AppError(ErrorCode.TRY_AGAIN, message, extensions);
