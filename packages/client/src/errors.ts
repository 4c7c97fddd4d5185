// What a failed request becomes: one TatkalError, with the code the client decides on (retry,
// refresh) and the server's retry hint.
import { ClientError } from 'graphql-request';

/** Any failed request: `code` is the first GraphQL error's `extensions.code`, else HTTP_<status> or NETWORK_<error>. */
export class TatkalError extends Error {
  readonly code: string;
  readonly status: number | null;
  readonly errors: { message: string; extensions?: Record<string, unknown> }[];
  /** The server's retry hint in milliseconds (`retryAfterMs`, `retryAfterSeconds` or Retry-After), if any. */
  readonly retryAfterMs: number | null;
  constructor(
    code: string,
    message: string,
    opts: {
      status?: number | null;
      errors?: TatkalError['errors'];
      retryAfterMs?: number | null;
      cause?: unknown;
    } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = 'TatkalError';
    this.code = code;
    this.status = opts.status ?? null;
    this.errors = opts.errors ?? [];
    this.retryAfterMs = opts.retryAfterMs ?? null;
  }
}

/** Codes that mean "send the same request again later" (docs/api.md). */
export const RETRYABLE_CODES: ReadonlySet<string> = new Set(['TRY_AGAIN', 'IDEMPOTENCY_IN_PROGRESS']);

function hintOf(err: ClientError): number | null {
  const ext = err.response.errors?.[0]?.extensions as Record<string, unknown> | undefined;
  if (typeof ext?.retryAfterMs === 'number' && ext.retryAfterMs >= 0) return ext.retryAfterMs;
  if (typeof ext?.retryAfterSeconds === 'number' && ext.retryAfterSeconds >= 0) return ext.retryAfterSeconds * 1000;
  const header = err.response.headers?.get?.('retry-after');
  const seconds = header ? Number(header) : NaN;
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : null;
}

export function toTatkalError(err: unknown): TatkalError {
  if (err instanceof TatkalError) return err;
  if (err instanceof ClientError) {
    const errors = (err.response.errors ?? []) as unknown as TatkalError['errors'];
    const first = errors[0];
    const code =
      typeof first?.extensions?.code === 'string'
        ? first.extensions.code
        : errors.length
          ? 'GRAPHQL_ERROR'
          : `HTTP_${err.response.status}`;
    return new TatkalError(code, first?.message ?? `HTTP ${err.response.status}`, {
      status: err.response.status,
      errors,
      retryAfterMs: hintOf(err),
      cause: err,
    });
  }
  const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string } };
  return new TatkalError(`NETWORK_${e.cause?.code ?? e.code ?? e.name ?? 'Error'}`, e.message ?? String(err), {
    cause: err,
  });
}
