import type { PrismaClient } from '@tatkal/db';
import type { Idempotency, Logger } from '@tatkal/common';
import { holdsExpired } from '../metrics.ts';
import { expireHolds, promoteStrandedWaitlists, type ReservationSettings } from './reservations.ts';

/**
 * Expires unpaid holds every `intervalMs`, promotes waitlists a promotion missed, and purges old
 * idempotency keys hourly. Safe to run in every booking instance: rows are claimed with SKIP LOCKED.
 */
export function startSweeper(opts: { prisma: PrismaClient; settings: ReservationSettings; idempotency: Idempotency; intervalMs: number; logger: Logger }) {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | null = null;
  let stopped = false;
  let lastPurge = 0;
  const tick = async () => {
    try {
      let n: number;
      do {
        n = await expireHolds(opts.prisma, opts.settings);
        if (n) {
          holdsExpired.inc(n);
          opts.logger.info({ expired: n }, 'expired unpaid holds');
        }
      } while (n > 0 && !stopped);
      const promoted = await promoteStrandedWaitlists(opts.prisma, opts.settings);
      if (promoted) opts.logger.info({ promoted }, 'promoted waitlisted reservations to freed berths');
      if (Date.now() - lastPurge > 3_600_000) {
        lastPurge = Date.now();
        await opts.idempotency.purge();
      }
    } catch (err) {
      opts.logger.error({ err }, 'hold sweeper failed; will retry');
    }
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = tick().finally(() => {
        running = null;
        schedule();
      });
    }, opts.intervalMs);
  };
  if (opts.intervalMs > 0) schedule();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
