// The gateway benchmark's report: JSON, and Markdown printed and written to bench/results.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { formatCounts, mdTable } from '../report.ts';
import { BERTHS_PER_COACH, CONCURRENCY, coachesFor, REQUESTS, root, ROUNDS, type ROUTES, WARMUP } from './options.ts';
import type { PhaseResult, summarize } from './phases.ts';

export function writeReport(opts: {
  started: Date;
  date: string;
  routes: (typeof ROUTES)[number][];
  summary: ReturnType<typeof summarize>;
  phases: PhaseResult[];
}): void {
  const { started, date, routes, summary, phases } = opts;
  const report = {
    startedAt: started.toISOString(),
    machine: { cores: cpus().length, loadAverageAtStart: loadavg().map((v) => +v.toFixed(2)) },
    requestsPerPhase: REQUESTS,
    concurrency: CONCURRENCY,
    warmup: WARMUP,
    rounds: ROUNDS,
    routes: routes.map((r) => r.join('-')),
    date,
    reserveRunBerths: coachesFor(REQUESTS) * BERTHS_PER_COACH,
    summary,
    phases,
  };
  const lines = [
    `# Gateway bench ${report.startedAt}`,
    '',
    'This gateway (gateway/src, Apollo Gateway 2 + Apollo Server 5, run by tsx) against Hive Gateway 2.15.1 ' +
      '(`hive-gateway supergraph`, bench/gateway.config.ts, one process), the same supergraph.graphql and ' +
      'subgraph processes (auth, booking, search). Requests are sent by the typed client ' +
      '(@tatkal/client, graphql-request) either as trusted-document hashes of the manifest ' +
      'packages/client/src/gql/persisted-documents.json (this gateway in production mode, trusted documents ' +
      "only; Hive with its persisted documents on the same manifest) or as the documents' full text " +
      '(a second process of this gateway that runs any operation; the same Hive process). ' +
      `${REQUESTS} requests per phase, ${CONCURRENCY} in flight, ${WARMUP} warm-up requests per variant and ` +
      `workload, ${ROUNDS} round(s) in A B C D / D C B A order; ${report.machine.cores} cores shared by the ` +
      'client, the gateways, the subgraphs, PostgreSQL and Redis; ' +
      `load average at start ${report.machine.loadAverageAtStart.join(' ')}.`,
    '',
    "- cross-subgraph query: `trainsBetween` (search) with each train's `run { availability }` (booking), " +
      `anonymous, routes ${report.routes.join(', ')} on ${date}; every variant gave identical answers.`,
    `- reserveSeats: a fresh run of ${report.reserveRunBerths} berths per phase (never sold out), ` +
      'a fresh user and idempotency key per request.',
    '- This gateway also does per request what Hive is not configured to: JWT verification, ' +
      'Redis rate-limit counters, query depth/cost limits, operation logging.',
    '',
    ...mdTable(
      [
        'workload',
        'gateway',
        'requests',
        'requests/s',
        'p50 ms',
        'p99 ms',
        'errors',
        'gateway CPU s',
        'gateway CPU ms/request',
      ],
      summary.map((s) => [
        s.workload,
        s.gateway,
        s.requests,
        s.requestsPerSecond,
        s.latencyMs.p50,
        s.latencyMs.p99,
        s.errors,
        s.gatewayCpuSeconds,
        s.gatewayCpuMsPerRequest,
      ]),
    ),
    '',
    '## Phases in the order run',
    '',
    ...mdTable(
      ['#', 'workload', 'gateway', 'requests/s', 'p50 / p95 / p99 / max ms', 'outcomes', 'CPU s by process'],
      phases.map((p, i) => [
        i + 1,
        p.workload,
        p.gateway,
        p.requestsPerSecond,
        `${p.latencyMs.p50} / ${p.latencyMs.p95} / ${p.latencyMs.p99} / ${p.latencyMs.max}`,
        formatCounts(p.outcomes),
        Object.entries(p.cpuSeconds)
          .filter(([, v]) => v > 0)
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
      ]),
    ),
  ];
  const md = `${lines.join('\n')}\n`;
  console.log(`\n${md}`);
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  const base = join(root, 'bench/results', `gateway-${report.startedAt.replace(/[:.]/g, '-')}`);
  writeFileSync(`${base}.json`, JSON.stringify(report, null, 2));
  writeFileSync(`${base}.md`, md);
  console.log(`written: ${base}.{json,md}`);
}
