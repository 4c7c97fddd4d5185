import type { PrismaClient } from '@tatkal/db';
import { startPeriodic, type Logger } from '@tatkal/common';
import type { Allocator } from './allocator/allocator.ts';
import { expireDue, promoteStranded } from './lifecycle/index.ts';
import type { ReservationSettings } from './types.ts';

/**
 * Expires unpaid holds every `intervalMs`, promotes waitlists a promotion missed, resumes queues
 * whose allocator stopped (a crashed instance). Safe to run in every booking instance: rows are
 * claimed with SKIP LOCKED, a run's queue by its lease. Old idempotency keys: startIdempotencyPurge.
 */
export function startSweeper(opts: {
  prisma: PrismaClient;
  settings: ReservationSettings;
  allocator: Allocator;
  /** Admits the waiting rooms that have opened (the queue's admitDue). */
  admitDue: () => Promise<unknown>;
  intervalMs: number;
  logger: Logger;
  /** After each batch of holds expired (metrics, the availability cache). */
  onExpired?: (n: number) => void;
  /** After waitlisted passengers were promoted to freed berths (the availability cache). */
  onPromoted?: (n: number) => void;
}) {
  return startPeriodic({ name: 'hold sweeper', intervalMs: opts.intervalMs, logger: opts.logger }, async (stopped) => {
    let n: number;
    do {
      n = await expireDue(opts.prisma, opts.settings);
      if (n) {
        opts.onExpired?.(n);
        opts.logger.info({ expired: n }, 'expired unpaid holds');
      }
    } while (n > 0 && !stopped());
    const promoted = await promoteStranded(opts.prisma, opts.settings);
    if (promoted) opts.onPromoted?.(promoted);
    if (promoted) opts.logger.info({ promoted }, 'promoted waitlisted reservations to freed berths');
    // Waiting rooms opened while no instance's timer ran (a crash at the opening) are admitted here.
    await opts.admitDue();
    await opts.allocator.resume();
  });
}
