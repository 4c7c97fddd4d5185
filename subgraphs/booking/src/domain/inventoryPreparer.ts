import type { PrismaClient } from '@tatkal/db';
import { startPeriodic, type Logger } from '@tatkal/common';
import { prepareInventory } from './inventory.ts';

/**
 * Creates the seat inventory of runs before their booking window opens (docs/architecture.md):
 * `horizonDays` ahead, a few runs per transaction, until none is missing; then every `intervalMs`.
 */
export function startInventoryPreparer(opts: {
  prisma: PrismaClient;
  horizonDays: number;
  intervalMs: number;
  logger: Logger;
  /** The clock the horizon is counted from (tests move it). */
  now?: () => Date;
  /** After each transaction that prepared runs (metrics). */
  onPrepared?: (runs: number) => void;
}) {
  return startPeriodic(
    { name: 'inventory preparer', intervalMs: opts.intervalMs, logger: opts.logger, runAtStart: true },
    async (stopped) => {
      let total = 0;
      for (let n = 1; n > 0 && !stopped(); total += n) {
        n = await prepareInventory(opts.prisma, { horizonDays: opts.horizonDays, maxRuns: 20, now: opts.now });
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
