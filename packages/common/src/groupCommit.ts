// Group commit: what arrives while a batch is being written waits for the next batch (at most
// `maxBatch` each), so a rush costs statements per batch, not per request. Booking's intake of
// queued requests, its limits' claims and its payment events, payment's webhooks and new payments,
// and every service's idempotency claims write this way.

/** An entry of a batch: its item and how its submitter is answered. */
export interface Entry<I, R> {
  item: I;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}

/**
 * `write` answers every entry of its batch (an entry left unanswered when it throws is rejected
 * with the error). Batches are written one at a time, in arrival order.
 */
export function groupCommit<I, R>(maxBatch: () => number, write: (batch: Entry<I, R>[]) => Promise<void>) {
  let pending: Entry<I, R>[] = [];
  let flushing = false;

  function scheduleFlush() {
    if (flushing || pending.length === 0) return;
    flushing = true;
    setImmediate(async () => {
      const batch = pending.slice(0, maxBatch());
      pending = pending.slice(batch.length);
      try {
        await write(batch);
      } catch (err) {
        // Settling a promise twice does nothing: the entries `write` answered keep their answer.
        for (const entry of batch) entry.reject(err);
      }
      flushing = false;
      scheduleFlush();
    });
  }

  return {
    submit(item: I): Promise<R> {
      return new Promise<R>((resolve, reject) => {
        pending.push({ item, resolve, reject });
        scheduleFlush();
      });
    },
    /** Resolves when nothing is waiting to be written. */
    async drained(): Promise<void> {
      while (flushing || pending.length) await new Promise((r) => setTimeout(r, 10));
    },
  };
}

/**
 * A batch split in two: `first`, the entries none of whose keys an earlier entry had, and `later`,
 * the others (a repeated message, a second event for one row), which should wait for the batch's
 * commit: in the same transaction their row or lock would wait on the batch and the batch on them.
 */
export function splitRepeats<E>(entries: E[], keysOf: (entry: E) => string[]): { first: E[]; later: E[] } {
  const seen = new Set<string>();
  const first: E[] = [];
  const later: E[] = [];
  for (const entry of entries) {
    const keys = keysOf(entry);
    (keys.some((k) => seen.has(k)) ? later : first).push(entry);
    for (const k of keys) seen.add(k);
  }
  return { first, later };
}

/** What a batch leaves to the caller's one-at-a-time path. */
export const ALONE: unique symbol = Symbol('alone');

/**
 * Group commit with a one-at-a-time way out, for consumers whose every item also has a path of its
 * own: `write` gets the first entries of a batch (`splitRepeats` by `keysOf`) and answers each a
 * result or ALONE; the repeats, after the batch, and every entry of a batch whose `write` threw
 * (`onError` hears why) are answered ALONE, so an error belongs to its own item.
 */
export function groupCommitOrAlone<I, R>(opts: {
  maxBatch: number;
  keysOf: (item: I) => string[];
  write: (items: I[]) => Promise<(R | typeof ALONE)[]>;
  onError: (err: unknown, items: number) => void;
}): (item: I) => Promise<R | typeof ALONE> {
  const batches = groupCommit<I, R | typeof ALONE>(
    () => opts.maxBatch,
    async (entries) => {
      const { first, later } = splitRepeats(entries, (e) => opts.keysOf(e.item));
      try {
        const results = await opts.write(first.map((e) => e.item));
        for (const [i, e] of first.entries()) e.resolve(results[i]!);
      } catch (err) {
        opts.onError(err, first.length);
        for (const e of first) e.resolve(ALONE);
      }
      for (const e of later) e.resolve(ALONE);
    },
  );
  return (item) => batches.submit(item);
}
