// Clients as real ones behave under failures: the same request again, with the same idempotency
// key, after a network error, a 5xx, TRY_AGAIN or an unavailable subgraph, with a growing pause,
// until a deadline; a business answer (SOLD_OUT, INVALID_STATE, ...) is final.
import { outcomeOf } from '../load.ts';

/** Codes that mean "the system did not answer this": retried with the same key. */
export function retryable(code: string): boolean {
  return (
    code.startsWith('NETWORK_') ||
    /^HTTP_5\d\d$/.test(code) ||
    ['TRY_AGAIN', 'IDEMPOTENCY_IN_PROGRESS', 'INTERNAL_SERVER_ERROR', 'GRAPHQL_ERROR'].includes(code) ||
    /UNAVAILABLE|DOWNSTREAM|SUBREQUEST|TIMEOUT|TIMED_OUT/.test(code)
  );
}

export interface Attempted<T> {
  value: T | null;
  /** The final error's code (null on success). */
  error: string | null;
  /** Attempts after the first. */
  retries: number;
  /** Codes that were retried, with their counts. */
  retriedCodes: Record<string, number>;
}

export async function withRetry<T>(fn: () => Promise<T>, deadlineMs: number): Promise<Attempted<T>> {
  const retriedCodes: Record<string, number> = {};
  for (let attempt = 0; ; attempt++) {
    try {
      return { value: await fn(), error: null, retries: attempt, retriedCodes };
    } catch (err) {
      const code = outcomeOf(err);
      if (!retryable(code) || Date.now() > deadlineMs)
        return { value: null, error: code, retries: attempt, retriedCodes };
      retriedCodes[code] = (retriedCodes[code] ?? 0) + 1;
      const pause = Math.min(2_000, 100 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random() / 2);
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}
