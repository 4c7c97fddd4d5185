// Chart preparation as a job (the moves are lifecycle/chart.ts): due runs found every
// CHART_INTERVAL_MS by every booking instance, each chart prepared once (the run's row lock and
// its timestamps decide), observable per run (a metric and a log line), and on demand through
// the admin mutation prepareChart.
import type { PrismaClient } from '@tatkal/db';
import { type Idempotency, type Logger, notFound, startPeriodic } from '@tatkal/common';
import { chartsPrepared } from '../metrics.ts';
import { type ChartNumber, type ChartOutcome, prepareChartIn } from './lifecycle/index.ts';
import { departureOf, quoteCancellation } from './refunds.ts';
import type { ReservationSettings } from './types.ts';

/** How long before departure from the origin each chart is prepared (IRCTC: about 4 h and 30 min). */
export const CHART_LEAD_MS: Record<ChartNumber, number> = { FIRST: 4 * 3_600_000, SECOND: 30 * 60_000 };

interface ChartDeps {
  prisma: PrismaClient;
  idempotency: Idempotency;
  settings: ReservationSettings;
  logger: Logger;
  /** The availability cache (availabilityCache.ts): told after a chart's commit. */
  availability?: { changed(runId: string): void };
}

/** Prepares one chart of a run now (idempotent). */
export async function prepareChart(
  deps: ChartDeps,
  runId: string,
  chart: ChartNumber,
  now: Date = new Date(),
): Promise<ChartOutcome> {
  const run = await deps.prisma.trainRun.findUnique({ where: { id: runId } });
  if (!run) throw notFound(`No run ${runId}`);
  const departure = await departureOf(deps.prisma, run);
  const outcome = await deps.prisma.$transaction(
    (tx) =>
      prepareChartIn(tx, deps, runId, chart, now, (r) => {
        // The chart is being prepared: fully waitlisted passengers get the fare less clerkage.
        const quote = quoteCancellation(r, r.passengers, { departure, now, chartPrepared: true });
        return new Map(quote.lines.map((l) => [l.passengerId, l.refusal ? 0 : l.refundPaise]));
      }),
    { timeout: 60_000, maxWait: 10_000 },
  );
  if (outcome.prepared) {
    deps.availability?.changed(runId);
    chartsPrepared.inc({ chart: chart.toLowerCase() });
    deps.logger.info({ ...outcome }, 'chart prepared');
  }
  return outcome;
}

/** Runs whose next chart is due at `now` (not cancelled, inventory ready), with which chart. */
export async function dueCharts(prisma: PrismaClient, now: Date): Promise<{ id: string; chart: ChartNumber }[]> {
  return prisma.$queryRaw<{ id: string; chart: ChartNumber }[]>`
    SELECT tr.id::text, CASE WHEN tr.chart_prepared_at IS NULL THEN 'FIRST' ELSE 'SECOND' END AS chart
    FROM booking.train_runs tr
    JOIN booking.train_stops s ON s.train_id = tr.train_id AND s.seq = 0
    CROSS JOIN LATERAL (
      SELECT (tr.date + make_interval(mins => coalesce(s.departure_min, 0))) AT TIME ZONE 'Asia/Kolkata' AS departs
    ) d
    WHERE NOT tr.cancelled AND tr.inventory_ready
      AND tr.date >= (${now}::timestamptz AT TIME ZONE 'Asia/Kolkata')::date - 3
      AND d.departs > ${now}::timestamptz - interval '1 day'
      AND ((tr.chart_prepared_at IS NULL AND d.departs - ${`${CHART_LEAD_MS.FIRST} milliseconds`}::interval <= ${now})
        OR (tr.second_chart_at IS NULL
            AND d.departs - ${`${CHART_LEAD_MS.SECOND} milliseconds`}::interval <= ${now}))
    ORDER BY d.departs`;
}

/** Every CHART_INTERVAL_MS: prepares the charts that are due, each in its own transaction. */
export function startChartScheduler(deps: ChartDeps & { intervalMs: number; now?: () => Date }) {
  return startPeriodic(
    { name: 'chart scheduler', intervalMs: deps.intervalMs, logger: deps.logger },
    async (stopped) => {
      const now = deps.now?.() ?? new Date();
      for (const due of await dueCharts(deps.prisma, now)) {
        if (stopped()) return;
        await prepareChart(deps, due.id, due.chart, now);
      }
    },
  );
}
