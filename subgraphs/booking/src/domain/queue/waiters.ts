// Requests waiting for their outcome in this process. This process's allocator settles its own
// runs' waiters after each batch; outcomes decided by another instance's allocator (or a
// cancellation) are found by polling their records, only for tickets the run's progress says
// are decided (every few polls for the rest: a cancellation decides out of order). A run whose
// requests wait too long is kicked (its allocator may have stopped between batches).
import type { Logger, Stored } from '@tatkal/common';
import type { Allocator } from '../allocator/allocator.ts';
import type { ReserveRecords } from '../lifecycle/index.ts';
import type { QueueProgress } from './progress.ts';

interface Waiter {
  runId: string;
  ticket: number;
  userId: string;
  key: string;
  since: number;
  settle: (stored: Stored) => void;
  done: Promise<Stored>;
}

/** Waiters whose outcome this process's allocator did not bring are looked up this often. */
const POLL_MS = 100;
/** Every this many polls, waiters past the run's progress are looked up too. */
const FULL_POLL_EVERY = 5;

export function createWaiters(deps: {
  records: ReserveRecords;
  progress: QueueProgress;
  allocator: () => Allocator;
  logger: Logger;
}) {
  const waiters = new Map<string, Waiter>();
  let polls = 0;

  function settle(reservationId: string, stored: Stored) {
    const w = waiters.get(reservationId);
    if (!w) return;
    waiters.delete(reservationId);
    w.settle(stored);
  }

  function waiterFor(reservationId: string, w: Pick<Waiter, 'runId' | 'ticket' | 'userId' | 'key'>): Waiter {
    const existing = waiters.get(reservationId);
    if (existing) return existing;
    let settleFn!: (s: Stored) => void;
    const done = new Promise<Stored>((resolve) => (settleFn = resolve));
    const waiter: Waiter = { ...w, since: Date.now(), settle: settleFn, done };
    waiters.set(reservationId, waiter);
    return waiter;
  }

  async function poll() {
    if (waiters.size === 0) return;
    const now = Date.now();
    const full = ++polls % FULL_POLL_EVERY === 0;
    const allocator = deps.allocator();
    const stale = [...waiters.entries()].filter(([, w]) => now - w.since >= POLL_MS && !allocator.isDraining(w.runId));
    if (stale.length === 0) return;
    const done = new Map<string, number>();
    for (const runId of new Set(stale.map(([, w]) => w.runId))) done.set(runId, (await deps.progress.of(runId)).done);
    const due = full ? stale : stale.filter(([, w]) => w.ticket <= done.get(w.runId)!);
    const found = await deps.records.finished(due.map(([, w]) => ({ userId: w.userId, key: w.key })));
    for (const [id, w] of due) {
      const stored = found.get(`${w.userId}|${w.key}`);
      if (stored) settle(id, stored);
    }
    const slow = stale.filter(([id, w]) => waiters.has(id) && now - w.since >= 5 * POLL_MS);
    for (const runId of new Set(slow.map(([, w]) => w.runId))) allocator.kick(runId);
  }

  const timer = setInterval(() => {
    poll().catch((err: unknown) => deps.logger.warn({ err }, 'reservation queue: polling outcomes failed'));
  }, POLL_MS);
  timer.unref();

  return { settle, waiterFor, stop: () => clearInterval(timer) };
}
export type Waiters = ReturnType<typeof createWaiters>;
