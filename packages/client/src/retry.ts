// Waiting: retries of TRY_AGAIN and IDEMPOTENCY_IN_PROGRESS (the same request again, after the
// server's hint or a doubling fallback) and the polling of a QUEUED reservation.
export interface RetryOptions {
  /** Attempts in all, the first included (1: no retry). Default 5. */
  attempts?: number;
  /** Wait when the answer gives no hint. Default 500 ms. */
  defaultDelayMs?: number;
  /** Longest wait between two attempts. Default 10 s. */
  maxDelayMs?: number;
}

export interface PollOptions {
  /** Give up (return the reservation still QUEUED) after this long. Default 120 s. */
  timeoutMs?: number;
  /** Shortest and longest wait between polls; in between, half the estimated wait. Default 250 ms and 2 s. */
  minIntervalMs?: number;
  maxIntervalMs?: number;
}

export const retryDefaults = (opts?: RetryOptions): Required<RetryOptions> => ({
  attempts: 5,
  defaultDelayMs: 500,
  maxDelayMs: 10_000,
  ...opts,
});

export const pollDefaults = (opts?: PollOptions): Required<PollOptions> => ({
  timeoutMs: 120_000,
  minIntervalMs: 250,
  maxIntervalMs: 2_000,
  ...opts,
});

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The wait before attempt `attempt` + 1: the server's hint, else the default doubling; capped. */
export function retryDelay(retry: Required<RetryOptions>, attempt: number, hintMs: number | null): number {
  const fallback = Math.min(retry.maxDelayMs, retry.defaultDelayMs * 2 ** (attempt - 1));
  return Math.min(retry.maxDelayMs, hintMs ?? fallback);
}

/** Statuses of a reservation the queue has decided (anything but QUEUED). */
export const isFinal = (r: { status: string }) => r.status !== 'QUEUED';

/**
 * Polls a QUEUED reservation (`next` fetches its latest state) until it is final or `timeoutMs`
 * passes (then the last answer, still QUEUED), waiting half the estimated wait between polls,
 * within the poll bounds.
 */
export async function pollUntilFinal<R extends { status: string; estimatedWaitSeconds?: number | null }>(
  reservation: R,
  poll: Required<PollOptions>,
  next: () => Promise<R>,
): Promise<R> {
  const deadline = Date.now() + poll.timeoutMs;
  let last = reservation;
  while (!isFinal(last)) {
    if (Date.now() > deadline) return last;
    await sleep(
      Math.min(poll.maxIntervalMs, Math.max(poll.minIntervalMs, ((last.estimatedWaitSeconds ?? 1) * 1000) / 2)),
    );
    last = await next();
  }
  return last;
}
