// An admin cancels a run (cancelRun): the run is marked cancelled first, so validation refuses
// new bookings on it, then every reservation on it that is not final is cancelled through the
// lifecycle, a bounded batch per transaction. The sweeper finishes what a crash or a request
// queued in the same instant left behind (finishCancelledRuns).
import { setTimeout as sleep } from 'node:timers/promises';
import type { PrismaClient } from '@tatkal/db';
import {
  AppError,
  badInput,
  ErrorCode,
  isRetryableDbError,
  isUuid,
  notFound,
  startPeriodic,
  todayInIndia,
  type Idempotency,
  type Logger,
} from '@tatkal/common';
import { cancelledRunsWithActive, cancelOnRun } from '../lifecycle/index.ts';
import type { ReservationSettings } from '../types.ts';

/** What `cancelRun` answers (plain JSON: an idempotent replay is the same). */
export interface RunCancellationView {
  runId: string;
  /** Reservations this call cancelled (a concurrent or earlier call may have cancelled the rest). */
  cancelledReservations: number;
  /** What this call's cancellations asked payment to refund, in paise. */
  refundPaise: number;
}

/** Reservations per transaction unless RUN_CANCEL_BATCH_SIZE says otherwise. */
export const RUN_CANCEL_BATCH_SIZE = 200;

interface Deps {
  prisma: PrismaClient;
  idempotency: Idempotency;
  settings: ReservationSettings;
  now?: () => Date;
  runCancelBatchSize?: number;
  /** This process's run cache: forgets the run once it is cancelled. */
  layouts?: { forgetRun(runId: string): void };
  /** The availability cache (availabilityCache.ts): told after each batch's commit. */
  availability?: { changed(runId: string): void };
}

/** Marks the run cancelled and cancels its reservations; safe to repeat and to run concurrently. */
export async function cancelRun(deps: Deps, runId: string): Promise<RunCancellationView> {
  if (!isUuid(runId)) throw badInput('runId is not a valid id', 'runId');
  const run = await deps.prisma.trainRun.findUnique({ where: { id: runId } });
  if (!run) throw notFound(`No run ${runId}`);
  const today = todayInIndia(deps.now?.() ?? new Date());
  if (!run.cancelled && run.date.toISOString().slice(0, 10) < today)
    throw new AppError(ErrorCode.INVALID_STATE, 'This run has already departed');
  if (!run.cancelled) await deps.prisma.trainRun.update({ where: { id: runId }, data: { cancelled: true } });
  // Other instances read the run again within their cache's second; what they queue meanwhile
  // is cancelled here or by the cancelled-run sweeper.
  deps.layouts?.forgetRun(runId);
  return { runId, ...(await drainRun(deps, runId)) };
}

/** Cancels the run's cancellable reservations batch by batch until none is left. */
async function drainRun(deps: Deps, runId: string) {
  const total = { cancelledReservations: 0, refundPaise: 0 };
  for (;;) {
    const batch = await contended(() =>
      cancelOnRun(deps.prisma, deps, runId, deps.runCancelBatchSize ?? RUN_CANCEL_BATCH_SIZE),
    );
    if (batch.cancelled === 0) return total;
    deps.availability?.changed(runId);
    total.cancelledReservations += batch.cancelled;
    total.refundPaise += batch.refundPaise;
  }
}

/**
 * A batch that lost a deadlock to the allocator or a traveller's cancellation (they lock rows in
 * another order) is rolled back whole: try it again a few times before giving up (TRY_AGAIN).
 */
async function contended<T>(fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || !isRetryableDbError(err)) throw err;
      await sleep(20 * attempt + Math.random() * 50);
    }
  }
}

/**
 * Cancels what is left on cancelled runs: a cancellation cut short by a crash, or a request that
 * passed validation just before its run was cancelled and was queued just after. Returns how many.
 */
export async function finishCancelledRuns(deps: Deps, logger: Logger): Promise<number> {
  let n = 0;
  for (const runId of await cancelledRunsWithActive(deps.prisma, todayInIndia(deps.now?.() ?? new Date()))) {
    const done = await drainRun(deps, runId);
    if (done.cancelledReservations) logger.info({ runId, ...done }, 'cancelled reservations left on a cancelled run');
    n += done.cancelledReservations;
  }
  return n;
}

/**
 * The follow-up of run cancellations in every booking process (finishCancelledRuns every
 * `intervalMs`): any number may run at once, each batch locks its reservations.
 */
export function startCancelledRunSweeper(opts: Deps & { intervalMs: number; logger: Logger }) {
  return startPeriodic({ name: 'cancelled-run sweeper', intervalMs: opts.intervalMs, logger: opts.logger }, () =>
    finishCancelledRuns(opts, opts.logger).then(() => undefined),
  );
}
