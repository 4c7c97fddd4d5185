// Runs on a rolling horizon (docs/architecture.md, "Runs on a rolling horizon"): every train's
// runs for each day it operates, from today to `horizonDays` ahead (the booking window and a
// day), so a run exists the day before its GENERAL window opens and the inventory preparer
// (INVENTORY_HORIZON_DAYS >= the same horizon) gives it berths before anyone can book.
import type { PrismaClient } from '@tatkal/db';
import { addDays, startPeriodic, todayInIndia, weekdayOf, type Logger } from '@tatkal/common';

/**
 * Creates the runs missing from today (in India, by `now`) to `horizonDays` ahead, by each
 * train's days of operation (0 = Monday), in one statement. Idempotent and safe with any number
 * of booking instances at once: the unique (train_id, date) decides, `ON CONFLICT DO NOTHING`;
 * rows go in (date, train) order in every instance, so concurrent inserts wait, never deadlock.
 * Returns how many runs it created. A cancelled run stays cancelled: its row exists.
 */
export async function scheduleRuns(
  prisma: PrismaClient,
  opts: { horizonDays: number; now?: () => Date },
): Promise<number> {
  const today = todayInIndia(opts.now?.() ?? new Date());
  const dates = Array.from({ length: opts.horizonDays + 1 }, (_, i) => addDays(today, i));
  return prisma.$executeRaw`
    INSERT INTO booking.train_runs (id, train_id, date)
    SELECT gen_random_uuid(), t.id, d.date
    FROM booking.trains t
    JOIN unnest(${dates}::date[], ${dates.map(weekdayOf)}::int[]) AS d(date, weekday) ON d.weekday = ANY(t.runs_on)
    ORDER BY d.date, t.id
    ON CONFLICT (train_id, date) DO NOTHING`;
}

/** Schedules runs at start and every `intervalMs` in every booking process (see scheduleRuns). */
export function startRunScheduler(opts: {
  prisma: PrismaClient;
  horizonDays: number;
  intervalMs: number;
  logger: Logger;
  /** The clock the horizon is counted from; tests move it. */
  now?: () => Date;
  /** After each tick that created runs (metrics). */
  onCreated?: (runs: number) => void;
}) {
  return startPeriodic(
    { name: 'run scheduler', intervalMs: opts.intervalMs, logger: opts.logger, runAtStart: true },
    async () => {
      const created = await scheduleRuns(opts.prisma, opts);
      if (created) {
        opts.onCreated?.(created);
        opts.logger.info({ runs: created, horizonDays: opts.horizonDays }, 'scheduled train runs');
      }
    },
  );
}
