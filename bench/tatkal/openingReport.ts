// What the Tatkal benchmark reports of an opening (read right after the rush, before any payment
// moves the rows on): answers in its first second, whether the waiting room's queue order is
// independent of arrival order (Spearman's rank correlation), FIFO inversions after it, and the
// spread over the runs that opened together.
import type pg from 'pg';
import type { TestRun } from '../../packages/testkit/src/trainRun.ts';
import type { Recorder } from '../load.ts';
import { formatCounts, mdTable, outcomeCounts } from '../report.ts';
import { describeOpening, type OpeningPlan } from './opening.ts';

/** Ranks 1..n, ties sharing their average rank. */
export function ranks(xs: number[]): number[] {
  const order = xs.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(xs.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    for (let k = i; k <= j; k++) out[order[k]![1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return out;
}

/** Spearman's rank correlation of paired samples (null under 3 pairs or without spread). */
export function spearman(xs: number[], ys: number[]): number | null {
  if (xs.length < 3 || xs.length !== ys.length) return null;
  const [a, b] = [ranks(xs), ranks(ys)];
  const mean = (a.length + 1) / 2;
  let [sab, saa, sbb] = [0, 0, 0];
  for (let i = 0; i < a.length; i++) {
    sab += (a[i]! - mean) * (b[i]! - mean);
    saa += (a[i]! - mean) ** 2;
    sbb += (b[i]! - mean) ** 2;
  }
  return saa && sbb ? +(sab / Math.sqrt(saa * sbb)).toFixed(3) : null;
}

/** The mean of per-run coefficients weighted by their pairs. */
const pooled = (per: { rho: number | null; n: number }[]) => {
  const counted = per.filter((p) => p.rho !== null);
  const n = counted.reduce((s, p) => s + p.n, 0);
  return n ? +(counted.reduce((s, p) => s + p.rho! * p.n, 0) / n).toFixed(3) : null;
};

export type OpeningFigures = Awaited<ReturnType<typeof analyseOpening>>;

export async function analyseOpening(
  db: pg.Client,
  ctx: {
    runs: TestRun[];
    weights: number[];
    runOf: number[];
    plan: OpeningPlan | null;
    rec: Recorder;
    /** Waiting-room reservation id -> the user's arrival order. */
    joined: Map<string, number>;
    openingMs: number;
    inversionsByRun: Record<string, number>;
  },
) {
  const { runs, weights, runOf, plan, rec, joined, openingMs, inversionsByRun } = ctx;
  const runIds = runs.map((r) => r.runId);
  const { rows: statuses } = await db.query<{ run_id: string; status: string; n: number }>(
    `SELECT run_id::text, status::text, count(*)::int AS n FROM booking.reservations
     WHERE run_id = ANY($1::uuid[]) GROUP BY 1, 2`,
    [runIds],
  );
  const { rows: room } = await db.query<{
    id: string;
    run_id: string;
    ticket: number | null;
    draw: number;
    created: number;
  }>(
    `SELECT id::text, run_id::text, queue_ticket AS ticket, draw,
            extract(epoch FROM created_at)::float8 * 1000 AS created
     FROM booking.reservations WHERE run_id = ANY($1::uuid[]) AND opens_at IS NOT NULL`,
    [runIds],
  );
  const perRun = runs.map((run, k) => {
    const admitted = room.filter((r) => r.run_id === run.runId && r.ticket !== null && joined.has(r.id));
    const ticket = admitted.map((r) => r.ticket!);
    const counts = Object.fromEntries(statuses.filter((s) => s.run_id === run.runId).map((s) => [s.status, s.n]));
    return {
      run: k + 1,
      runId: run.runId,
      weight: +weights[k]!.toFixed(4),
      users: runOf.filter((r) => r === k).length,
      reservations: counts,
      fifoInversions: inversionsByRun[run.runId] ?? 0,
      waitingRoom: {
        joined: room.filter((r) => r.run_id === run.runId).length,
        admitted: admitted.length,
        arrivalVsTicket: spearman(
          admitted.map((r) => joined.get(r.id)!),
          ticket,
        ),
        createdAtVsTicket: spearman(
          admitted.map((r) => r.created),
          ticket,
        ),
        drawVsTicket: spearman(
          admitted.map((r) => r.draw),
          ticket,
        ),
      },
    };
  });
  const pool = (pick: (w: (typeof perRun)[number]['waitingRoom']) => number | null) =>
    pooled(perRun.map((p) => ({ rho: pick(p.waitingRoom), n: p.waitingRoom.admitted })));
  let opening = null;
  if (plan) {
    const firstSecondEnd = new Date(plan.at.getTime() + 1_000);
    const { rows } = await db.query<{ decided: number; first_second: number; first_at: Date | null }>(
      `SELECT count(*) FILTER (WHERE status <> 'QUEUED')::int AS decided,
              count(*) FILTER (WHERE status <> 'QUEUED' AND updated_at < $2)::int AS first_second,
              min(updated_at) FILTER (WHERE status <> 'QUEUED') AS first_at
       FROM booking.reservations WHERE run_id = ANY($1::uuid[])`,
      [runIds, firstSecondEnd],
    );
    const end = (s: { start: number; ms: number }) => s.start + s.ms;
    const finals = rec.of('final');
    opening = {
      at: plan.at.toISOString(),
      timeOfDay: plan.timeOfDay,
      journeyDate: plan.journeyDate,
      joinedBefore: rec.of('join').length,
      joinAnswers: outcomeCounts(rec.of('join')),
      // Final outcomes the users saw (their polls' lag included) and the database's decisions.
      finalOutcomesSeenInFirstSecond: finals.filter((s) => end(s) >= openingMs && end(s) < openingMs + 1_000).length,
      decidedInFirstSecond: rows[0]!.first_second,
      decided: rows[0]!.decided,
      firstDecisionAfterOpeningMs: rows[0]!.first_at ? rows[0]!.first_at.getTime() - plan.at.getTime() : null,
      lastFinalSeenAfterOpeningS: +((Math.max(0, ...finals.map(end)) - openingMs) / 1000).toFixed(2),
      spearman: {
        arrivalVsTicket: pool((w) => w.arrivalVsTicket),
        createdAtVsTicket: pool((w) => w.createdAtVsTicket),
        drawVsTicket: pool((w) => w.drawVsTicket),
        pairs: perRun.reduce((s, p) => s + p.waitingRoom.admitted, 0),
      },
    };
  }
  const fifoInversions = perRun.reduce((s, p) => s + p.fifoInversions, 0);
  return { opening, fifoInversions, perRun };
}

/** The report's Markdown section for the opening and the runs. */
export function openingLines(f: OpeningFigures, plan: OpeningPlan | null, rushUsers: number): string[] {
  const lines: string[] = [];
  const o = f.opening;
  if (o && plan) {
    const rho = (v: number | null) => (v === null ? '-' : String(v));
    lines.push(
      '',
      '## The opening',
      '',
      `The Tatkal window of ${f.perRun.length} run(s) opened at ${describeOpening(plan)}: ${o.joinedBefore} users ` +
        `joined its waiting room one by one before it, ${rushUsers} came at it.`,
      '',
      ...mdTable(
        ['metric', 'value'],
        [
          ['waiting-room answers', formatCounts(o.joinAnswers)],
          [
            'answers in the first second',
            `${o.decidedInFirstSecond} of ${o.decided} reservations decided in the database; ` +
              `${o.finalOutcomesSeenInFirstSecond} final outcomes seen by their users (polls every 0.25-2 s)`,
          ],
          [
            'first decision',
            o.firstDecisionAfterOpeningMs === null ? '-' : `${o.firstDecisionAfterOpeningMs} ms after the opening`,
          ],
          ['last final outcome seen', `${o.lastFinalSeenAfterOpeningS} s after the opening`],
          [
            'Spearman, waiting room (near 0: arrival does not decide)',
            `arrival order vs ticket ${rho(o.spearman.arrivalVsTicket)}, created_at vs ticket ` +
              `${rho(o.spearman.createdAtVsTicket)}; draw vs ticket ${rho(o.spearman.drawVsTicket)} ` +
              `(n=${o.spearman.pairs}, per run, weighted by its n)`,
          ],
          ['FIFO inversions (per class and quota)', String(f.fifoInversions)],
        ],
      ),
    );
  }
  if (f.perRun.length > 1) {
    lines.push(
      '',
      `## ${f.perRun.length} runs (users by popularity 1/k^s)`,
      '',
      ...mdTable(
        ['run', 'weight', 'users', 'reservations', 'FIFO inversions', 'waiting room: joined, ρ(arrival, ticket)'],
        f.perRun.map((p) => [
          p.run,
          `${(p.weight * 100).toFixed(1)}%`,
          p.users,
          formatCounts(p.reservations),
          p.fifoInversions,
          `${p.waitingRoom.joined}, ${p.waitingRoom.arrivalVsTicket ?? '-'}`,
        ]),
      ),
    );
  }
  return lines;
}
