import type { PrismaClient } from '@tatkal/db';
import { startPeriodic, type Idempotency, type Logger } from '@tatkal/common';
import type { Allocator } from './allocator.ts';
import { expireHolds } from './cancel.ts';
import { prepareInventory } from './inventory.ts';
import type { ReservationSettings } from './types.ts';
import { promoteStrandedWaitlists } from './waitlist.ts';

/**
 * Expires unpaid holds every `intervalMs`, promotes waitlists a promotion missed, resumes queues
 * whose allocator stopped (a crashed instance), and purges old idempotency keys hourly. Safe to
 * run in every booking instance: rows are claimed with SKIP LOCKED, a run's queue by its lease.
 */
export function startSweeper(opts: {
  prisma: PrismaClient;
  settings: ReservationSettings;
  idempotency: Idempotency;
  allocator: Allocator;
  intervalMs: number;
  logger: Logger;
  /** After each batch of holds expired (metrics). */
  onExpired?: (n: number) => void;
}) {
  let lastPurge = 0;
  return startPeriodic({ name: 'hold sweeper', intervalMs: opts.intervalMs, logger: opts.logger }, async (stopped) => {
    let n: number;
    do {
      n = await expireHolds(opts.prisma, opts.settings);
      if (n) {
        opts.onExpired?.(n);
        opts.logger.info({ expired: n }, 'expired unpaid holds');
      }
    } while (n > 0 && !stopped());
    const promoted = await promoteStrandedWaitlists(opts.prisma, opts.settings);
    if (promoted) opts.logger.info({ promoted }, 'promoted waitlisted reservations to freed berths');
    await opts.allocator.resume();
    if (Date.now() - lastPurge > 3_600_000) {
      lastPurge = Date.now();
      await opts.idempotency.purge();
    }
  });
}

/**
 * Creates the seat inventory of runs before their booking window opens (docs/architecture.md):
 * `horizonDays` ahead, a few runs per transaction, until none is missing; then every `intervalMs`.
 */
export function startInventoryPreparer(opts: {
  prisma: PrismaClient;
  horizonDays: number;
  intervalMs: number;
  logger: Logger;
  /** After each transaction that prepared runs (metrics). */
  onPrepared?: (runs: number) => void;
}) {
  return startPeriodic(
    { name: 'inventory preparer', intervalMs: opts.intervalMs, logger: opts.logger, runAtStart: true },
    async (stopped) => {
      let total = 0;
      for (let n = 1; n > 0 && !stopped(); total += n) {
        n = await prepareInventory(opts.prisma, { horizonDays: opts.horizonDays, maxRuns: 20 });
        opts.onPrepared?.(n);
      }
      if (total)
        opts.logger.info(
          { runs: total, horizonDays: opts.horizonDays },
          'prepared seat inventory ahead of the booking window',
        );
    },
  );
}
