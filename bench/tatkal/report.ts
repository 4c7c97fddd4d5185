// The Tatkal benchmark's report: the numbers as JSON, and the Markdown table printed to the console.
import { cpus, loadavg } from 'node:os';
import type { doubleBookingAudit } from '../../packages/testkit/src/trainRun.ts';
import { SERVICE_NODE_OPTIONS } from '../../scripts/nodeOptions.ts';
import type { PgbenchResult } from '../pgbench.ts';
import { cpuDelta, cpuPerUnit } from '../processes.ts';
import { redisDelta, sentDelta } from '../redis.ts';
import { formatCounts, latencySummary, mdTable, outcomeCounts } from '../report.ts';
import type { OpeningPlan } from './opening.ts';
import { type OpeningFigures, openingLines } from './openingReport.ts';
import { args, BERTHS_PER_COACH, CHECKOUT, COACHES, CONCURRENCY, PAY, POOL, TARGET, USERS } from './options.ts';
import type { PayPhase } from './payment.ts';
import type { RushResult } from './rush.ts';

export type TatkalReport = ReturnType<typeof buildReport>['report'];

export function buildReport(ctx: {
  started: Date;
  berths: number;
  rush: RushResult;
  payPhase: PayPhase | null;
  backgroundXactsPerSecond: number;
  audit: Awaited<ReturnType<typeof doubleBookingAudit>>;
  byStatus: { status: string; _count: number }[];
  pgbench: PgbenchResult | null;
  plan: OpeningPlan | null;
  figures: OpeningFigures;
}) {
  const { started, berths, payPhase, backgroundXactsPerSecond, audit, byStatus, pgbench, plan, figures } = ctx;
  const { rec, held, depth, attempts, rushAttempts, firstAnswersSeconds, reserveSeconds, inversions, batches } =
    ctx.rush;
  const runs = figures.perRun.length;
  const { openingMs } = ctx.rush;
  const { reserveBefore, reserveAfter, reserveOthers, xactReserveBefore, xactReserveAfter, xactWindowReserve } =
    ctx.rush;
  const reserveSamples = rec.of('reserve');
  const holds = held.length;
  // holds/s over the whole rush, to the last final outcome.
  const paid = held.filter((h) => h.paidAt);
  // What the payment phase's costs are counted per: paid tickets, or with --no-checkout the payments created.
  const payUnits = CHECKOUT ? paid.length : held.filter((h) => h.paymentCreated).length;
  const payUnit = CHECKOUT ? 'paid ticket' : 'createPayment (--no-checkout)';
  const confirmed = held.filter((h) => h.confirmedAt !== undefined);
  const lastConfirmedMs = Math.max(0, ...confirmed.map((h) => h.confirmedAt! - rec.epoch0));
  const reserveNet = xactReserveAfter - xactReserveBefore - backgroundXactsPerSecond * xactWindowReserve;
  const report = {
    startedAt: started.toISOString(),
    mode: TARGET ? `target ${TARGET}` : 'self-contained',
    window: plan ? 'a Tatkal opening' : 'GENERAL, long open',
    runs,
    identityAssertions: TARGET ? 'as the target is configured' : !args['no-identity-assertions'],
    serviceNodeOptions: TARGET
      ? 'as the target is configured'
      : (process.env.BENCH_NODE_OPTIONS ?? SERVICE_NODE_OPTIONS),
    machine: { cores: cpus().length, loadAverageAtStart: loadavg().map((v) => +v.toFixed(2)) },
    users: USERS,
    concurrency: CONCURRENCY,
    berths,
    coaches: COACHES,
    berthsPerCoach: BERTHS_PER_COACH,
    bookingDbPool: POOL,
    reserve: {
      // Every reservation attempt (at an opening: the waiting room's and the rush's).
      attempts,
      // The rush's (at an opening: from the opening on) first answers (an outcome, or QUEUED with
      // a PNR) per second: what the issue measures. Times below count from the opening.
      rushAttempts,
      firstAnswersSeconds: +firstAnswersSeconds.toFixed(2),
      seconds: +reserveSeconds.toFixed(2),
      responsesPerSecond: +(rushAttempts / firstAnswersSeconds).toFixed(1),
      // Little's law: with this many in flight at this throughput, the mean wait is in flight / throughput.
      // A fair tail keeps the p99 near it (nobody who came earlier waits much longer than the mean).
      littleMeanMs: Math.round((Math.min(CONCURRENCY, rushAttempts) * firstAnswersSeconds * 1000) / rushAttempts),
      finalLatencyMs: latencySummary(rec.of('final').map((s) => s.ms)),
      lastFinalOutcomeS: +((Math.max(0, ...rec.of('final').map((s) => s.start + s.ms)) - openingMs) / 1000).toFixed(2),
      finalOutcomes: outcomeCounts(rec.of('final')),
      queued: rec.of('reserve').filter((s) => s.outcome === 'QUEUED').length,
      fifoInversions: inversions,
      allocationBatches: batches,
      queueDepthMax: Math.max(0, ...depth.map(([, n]) => n)),
      holdsPerSecond: +(holds / reserveSeconds).toFixed(1),
      queueDepth: depth,
      holds,
      heldPassengers: held.reduce((n, h) => n + h.passengers, 0),
      latencyMs: latencySummary(reserveSamples.map((s) => s.ms)),
      outcomes: outcomeCounts(reserveSamples),
    },
    payment: payPhase && {
      payments: rec.of('pay').length,
      paid: paid.length,
      confirmed: confirmed.length,
      notConfirmed: paid.length - confirmed.length,
      seconds: +((payPhase.endMs - payPhase.startMs) / 1000).toFixed(2),
      // From the first createPayment to the last confirmation seen.
      confirmedPerSecond: confirmed.length
        ? +((confirmed.length * 1000) / Math.max(1, lastConfirmedMs - payPhase.startMs)).toFixed(1)
        : 0,
      latencyMs: {
        pay: latencySummary(rec.of('pay').map((s) => s.ms)),
        checkout: latencySummary(rec.of('checkout').map((s) => s.ms)),
        payToConfirmed: latencySummary(confirmed.map((h) => h.confirmedAt! - h.paidAt!)),
        // The sidecar's answer to the provider's POST (its target: 100 ms), last attempt of each.
        webhook: latencySummary(payPhase.webhooks.flatMap((d) => (d.lastMs === null ? [] : [d.lastMs]))),
      },
      outcomes: { pay: outcomeCounts(rec.of('pay')), checkout: outcomeCounts(rec.of('checkout')) },
      webhookDeliveries: {
        delivered: payPhase.webhooks.filter((d) => d.status === 'delivered').length,
        retried: payPhase.webhooks.filter((d) => d.attempts > 1).length,
        failed: payPhase.webhooks.filter((d) => d.status === 'failed').length,
        pending: payPhase.webhooks.filter((d) => d.status === 'pending').length,
      },
    },
    database: {
      backgroundTransactionsPerSecond: backgroundXactsPerSecond,
      reserve: {
        transactions: xactReserveAfter - xactReserveBefore,
        perAttempt: +((xactReserveAfter - xactReserveBefore) / attempts).toFixed(2),
        netOfBackgroundPerAttempt: +(reserveNet / attempts).toFixed(2),
      },
      payment: payPhase && {
        transactions: payPhase.xacts,
        benchPolls: payPhase.polls,
        netPerPayment: +(
          (payPhase.xacts - payPhase.polls - backgroundXactsPerSecond * payPhase.windowS) /
          Math.max(1, payUnits)
        ).toFixed(2),
      },
    },
    redis: {
      reserve: {
        ...redisDelta(reserveAfter.redis, reserveBefore.redis, attempts),
        sent: sentDelta(reserveAfter.redisSent, reserveBefore.redisSent, attempts),
        otherActiveClients: reserveOthers,
      },
      payment: payPhase && {
        ...redisDelta(payPhase.after.redis, payPhase.before.redis, Math.max(1, payUnits)),
        sent: sentDelta(payPhase.after.redisSent, payPhase.before.redisSent, Math.max(1, payUnits)),
        otherActiveClients: payPhase.others,
      },
    },
    cpuSeconds: {
      reserve: cpuDelta(reserveAfter.cpu, reserveBefore.cpu),
      payment: payPhase && cpuDelta(payPhase.after.cpu, payPhase.before.cpu),
    },
    cpuMs: {
      perAttempt: cpuPerUnit(cpuDelta(reserveAfter.cpu, reserveBefore.cpu), attempts),
      perPaidTicket: payPhase && cpuPerUnit(cpuDelta(payPhase.after.cpu, payPhase.before.cpu), payUnits),
    },
    audit: {
      ...audit,
      doubleBooked: audit.overlaps > 0 || audit.maskMismatch > 0 || audit.distinctSeats !== audit.seatedPassengers,
    },
    runStatus: Object.fromEntries(byStatus.map((r) => [r.status, r._count])),
    pgbench: pgbench && {
      ...pgbench,
      systemAttemptsPerSecondRatio: +(attempts / reserveSeconds / pgbench.tps).toFixed(3),
      responsesPerSecondRatio: +(rushAttempts / firstAnswersSeconds / pgbench.tps).toFixed(3),
    },
    opening: figures.opening,
    perRun: figures.perRun,
    notMeasured: TARGET
      ? [
          'CPU per service process (not started by the bench)',
          'database and Redis counters include everything else using them',
        ]
      : [],
  };

  const pay = report.payment;
  const lat = (l: { p50: number; p95: number; p99: number; max: number; count: number }) =>
    `${l.p50} / ${l.p95} / ${l.p99} / ${l.max} ms (n=${l.count})`;
  const cpuLine = (c: Record<string, number> | null) =>
    c
      ? Object.entries(c)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')
      : '-';
  const otherClients = Math.max(report.redis.reserve.otherActiveClients, report.redis.payment?.otherActiveClients ?? 0);
  const sharedNote = TARGET
    ? 'the target system’s Redis: server-wide counters include every client of it'
    : report.redis.reserve.otherActiveClients || report.redis.payment?.otherActiveClients
      ? `SHARED: ${otherClients} client(s) of other programs ran commands meanwhile; the counts include their work`
      : 'server-wide counters; no other program’s client still connected at the end of a phase ' +
        'ran a command during it';
  const redisNote = `${sharedNote}; Redis counts the commands a script runs too, “sent” counts a script once`;
  const services = TARGET
    ? ''
    : `, subgraphs ${report.identityAssertions ? "check the gateway's signed identity" : 'verify every token'}` +
      `, services run with NODE_OPTIONS=${report.serviceNodeOptions}`;
  const lines = [
    `# Tatkal bench ${report.startedAt}`,
    '',
    `${USERS} users (${CONCURRENCY} in flight) reserve on ${runs === 1 ? 'one run' : `${runs} runs, each`} ` +
      `of ${berths} berths (${COACHES} x ${BERTHS_PER_COACH}), ` +
      (plan
        ? `all TATKAL, whose window opens during the bench (${report.opening!.joinedBefore} join its waiting room ` +
          `before, ${rushAttempts} come at the opening; times count from it)`
        : 'GENERAL, its window long open') +
      ` through the gateway${PAY ? ', then every HELD reservation pays' : ''}. ` +
      `${report.mode}${services}; ${report.machine.cores} cores, ` +
      `load average at start ${report.machine.loadAverageAtStart.join(' ')}.`,
    '',
    ...mdTable(
      ['metric', 'value'],
      [
        [
          'reserve attempts',
          `${rushAttempts} first answers in ${report.reserve.firstAnswersSeconds} s: ` +
            `${report.reserve.responsesPerSecond} responses/s (${report.reserve.queued} of them QUEUED)`,
        ],
        [
          'holds/s',
          `${report.reserve.holdsPerSecond} (${holds} holds, ${report.reserve.heldPassengers} passengers seated)`,
        ],
        ['first answer p50 / p95 / p99 / max', lat(report.reserve.latencyMs)],
        [
          "first answer p99 / Little's mean",
          `${(report.reserve.latencyMs.p99 / report.reserve.littleMeanMs).toFixed(2)} ` +
            `(mean ${report.reserve.littleMeanMs} ms = ${Math.min(CONCURRENCY, rushAttempts)} in flight / ` +
            `${report.reserve.responsesPerSecond} responses/s)`,
        ],
        ['first answers', formatCounts(report.reserve.outcomes)],
        ['final outcome p50 / p95 / p99 / max (from the request)', lat(report.reserve.finalLatencyMs)],
        ['last final outcome', `${report.reserve.lastFinalOutcomeS} s after the ${plan ? 'opening' : 'rush started'}`],
        ['final outcomes', formatCounts(report.reserve.finalOutcomes)],
        [
          'FIFO inversions',
          `${inversions} (an earlier request waitlisted or refused while a later one of the same class and quota, ` +
            'journey and at least its group size holds berths)',
        ],
        [
          'allocation batches',
          batches ? `${batches.count} batches, mean ${batches.mean} requests (${formatCounts(batches.buckets)})` : '-',
        ],
        ['queue depth', `max ${report.reserve.queueDepthMax} QUEUED (sampled every 250 ms; timeline in the SVG)`],
        ...(pay
          ? [
              [
                'confirmed bookings/s',
                `${pay.confirmedPerSecond} (${pay.confirmed} of ${pay.paid} paid confirmed, ` +
                  `${pay.notConfirmed} not in time; ${pay.seconds} s from the first payment)`,
              ],
              ['pay (createPayment) p50 / p95 / p99 / max', lat(pay.latencyMs.pay)],
              ['checkout (provider) p50 / p95 / p99 / max', lat(pay.latencyMs.checkout)],
              ['webhook answered by the sidecar p50 / p95 / p99 / max', lat(pay.latencyMs.webhook)],
              [
                'webhook deliveries',
                `${pay.webhookDeliveries.delivered} delivered (${pay.webhookDeliveries.retried} after a retry), ` +
                  `${pay.webhookDeliveries.failed} failed, ${pay.webhookDeliveries.pending} pending`,
              ],
              ['pay to CONFIRMED p50 / p95 / p99 / max', lat(pay.latencyMs.payToConfirmed)],
              ['pay outcomes', formatCounts(pay.outcomes.pay)],
              ['checkout outcomes', formatCounts(pay.outcomes.checkout)],
            ]
          : []),
        [
          'DB transactions per reserve attempt',
          `${report.database.reserve.perAttempt} (${report.database.reserve.netOfBackgroundPerAttempt} ` +
            `without the ${backgroundXactsPerSecond}/s background of outbox relays and others)`,
        ],
        ...(report.database.payment
          ? [
              [
                CHECKOUT
                  ? 'DB transactions per payment (pay + webhook + event + confirm)'
                  : `DB transactions per ${payUnit}`,
                `${report.database.payment.netPerPayment} ` +
                  `(without background and the bench's ${report.database.payment.benchPolls} polls)`,
              ],
            ]
          : []),
        [
          'Redis commands per reserve attempt',
          `${report.redis.reserve.perUnit} (${formatCounts(report.redis.reserve.byCommandPerUnit)})`,
        ],
        [
          'Redis commands sent per reserve attempt',
          `${report.redis.reserve.sent.perUnit} (${formatCounts(report.redis.reserve.sent.byCommandPerUnit)})`,
        ],
        ...(report.redis.payment
          ? [
              [
                `Redis commands per ${CHECKOUT ? 'payment' : payUnit}`,
                `${report.redis.payment.perUnit} (${formatCounts(report.redis.payment.byCommandPerUnit)})`,
              ],
              [
                `Redis commands sent per ${CHECKOUT ? 'payment' : payUnit}`,
                `${report.redis.payment.sent.perUnit} (${formatCounts(report.redis.payment.sent.byCommandPerUnit)})`,
              ],
            ]
          : []),
        ['Redis', redisNote],
        ['CPU seconds, rush', cpuLine(report.cpuSeconds.reserve)],
        ...(report.cpuSeconds.payment ? [['CPU seconds, payment', cpuLine(report.cpuSeconds.payment)]] : []),
        ...(report.cpuMs.perAttempt
          ? [
              [
                'CPU ms per reserve attempt',
                `product ${report.cpuMs.perAttempt.productMs} (${cpuLine(report.cpuMs.perAttempt.byProcess)})`,
              ],
            ]
          : []),
        ...(report.cpuMs.perPaidTicket
          ? [
              [
                `CPU ms per ${payUnit}`,
                `product ${report.cpuMs.perPaidTicket.productMs} (${cpuLine(report.cpuMs.perPaidTicket.byProcess)})`,
              ],
            ]
          : []),
        ['reservations on the run', formatCounts(report.runStatus)],
        [
          'double-booking audit',
          `overlaps ${audit.overlaps}, mask mismatches ${audit.maskMismatch}, ` +
            `${audit.seatedPassengers} seated on ${audit.distinctSeats} distinct berths: ` +
            (report.audit.doubleBooked ? 'DOUBLE BOOKED' : 'no double booking'),
        ],
      ],
    ),
    '',
    'postgres, redis-server and beam.smp CPU is every process of that name on this machine, whoever it serves.' +
      (plan ? ' At an opening CPU, DB transactions and Redis commands cover the waiting room too, per attempt.' : ''),
    ...openingLines(figures, plan, rushAttempts),
    ...(report.notMeasured.length ? ['', `Not measured with --target: ${report.notMeasured.join('; ')}.`] : []),
  ];
  if (report.pgbench) {
    const p = report.pgbench;
    lines.push(
      '',
      '## Against pgbench (bench/sql/reserve.pgbench)',
      '',
      `The same row locks and writes as one reserve attempt, in plain SQL, ${p.clients} clients (booking's pool) ` +
        `for ${p.seconds} s on a fresh run of ${p.berths} berths with the same mix ` +
        '(sold out, it waitlists or refuses as the app does).',
      '',
      ...mdTable(
        ['', 'attempts/s', 'held', 'waitlisted', 'refused (sold out)', 'audit'],
        [
          [
            'pgbench',
            `${p.tps.toFixed(1)} tps (latency avg ${p.latencyAvgMs} ms, ${p.failed} failed)`,
            p.held,
            p.waitlisted,
            p.soldOut,
            p.audit.overlaps || p.audit.maskMismatch ? 'DOUBLE BOOKED' : 'ok',
          ],
          [
            'the system',
            `${report.reserve.responsesPerSecond} responses/s = ${(p.responsesPerSecondRatio * 100).toFixed(1)}%; ` +
              `attempts decided per second to the last final outcome = ` +
              `${(p.systemAttemptsPerSecondRatio * 100).toFixed(1)}% of pgbench`,
            holds,
            report.reserve.outcomes.WAITLISTED ?? 0,
            report.reserve.outcomes.SOLD_OUT ?? 0,
            report.audit.doubleBooked ? 'DOUBLE BOOKED' : 'ok',
          ],
        ],
      ),
      ...(p.errors.length ? ['', `pgbench reported: ${p.errors.join(' | ')}`] : []),
    );
  }
  const md = `${lines.join('\n')}\n`;
  console.log(`\n${md}`);
  return { report, md, reserveSamples, confirmed, lastConfirmedMs };
}
