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

/** Waits `ms`; an aborted signal ends the wait at once with the signal's reason (an AbortError). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** What an aborted wait rejects with: the signal's reason, or a DOMException named AbortError. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

/** The wait before attempt `attempt` + 1: the server's hint, else the default doubling; capped. */
export function retryDelay(retry: Required<RetryOptions>, attempt: number, hintMs: number | null): number {
  const fallback = Math.min(retry.maxDelayMs, retry.defaultDelayMs * 2 ** (attempt - 1));
  return Math.min(retry.maxDelayMs, hintMs ?? fallback);
}

/** Statuses of a reservation the queue has decided (anything but QUEUED). */
export const isFinal = (r: { status: string }) => r.status !== 'QUEUED';

/** What a waiting call may be given besides its poll bounds. */
export interface WaitOptions<R> {
  /** Every answer while waiting (the first one included): queuePosition, estimatedWaitSeconds, opensAt. */
  onProgress?: (reservation: R) => void;
  /** Stops the polling (a closed screen): the call rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Polls a QUEUED reservation (`next` fetches its latest state) until it is final or `timeoutMs`
 * passes (then the last answer, still QUEUED), waiting half the estimated wait between polls,
 * within the poll bounds. Each answer goes to `onProgress`; an aborted `signal` stops at once.
 */
export async function pollUntilFinal<R extends { status: string; estimatedWaitSeconds?: number | null }>(
  reservation: R,
  poll: Required<PollOptions>,
  next: () => Promise<R>,
  opts: WaitOptions<R> = {},
): Promise<R> {
  const deadline = Date.now() + poll.timeoutMs;
  let last = reservation;
  opts.onProgress?.(last);
  while (!isFinal(last)) {
    if (Date.now() > deadline) return last;
    await sleep(
      Math.min(poll.maxIntervalMs, Math.max(poll.minIntervalMs, ((last.estimatedWaitSeconds ?? 1) * 1000) / 2)),
      opts.signal,
    );
    last = await next();
    opts.onProgress?.(last);
  }
  return last;
}
