// This project's gateway (gateway/src) against Hive Gateway, side by side in one run: the same
// supergraph.graphql, the same subgraph processes (auth, booking, search), the same requests, sent
// by the typed client (@tatkal/client) in two forms: trusted-document hashes (the manifest
// packages/client/src/gql/persisted-documents.json) and the documents' full text. Four variants:
//   this gateway, hashes      production: trusted documents only (TRUSTED_DOCUMENTS_ONLY)
//   this gateway, full text   a second process of it that runs any operation
//   Hive Gateway, hashes      its persisted documents on the same manifest (bench/gateway.config.ts)
//   Hive Gateway, full text   the same process (arbitrary documents allowed too)
// Two workloads:
//   cross-subgraph  trainsBetween (search) -> run.availability (booking), anonymous, a few routes
//   reserveSeats    through each gateway on a fresh run of its own with berths for every request,
//                   so each phase does the same database work (fresh idempotency keys and users)
// Both are warmed up first; phases alternate A B C D / D C B A over --rounds, and every phase is reported.
// Self-contained: its own seeded database (tatkal_bench_gateway), real processes on free loopback
// ports, no RabbitMQ (events off in every service), no Hive Cloud, no telemetry; the database is
// dropped at the end.
//
//   npm run bench:gateway                                  # 5,000 requests per phase, 64 in flight
//   npm run bench:gateway -- --requests 1000 --rounds 1    # a quick check
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { addDays, todayInIndia } from '@tatkal/common/dates';
import { createPrisma } from '@tatkal/db';
import { createTestRun } from '../packages/testkit/src/trainRun.ts';
import type { TrainsBetweenQuery } from '@tatkal/client';
import { benchClient, outcomeOf, Recorder, reserveInput, runPool } from './load.ts';
import { startProcess, type RunningProcess } from '../packages/testkit/src/processes.ts';
import { adminQuery, createBenchDatabase } from './database.ts';
import { commandCpuSeconds, cpuDelta, processCpu } from './processes.ts';
import { SERVICE_ARGS, startStack, type Stack } from './stack.ts';
import { benchSigningKey, mintTokens } from './tokens.ts';
import { formatCounts, latencySummary, mdTable, outcomeCounts, type LatencySummary } from './report.ts';

const root = join(import.meta.dirname, '..');
const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '64' },
    warmup: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '2' },
    /** Coaches of 72 berths per reserveSeats phase; default: enough for every request's group. */
    coaches: { type: 'string' },
    pool: { type: 'string', default: '40' },
    'timeout-s': { type: 'string', default: '600' },
    ...SERVICE_ARGS,
  },
});
const REQUESTS = Number(args.requests);
const CONCURRENCY = Number(args.concurrency);
const WARMUP = Number(args.warmup);
const ROUNDS = Number(args.rounds);
const DB = 'tatkal_bench_gateway';
const BERTHS_PER_COACH = 72;
// Groups average 2 passengers (bench/load.ts reserveInput); 10% spare so no phase sells out.
const coachesFor = (requests: number) => Number(args.coaches ?? Math.ceil((requests * 2 * 1.1) / BERTHS_PER_COACH));
const HIVE = join(root, 'bench/node_modules/.bin/hive-gateway');
const SYSTEM_PROCESSES = ['postgres', 'redis-server'];

/** Busy corridors of the seeded network; the ones without a train tomorrow are dropped at warm-up. */
const ROUTES = [
  ['MMCT', 'NDLS'],
  ['NDLS', 'MMCT'],
  ['NDLS', 'HWH'],
  ['HWH', 'NDLS'],
  ['MAS', 'SBC'],
  ['SBC', 'MAS'],
] as const;

interface Gateway {
  name: string;
  url: string;
  process: RunningProcess;
  /** How the client sends each operation: its trusted-document hash or its text. */
  documents: 'hash' | 'text';
}

/**
 * A workload prepared for one phase: `send(gateway, i)` makes request i and names its outcome
 * (OK, HELD, or an error code).
 */
interface Prepared {
  send: (gateway: Gateway, i: number) => Promise<string>;
}
interface Workload {
  name: string;
  success: string[];
  prepare: (count: number) => Promise<Prepared>;
}

interface PhaseResult {
  workload: string;
  gateway: string;
  round: number;
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  latencyMs: LatencySummary;
  outcomes: Record<string, number>;
  errors: number;
  cpuSeconds: Record<string, number>;
  gatewayCpuMsPerRequest: number;
}

const trainsBetween = (
  gateway: Gateway,
  variables: { from: string; to: string; date: string },
): Promise<TrainsBetweenQuery['trainsBetween']> => benchClient(gateway.url, gateway.documents).trainsBetween(variables);

/** Every latency of each reported phase, for percentiles over all rounds together. */
const latencies = new Map<PhaseResult, number[]>();

async function main() {
  const started = new Date();
  const date = addDays(todayInIndia(), 1);
  console.log(
    `gateway bench: ${REQUESTS} requests per phase, ${CONCURRENCY} in flight, ` +
      `${ROUNDS} round(s) of A B C D / D C B A over 4 variants (2 gateways x hashes / full text), ` +
      `${cpus().length} cores`,
  );
  const dbUrl = await createBenchDatabase(args.pg, DB, { seedRunDays: 3 });
  const prisma = createPrisma(dbUrl, { max: 4, applicationName: 'bench' });
  const signing = await benchSigningKey();
  let stack: Stack | null = null;
  let hive: RunningProcess | null = null;
  try {
    stack = await startStack({
      databaseUrl: dbUrl,
      redisUrl: args.redis,
      amqpUrl: args.amqp,
      keysFile: signing.file,
      eventsPrefix: null,
      bookingPoolSize: Number(args.pool),
      search: true,
      // Hive Gateway cannot sign this project's identity assertion: the subgraphs verify every
      // bearer token for both gateways, so they cost both the same.
      identityAssertions: false,
      // The full-text variant of this gateway: any operation, as in development.
      extraGateways: [{ name: 'gateway-text', env: { TRUSTED_DOCUMENTS_ONLY: 'false' } }],
    });
    const urls = Object.fromEntries(
      Object.entries(stack.subgraphs).map(([name, url]) => [`${name.toUpperCase()}_URL`, url]),
    );
    hive = await startProcess(
      'hive-gateway',
      'hive-gateway',
      {
        NODE_ENV: 'production',
        ...urls,
        PERSISTED_DOCUMENTS_PATH: join(root, 'packages/client/src/gql/persisted-documents.json'),
      },
      {
        command: HIVE,
        args: [
          'supergraph',
          join(root, 'supergraph.graphql'),
          '--config-path',
          join(root, 'bench/gateway.config.ts'),
          '--host',
          '127.0.0.1',
          '--fork',
          '1',
        ],
        readyPath: '/readiness',
      },
    );
    const own = stack.processes.find((p) => p.name === 'gateway')!;
    const ownText = stack.processes.find((p) => p.name === 'gateway-text')!;
    const gateways: Gateway[] = [
      { name: 'this gateway, hashes', url: stack.gatewayUrl!, process: own, documents: 'hash' },
      { name: 'this gateway, full text', url: `${ownText.url}/graphql`, process: ownText, documents: 'text' },
      { name: 'Hive Gateway 2.15.1, hashes', url: `${hive.url}/graphql`, process: hive, documents: 'hash' },
      { name: 'Hive Gateway 2.15.1, full text', url: `${hive.url}/graphql`, process: hive, documents: 'text' },
    ];
    const processes = [...stack.processes, hive];

    // Routes with at least one train whose run booking knows; every variant must answer them alike.
    const routes: (typeof ROUTES)[number][] = [];
    for (const route of ROUTES) {
      const variables = { from: route[0], to: route[1], date };
      const answers = await Promise.all(
        gateways.map((g) =>
          trainsBetween(g, variables).catch((err: unknown) => {
            throw new Error(`${route.join('-')} via ${g.name}: ${outcomeOf(err)} ${(err as Error).message}`);
          }),
        ),
      );
      for (const a of answers.slice(1))
        if (!isDeepStrictEqual(a, answers[0])) throw new Error(`the gateways answer ${route.join('-')} differently`);
      if (answers[0]!.some((t) => t.run)) routes.push(route);
    }
    if (routes.length === 0) throw new Error(`no train with a run between the routes on ${date}`);

    const cross: Workload = {
      name: 'cross-subgraph query',
      success: ['OK'],
      prepare: async () => {
        const variables = routes.map(([from, to]) => ({ from, to, date }));
        return {
          send: async (gateway, i) => {
            try {
              const trains = await trainsBetween(gateway, variables[i % variables.length]!);
              return trains.some((t) => t.run && Array.isArray(t.run.availability)) ? 'OK' : 'NO_AVAILABILITY';
            } catch (err) {
              return outcomeOf(err);
            }
          },
        };
      },
    };
    const reserve: Workload = {
      name: 'reserveSeats',
      success: ['HELD'],
      prepare: async (count) => {
        const run = await createTestRun(prisma, {
          coaches: coachesFor(count),
          berthsPerCoach: BERTHS_PER_COACH,
          daysAhead: 1,
        });
        const tokens = await mintTokens(signing.key, count);
        const inputs = Array.from({ length: count }, (_, i) => reserveInput(i, run));
        return {
          send: async (gateway, i) => {
            try {
              // A fresh idempotency key per request (the client makes one); no retry, no polling.
              return (
                await benchClient(gateway.url, gateway.documents, tokens[i]).reserve(inputs[i]!, {
                  wait: false,
                  retry: false,
                  idempotencyKey: randomUUID(),
                })
              ).status;
            } catch (err) {
              return outcomeOf(err);
            }
          },
        };
      },
    };

    const phase = async (workload: Workload, gateway: Gateway, count: number, round: number): Promise<PhaseResult> => {
      const prepared = await workload.prepare(count);
      const cpuBefore = { ...processCpu(processes), ...commandCpuSeconds(SYSTEM_PROCESSES) };
      const rec = new Recorder();
      await runPool(count, CONCURRENCY, Date.now() + Number(args['timeout-s']) * 1000, async (i) => {
        await rec.time(workload.name, () => prepared.send(gateway, i));
      });
      const seconds = rec.now() / 1000;
      const cpuSeconds = cpuDelta({ ...processCpu(processes), ...commandCpuSeconds(SYSTEM_PROCESSES) }, cpuBefore);
      const outcomes = outcomeCounts(rec.samples);
      const errors = rec.samples.filter((s) => !workload.success.includes(s.outcome)).length;
      const result: PhaseResult = {
        workload: workload.name,
        gateway: gateway.name,
        round,
        requests: rec.samples.length,
        seconds: +seconds.toFixed(2),
        requestsPerSecond: +(rec.samples.length / seconds).toFixed(1),
        latencyMs: latencySummary(rec.samples.map((s) => s.ms)),
        outcomes,
        errors,
        cpuSeconds,
        gatewayCpuMsPerRequest: +(((cpuSeconds[gateway.process.name] ?? 0) * 1000) / rec.samples.length).toFixed(3),
      };
      latencies.set(
        result,
        rec.samples.map((s) => s.ms),
      );
      if (round > 0)
        console.log(
          `${workload.name} via ${gateway.name}, round ${round}: ${result.requestsPerSecond} req/s, ` +
            `p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms, ${errors} errors`,
        );
      return result;
    };

    // Warm-up (round 0, not reported): JIT, query plans, connection pools, JWKS, on every variant.
    for (const workload of [cross, reserve]) for (const gateway of gateways) await phase(workload, gateway, WARMUP, 0);

    const phases: PhaseResult[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const workload of [cross, reserve]) {
        const order = round % 2 === 1 ? gateways : [...gateways].reverse();
        for (const gateway of order) phases.push(await phase(workload, gateway, REQUESTS, round));
      }
    }

    const summary = [cross, reserve].flatMap((w) =>
      gateways.map((g) => {
        const mine = phases.filter((p) => p.workload === w.name && p.gateway === g.name);
        const requests = mine.reduce((n, p) => n + p.requests, 0);
        const gatewayCpu = mine.reduce((n, p) => n + (p.cpuSeconds[g.process.name] ?? 0), 0);
        return {
          workload: w.name,
          gateway: g.name,
          requests,
          requestsPerSecond: +(requests / mine.reduce((n, p) => n + p.seconds, 0)).toFixed(1),
          latencyMs: latencySummary(mine.flatMap((p) => latencies.get(p)!)),
          errors: mine.reduce((n, p) => n + p.errors, 0),
          gatewayCpuSeconds: +gatewayCpu.toFixed(2),
          gatewayCpuMsPerRequest: +((gatewayCpu * 1000) / requests).toFixed(3),
        };
      }),
    );
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
  } finally {
    await hive?.stop();
    await stack?.stop();
    signing.remove();
    await prisma.$disconnect();
    await adminQuery(args.pg, `DROP DATABASE IF EXISTS "${DB}" WITH (FORCE)`).catch(() => {});
  }
}

main().catch((err: unknown) => {
  console.error(`gateway bench failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
