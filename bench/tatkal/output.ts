// The Tatkal benchmark's files in bench/results: the report as JSON (with buckets and samples),
// Markdown, and the timeline SVG (throughput, queue depth, p99 latency). Exit code 2 on double booking.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Recorder } from '../load.ts';
import type { PgbenchResult } from '../pgbench.ts';
import type { Sample } from '../report.ts';
import { latencyPoints, ratePerSecond, svgTimeline, throughputPoints, timeBuckets } from '../report.ts';
import { CONCURRENCY, root, USERS } from './options.ts';
import type { PayPhase } from './payment.ts';
import type { TatkalReport } from './report.ts';
import type { Held } from './rush.ts';

export function writeOutputs(ctx: {
  report: TatkalReport;
  md: string;
  rec: Recorder;
  reserveSamples: Sample[];
  confirmed: Held[];
  lastConfirmedMs: number;
  depth: [number, number][];
  berths: number;
  payPhase: PayPhase | null;
  pgbench: PgbenchResult | null;
}): void {
  const { report, md, rec, reserveSamples, confirmed, lastConfirmedMs, depth, berths, payPhase, pgbench } = ctx;
  const reserveBuckets = timeBuckets(reserveSamples, (s) => s.outcome === 'HELD');
  const payBuckets = timeBuckets(rec.of('pay'), (s) => s.outcome === 'PENDING');
  const end = Math.max(reserveBuckets.length, payBuckets.length, Math.ceil(lastConfirmedMs / 1000));
  const confirmedRate = ratePerSecond(
    confirmed.map((h) => h.confirmedAt! - rec.epoch0),
    end,
  );
  const payFromS = payPhase ? Math.floor(payPhase.startMs / 1000) : 0;
  const svg = svgTimeline({
    title: `Tatkal rush: ${USERS} users, ${CONCURRENCY} in flight, ${berths} berths (${report.startedAt})`,
    xLabel: 'seconds since the rush started',
    panels: [
      {
        yLabel: 'per second',
        series: [
          {
            name: 'reserve responses/s',
            color: '#1f77b4',
            points: throughputPoints(reserveBuckets, (b) => b.perSecond),
          },
          { name: 'holds/s', color: '#2ca02c', points: throughputPoints(reserveBuckets, (b) => b.okPerSecond) },
          ...(payPhase
            ? [
                {
                  name: 'payments/s',
                  color: '#9467bd',
                  points: throughputPoints(payBuckets, (b) => b.perSecond, payFromS),
                },
                {
                  name: 'confirmed/s',
                  color: '#ff7f0e',
                  points: confirmedRate.map((n, i) => [i, n] as [number, number]).filter(([t]) => t >= payFromS),
                },
              ]
            : []),
        ],
      },
      {
        yLabel: 'QUEUED reservations',
        series: [{ name: 'queue depth', color: '#17becf', points: depth }],
      },
      {
        yLabel: 'p99 latency (ms)',
        series: [
          { name: 'reserve p99', color: '#d62728', points: latencyPoints(reserveBuckets) },
          ...(payPhase ? [{ name: 'pay p99', color: '#8c564b', points: latencyPoints(payBuckets) }] : []),
        ],
      },
    ],
  });
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  const base = join(root, 'bench/results', `tatkal-${report.startedAt.replace(/[:.]/g, '-')}`);
  writeFileSync(
    `${base}.json`,
    JSON.stringify(
      {
        ...report,
        buckets: { reserve: reserveBuckets, pay: payBuckets, confirmed: confirmedRate },
        samples: rec.samples,
      },
      null,
      2,
    ),
  );
  writeFileSync(`${base}.md`, `${md}\n![timeline](${base.split('/').pop()}.svg)\n`);
  writeFileSync(`${base}.svg`, svg);
  console.log(`written: ${base}.{json,md,svg}`);
  if (report.audit.doubleBooked || (pgbench && (pgbench.audit.overlaps > 0 || pgbench.audit.maskMismatch > 0)))
    process.exitCode = 2;
}
