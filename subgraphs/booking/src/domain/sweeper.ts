import type { PrismaClient } from '@tatkal/db';
import type { Idempotency, Logger } from '@tatkal/common';
import { holdsExpired } from '../metrics.ts';
import { expireHolds, type ReservationSettings } from './reservations.ts';

/**
 * Expires unpaid holds every `intervalMs` and purges old idempotency keys hourly. Safe to run in
 * every booking instance: batches are claimed with SKIP LOCKED.
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
