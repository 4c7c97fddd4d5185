// Waiting for a condition instead of sleeping a fixed time (STYLE.md): polls until the probe
// answers, fails with what it waited for. The one poll loop of the tests (and test helpers): no
// test carries its own.

export interface WaitOptions {
  /** Give up after this long (default 20 s); Infinity when something else bounds the polls. */
  timeoutMs?: number;
  /** Pause between polls (default 50 ms), or a function of the polls made so far (1, 2, ...): a back-off. */
  intervalMs?: number | ((polls: number) => number);
  /** More about what was seen, appended to the time-out error: e.g. the last state. */
  message?: () => string | Promise<string>;
}

/** Polls `probe` until it returns something other than null, undefined or false; fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  opts: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  for (let polls = 1; ; polls++) {
    const value = await probe();
    if (value !== null && value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      const more = opts.message ? `: ${await opts.message()}` : '';
      throw new Error(`Timed out waiting for ${what}${more}`);
    }
    const interval = opts.intervalMs ?? 50;
    await new Promise((r) => setTimeout(r, typeof interval === 'function' ? interval(polls) : interval));
  }
}

/**
 * A client retrying as documented: calls `call(attempt)` (attempt 1, 2, ...) while `again(answer)`
 * says so (e.g. TRY_AGAIN), at most `attempts` times, pausing `backoffMs(attempt)` after each
 * call; returns the first answer not to retry, or the last one. The pauses are waitFor's.
 */
export async function retrying<T>(
  what: string,
  call: (attempt: number) => Promise<T>,
  again: (answer: T) => boolean,
  opts: { attempts: number; backoffMs: (attempt: number) => number },
): Promise<T> {
  let attempt = 0;
  const { answer } = await waitFor(
    what,
    async () => {
      attempt++;
      const answer = await call(attempt);
      return (!again(answer) || attempt >= opts.attempts) && { answer };
    },
    { timeoutMs: Number.POSITIVE_INFINITY, intervalMs: opts.backoffMs },
  );
  return answer;
}
