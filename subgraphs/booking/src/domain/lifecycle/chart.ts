// Chart preparation (docs/api.md, "Chart preparation"): about 4 hours before a run leaves its
// origin the first chart releases the quotas' unused berths to GENERAL, promotes every pool
// (WL -> RAC -> berth, in order) and cancels each PNR whose passengers are all still waitlisted,
// refunding it less clerkage; about 30 minutes before, the second chart promotes what was freed
// since. Once per run and chart, whichever booking instance (or admin) gets there first: the
// run's row lock and its chart timestamps decide.
import type { Idempotency } from '@tatkal/common';
import type { Quota, TravelClass } from '@tatkal/db';
import { releaseQuotas, type Tx } from '../inventory.ts';
import type { ReservationSettings } from '../types.ts';
import { cancel } from './cancel.ts';
import { lockPools, promote } from './promote.ts';
import { PassengerStatus, PROMOTABLE } from './transitions.ts';

export type ChartNumber = 'FIRST' | 'SECOND';

export interface ChartOutcome {
  runId: string;
  chart: ChartNumber;
  /** False when this chart was prepared already (another instance, a retry). */
  prepared: boolean;
  releasedBerths: number;
  promotedReservations: number;
  cancelledReservations: number;
  refundPaise: number;
}

/**
 * Prepares `chart` of a run in the caller's transaction. `refunds` says what each cancelled
 * passenger of a fully waitlisted PNR gets back (the rule table at this moment). A SECOND chart
 * asked before the first does the first's work too.
 */
export async function prepareChartIn(
  tx: Tx,
  deps: { idempotency: Idempotency; settings: ReservationSettings },
  runId: string,
  chart: ChartNumber,
  now: Date,
  refunds: (r: WaitlistedPnr) => Map<string, number>,
): Promise<ChartOutcome> {
  const outcome: ChartOutcome = {
    runId,
    chart,
    prepared: false,
    releasedBerths: 0,
    promotedReservations: 0,
    cancelledReservations: 0,
    refundPaise: 0,
  };
  const runs = await tx.$queryRaw<{ chart_prepared_at: Date | null; second_chart_at: Date | null }[]>`
    SELECT chart_prepared_at, second_chart_at FROM booking.train_runs WHERE id = ${runId}::uuid FOR NO KEY UPDATE`;
  const run = runs[0];
  if (!run) return outcome;
  const first = run.chart_prepared_at === null;
  if (chart === 'FIRST' ? !first : run.second_chart_at !== null) return outcome;
  outcome.prepared = true;
  // Every PNR that may end fully waitlisted is locked before the pools (a traveller's cancellation
  // takes its PNR, then its pool: the same order, so the two never deadlock).
  await tx.$queryRaw`
    SELECT r.id FROM booking.reservations r
    WHERE r.run_id = ${runId}::uuid AND r.status = ANY(${PROMOTABLE}::booking."ReservationStatus"[])
      AND EXISTS (SELECT 1 FROM booking.passengers p
                  WHERE p.reservation_id = r.id AND p.status = ${PassengerStatus.WAITLISTED}::booking."PassengerStatus")
    ORDER BY r.id FOR UPDATE OF r`;
  const pools = await tx.$queryRaw<{ class: TravelClass; quota: Quota }[]>`
    SELECT DISTINCT class, quota FROM booking.run_seats WHERE run_id = ${runId}::uuid ORDER BY class, quota`;
  await lockPools(
    tx,
    runId,
    pools.map((p) => ({ cls: p.class, quota: p.quota })),
  );
  if (first) {
    // What the report counts: the quotas' berths nobody bought (sold segments stay sold either way).
    const unused = await tx.$queryRaw<{ n: number }[]>`
      SELECT count(*)::int AS n FROM booking.run_seats
      WHERE run_id = ${runId}::uuid AND quota <> 'GENERAL' AND occupied_mask = 0`;
    await releaseQuotas(tx, runId);
    outcome.releasedBerths = unused[0]?.n ?? 0;
  }
  const promoted = new Set<string>();
  for (const p of pools) {
    for (const id of await promote(tx, runId, p.class, p.quota)) promoted.add(id);
  }
  outcome.promotedReservations = promoted.size;
  for (const r of await fullyWaitlisted(tx, runId)) {
    const done = await cancel(
      tx,
      deps,
      r,
      r.passengers.filter((p) => p.status === PassengerStatus.WAITLISTED).map((p) => p.id),
      { promote: false, reason: 'CHART_WAITLISTED', refunds: refunds(r) },
    );
    outcome.cancelledReservations++;
    outcome.refundPaise += done.refundPaise;
  }
  await tx.$executeRaw`
    UPDATE booking.train_runs
    SET chart_prepared_at = coalesce(chart_prepared_at, ${now}),
        second_chart_at = CASE WHEN ${chart} = 'SECOND' THEN ${now} ELSE second_chart_at END
    WHERE id = ${runId}::uuid`;
  return outcome;
}

const ENDED_OR_WAITING = [PassengerStatus.WAITLISTED, PassengerStatus.CANCELLED];

export type WaitlistedPnr = Awaited<ReturnType<typeof fullyWaitlisted>>[number];

/** The run's held or booked PNRs whose every active passenger is still waitlisted, locked. */
async function fullyWaitlisted(tx: Tx, runId: string) {
  const ids = await tx.$queryRaw<{ id: string }[]>`
    SELECT r.id::text FROM booking.reservations r
    WHERE r.run_id = ${runId}::uuid AND r.status = ANY(${PROMOTABLE}::booking."ReservationStatus"[])
      AND EXISTS (SELECT 1 FROM booking.passengers p
                  WHERE p.reservation_id = r.id AND p.status = ${PassengerStatus.WAITLISTED}::booking."PassengerStatus")
      AND NOT EXISTS (SELECT 1 FROM booking.passengers p
                      WHERE p.reservation_id = r.id
                        AND p.status <> ALL(${ENDED_OR_WAITING}::booking."PassengerStatus"[]))
    ORDER BY r.id FOR UPDATE`;
  if (ids.length === 0) return [];
  return tx.reservation.findMany({ where: { id: { in: ids.map((r) => r.id) } }, include: { passengers: true } });
}
