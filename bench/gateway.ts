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
//
// Modules: gateway/options.ts (flags), gateway/workloads.ts (variants, routes, workloads),
// gateway/phases.ts (a measured phase, the summary), gateway/report.ts.
import { cpus } from 'node:os';
import { addDays, todayInIndia } from '@tatkal/common/dates';
import { createPrisma } from '@tatkal/db';
import type { RunningProcess } from '../packages/testkit/src/processes.ts';
import { adminQuery, createBenchDatabase } from './database.ts';
import { args, CONCURRENCY, DB, REQUESTS, ROUNDS, WARMUP } from './gateway/options.ts';
import { type PhaseResult, runPhase, summarize } from './gateway/phases.ts';
import { writeReport } from './gateway/report.ts';
import { answeredRoutes, crossWorkload, reserveWorkload, startHive, variants } from './gateway/workloads.ts';
import { startStack, type Stack } from './stack.ts';
import { benchSigningKey } from './tokens.ts';

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
    hive = await startHive(stack);
    const gateways = variants(stack, hive);
    const processes = [...stack.processes, hive];
    const routes = await answeredRoutes(gateways, date);
    const cross = crossWorkload(routes, date);
    const reserve = reserveWorkload(prisma, signing.key);

    // Warm-up (round 0, not reported): JIT, query plans, connection pools, JWKS, on every variant.
    for (const workload of [cross, reserve])
      for (const gateway of gateways) await runPhase(workload, gateway, WARMUP, 0, processes);

    const phases: PhaseResult[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const workload of [cross, reserve]) {
        const order = round % 2 === 1 ? gateways : [...gateways].reverse();
        for (const gateway of order) phases.push(await runPhase(workload, gateway, REQUESTS, round, processes));
      }
    }
    writeReport({ started, date, routes, summary: summarize([cross, reserve], gateways, phases), phases });
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
