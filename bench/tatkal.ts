// The Tatkal rush: N users who logged in beforehand (identity-verified) reserve on one run, or on
// --runs N runs by popularity, through the gateway. By default at a real opening: the runs are
// tomorrow's, all their berths TATKAL, and booking starts with its Tatkal hours (TATKAL_OPENS_AC,
// _NON_AC) set to a second ahead; --early of the users join the waiting room one by one over
// the --lead-s seconds before it, the rest come at it (tatkal/opening.ts). --general: today's GENERAL berths
// on a run whose window is long open, everyone at once. Either way then every HELD reservation
// pays (createPayment through the gateway, then the provider simulator's checkout, whose signed
// webhook reaches payment's sidecar; payment's event reaches booking over RabbitMQ, and booking
// confirms). Ends when every paid reservation is
// CONFIRMED in the database, or at a timeout. Then pgbench runs the same row locks and writes in
// plain SQL (bench/sql/reserve.pgbench) on a fresh run, for the database's own ceiling.
//
// Self-contained by default: its own database (tatkal_bench, dropped and re-created), auth,
// booking, payment (+ webhook sidecar), provider simulator and gateway as real processes, its own
// RabbitMQ exchanges and queues (deleted afterwards), secrets generated per run. Loopback only.
//
//   npm run bench:tatkal                                   # 10,000 users, 2,000 in flight, 14 x 72 berths
//   npm run bench:tatkal -- --users 600 --concurrency 200  # a quick check
//   npm run bench:tatkal -- --runs 20                      # 20 runs open together
//   npm run bench:tatkal -- --general                      # GENERAL, window long open
//   npm run bench:tatkal -- --general --target http://127.0.0.1:4000/graphql --db tatkal --pool 20
//
// With --target (only with --general: an opening sets booking's hours) nothing is started:
// requests go to that gateway; the run is created in --db on --pg; tokens are signed with
// --auth-keys (the running auth's key file); checkouts go to --provider. Not measured then: CPU
// per service process (only PostgreSQL, Redis and RabbitMQ as
// a whole, and the bench itself), and the counters include whatever else uses that database and
// Redis. The target's rate limits apply (raise RATE_LIMIT_IP: every user is 127.0.0.1).
//
// Modules: tatkal/options.ts (flags), tatkal/opening.ts (the opening, the runs, popularity),
// tatkal/openingReport.ts (its figures), tatkal/rush.ts, tatkal/payment.ts, tatkal/measure.ts (what is
// read around the phases), tatkal/report.ts (JSON and Markdown), tatkal/output.ts (files, SVG).
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createPrisma } from '@tatkal/db';
import type { ReserveSeatsInput } from '@tatkal/client';
import { doubleBookingAudit } from '../packages/testkit/src/trainRun.ts';
import { createBenchDatabase, databaseTransactions, databaseUrl, STATS_SETTLE_MS } from './database.ts';
import { benchClient, outcomeOf } from './load.ts';
import { runReservePgbench, type PgbenchResult } from './pgbench.ts';
import { openFilesLimit } from './processes.ts';
import { connectRedis } from './redis.ts';
import { startStack, type Stack } from './stack.ts';
import {
  assignRuns,
  benchInputs,
  createRuns,
  describeOpening,
  openingEnv,
  planOpening,
  zipfWeights,
} from './tatkal/opening.ts';
import { analyseOpening } from './tatkal/openingReport.ts';
import {
  args,
  BERTHS_PER_COACH,
  RAC_BERTHS,
  COACHES,
  CONCURRENCY,
  DB,
  EARLY,
  LEAD_S,
  OPENING,
  PAY,
  POOL,
  RUNS,
  SETUP_S,
  sleep,
  TARGET,
  USERS,
  ZIPF_S,
} from './tatkal/options.ts';
import { writeOutputs } from './tatkal/output.ts';
import { runPayment } from './tatkal/payment.ts';
import { buildReport } from './tatkal/report.ts';
import { runRush } from './tatkal/rush.ts';
import { benchSigningKey, existingSigningKey, mintTokens } from './tokens.ts';

async function main() {
  const started = new Date();
  console.log(
    `tatkal bench: ${USERS} users, ${CONCURRENCY} in flight, ${RUNS} run(s) of ${COACHES} x ${BERTHS_PER_COACH} ` +
      `berths, ${OPENING ? `a Tatkal opening after ${LEAD_S} s of waiting room` : 'GENERAL, long open'}, ` +
      `${PAY ? 'then payment' : 'no payment'}${TARGET ? `, target ${TARGET}` : ''}`,
  );
  // Each request in flight is a socket here and one in the gateway (plus its pools): EMFILE would
  // be measured as errors.
  if (openFilesLimit() < CONCURRENCY + 512)
    throw new Error(
      `--concurrency ${CONCURRENCY} needs more open files than the limit of ${openFilesLimit()}: ` +
        `raise it (ulimit -n ${CONCURRENCY * 2 + 1024})`,
    );
  if (OPENING && TARGET)
    throw new Error('an opening sets booking’s Tatkal hours, so it needs the bench’s own stack: add --general');
  if (OPENING && !(LEAD_S >= 3 && LEAD_S + SETUP_S <= 590))
    throw new Error(`--lead-s ${LEAD_S}: 3 to ${590 - SETUP_S} (the waiting room opens 10 minutes ahead)`);
  if (!(RUNS >= 1) || !(EARLY >= 0 && EARLY <= 1)) throw new Error('--runs: 1 or more; --early: 0 to 1');
  if (!TARGET && !DB.startsWith('tatkal_bench'))
    throw new Error(
      `--db ${DB}: the self-contained run drops and re-creates its database, so its name must start with tatkal_bench`,
    );
  const dbUrl = TARGET ? databaseUrl(args.pg, DB) : await createBenchDatabase(args.pg, DB);
  const prisma = createPrisma(dbUrl, { max: 4, applicationName: 'bench' });
  // The runs' date from an opening planned now; planned again (the same day) when booking starts.
  const journeyDate = OPENING ? planOpening(LEAD_S + SETUP_S).journeyDate : null;
  const runs = await createRuns(prisma, {
    count: RUNS,
    coaches: COACHES,
    berthsPerCoach: BERTHS_PER_COACH,
    racBerths: RAC_BERTHS,
    journeyDate,
  });
  const weights = zipfWeights(RUNS, ZIPF_S);
  const runOf = assignRuns(USERS, weights);
  const berths = COACHES * BERTHS_PER_COACH;
  const redis = await connectRedis(args.redis);
  const watcher = new pg.Client({ connectionString: dbUrl, application_name: 'bench-watch' });
  await watcher.connect();

  const signing = TARGET
    ? { key: await existingSigningKey(args['auth-keys']), file: args['auth-keys'], remove: () => {} }
    : await benchSigningKey();
  let stack: Stack | null = null;
  let plan: ReturnType<typeof planOpening> | null = null;
  try {
    // "Logged in beforehand": one token per user, plus one for the warm-up.
    const tokens = await mintTokens(signing.key, USERS + 1);
    const warmToken = tokens.pop()!;
    if (OPENING) {
      plan = planOpening(LEAD_S + SETUP_S);
      if (plan.journeyDate !== journeyDate) throw new Error('the opening moved past IST midnight: run it again');
      console.log(`opening: ${describeOpening(plan)}, journey ${plan.journeyDate}`);
    }
    if (!TARGET) {
      stack = await startStack({
        databaseUrl: dbUrl,
        redisUrl: args.redis,
        amqpUrl: args.amqp,
        keysFile: signing.file,
        eventsPrefix: `bench.tatkal.${randomUUID().slice(0, 8)}.`,
        bookingPoolSize: POOL,
        bookingEnv: {
          WAITLIST_LIMIT: args['waitlist-limit'],
          ...(args['queue-wait-ms'] ? { QUEUE_WAIT_MS: args['queue-wait-ms'] } : {}),
          ...(plan ? openingEnv(plan) : {}),
        },
        payment: PAY,
        identityAssertions: !args['no-identity-assertions'],
      });
    }
    const gatewayUrl = TARGET ?? stack!.gatewayUrl!;
    const providerUrl = TARGET ? args.provider : stack!.providerUrl;

    const inputs: ReserveSeatsInput[] = benchInputs(runOf, runs, OPENING);
    // Every request through the typed client (@tatkal/client), by trusted-document hash as a
    // front end sends it in production; it neither retries nor polls by itself here: the bench
    // sends and counts each request (one reserve per attempt, the polls of a QUEUED one, one pay).
    const users = tokens.map((token) => benchClient(gatewayUrl, 'hash', token));
    // Warm-up on another user: JWKS fetches, query plans, connection pools of every hop.
    const warm = benchClient(gatewayUrl, 'hash', warmToken);
    const failed = (name: string) => (err: unknown) => {
      throw new Error(`warm-up ${name} failed: ${outcomeOf(err)}`);
    };
    await warm.myReservations().catch(failed('myReservations'));
    if (PAY) await warm.myPayments().catch(failed('myPayments'));

    // Background transactions (outbox relays polling, anything else on this database) per second.
    await sleep(STATS_SETTLE_MS);
    const idleFrom = await databaseTransactions(args.pg, DB);
    await sleep(3_000);
    const idleTo = await databaseTransactions(args.pg, DB);
    const backgroundXactsPerSecond = +((idleTo - idleFrom) / 3).toFixed(1);

    // ── the rush ──
    const rush = await runRush({
      stack,
      redis,
      watcher,
      runs,
      users,
      inputs,
      idleTo,
      opening: plan?.at ?? null,
      leadMs: LEAD_S * 1000,
      early: Math.round(USERS * EARLY),
    });
    const { rec, held, reserveSeconds } = rush;
    const figures = await analyseOpening(watcher, { runs, weights, runOf, plan, ...rush });

    // ── payment: every HELD reservation pays, then the bench watches booking confirm ──
    const payPhase = await runPayment({
      stack,
      redis,
      watcher,
      rec,
      held,
      users,
      providerUrl,
      xactReserveAfter: rush.xactReserveAfter,
    });

    const audits = [];
    for (const run of runs) audits.push(await doubleBookingAudit(prisma, run.runId));
    const audit = audits.reduce((a, b) => ({
      overlaps: a.overlaps + b.overlaps,
      maskMismatch: a.maskMismatch + b.maskMismatch,
      seatedPassengers: a.seatedPassengers + b.seatedPassengers,
      distinctSeats: a.distinctSeats + b.distinctSeats,
    }));
    const byStatus = await prisma.reservation.groupBy({
      by: ['status'],
      where: { runId: { in: runs.map((r) => r.runId) } },
      _count: true,
    });
    if (stack) {
      await stack.stop();
      stack = null;
    }

    // ── the database's own ceiling: pgbench, same statements, same client count as booking's pool ──
    let pgbench: PgbenchResult | null = null;
    if (!args['no-pgbench']) {
      const seconds = Number(args['pgbench-s'] ?? Math.max(5, Math.ceil(reserveSeconds)));
      console.log(`pgbench: ${POOL} clients for ${seconds} s on a fresh run of ${berths} berths`);
      pgbench = await runReservePgbench({
        prisma,
        databaseUrl: dbUrl,
        coaches: COACHES,
        berthsPerCoach: BERTHS_PER_COACH,
        clients: POOL,
        seconds,
      });
    }

    // ── the report ──
    const { report, md, reserveSamples, confirmed, lastConfirmedMs } = buildReport({
      started,
      berths,
      rush,
      payPhase,
      backgroundXactsPerSecond,
      audit,
      byStatus,
      pgbench,
      plan,
      figures,
    });
    writeOutputs({
      report,
      md,
      rec,
      reserveSamples,
      confirmed,
      lastConfirmedMs,
      depth: rush.depth,
      berths,
      payPhase,
      pgbench,
    });
  } finally {
    if (stack) await stack.stop().catch(() => {});
    signing.remove();
    redis.disconnect();
    await watcher.end().catch(() => {});
    await prisma.$disconnect();
  }
}

main().catch((err: unknown) => {
  console.error(`tatkal bench failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
