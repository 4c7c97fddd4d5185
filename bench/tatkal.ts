// The Tatkal rush: N users who logged in beforehand all reserve on one run at the same instant,
// through the gateway; then every HELD reservation pays (createPayment through the gateway, then
// the provider simulator's checkout, whose signed webhook reaches payment's sidecar; payment's
// event reaches booking over RabbitMQ, and booking confirms). Ends when every paid reservation is
// CONFIRMED in the database, or at a timeout. Then pgbench runs the same row locks and writes in
// plain SQL (bench/sql/reserve.pgbench) on a fresh run, for the database's own ceiling.
//
// Self-contained by default: its own database (tatkal_bench, dropped and re-created), auth,
// booking, payment (+ webhook sidecar), provider simulator and gateway as real processes, its own
// RabbitMQ exchanges and queues (deleted afterwards), secrets generated per run. Loopback only.
//
//   npm run bench:tatkal                                   # 10,000 users, 2,000 in flight, 14 x 72 berths
//   npm run bench:tatkal -- --users 600 --concurrency 200  # a quick check
//   npm run bench:tatkal -- --target http://127.0.0.1:4000/graphql --db tatkal --pool 20
//
// With --target nothing is started: requests go to that gateway; the run is created in --db on
// --pg; tokens are signed with --auth-keys (the running auth's key file); checkouts go to
// --provider. Not measured then: CPU per service process (only PostgreSQL, Redis and RabbitMQ as
// a whole, and the bench itself), and the counters include whatever else uses that database and
// Redis. The target's rate limits apply (raise RATE_LIMIT_IP: every user is 127.0.0.1).
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { Redis } from '@tatkal/common';
import { createPrisma } from '@tatkal/db';
import type { Delivery } from '../subgraphs/payment/src/provider/simulator.ts';
import { createTestRun, doubleBookingAudit } from '../packages/testkit/src/trainRun.ts';
import type { Reservation, ReserveSeatsInput } from '@tatkal/client';
import { benchClient, outcomeOf, Recorder, reserveInput, runPool } from './load.ts';
import { runReservePgbench, type PgbenchResult } from './pgbench.ts';
import { SERVICE_NODE_OPTIONS } from '../scripts/nodeOptions.ts';
import { createBenchDatabase, databaseTransactions, databaseUrl, STATS_SETTLE_MS } from './database.ts';
import { commandCpuSeconds, cpuDelta, openFilesLimit, processCpu } from './processes.ts';
import { connectRedis, otherActiveRedisClients, redisCounters, redisDelta, type RedisCounters } from './redis.ts';
import { SERVICE_ARGS, startStack, type Stack } from './stack.ts';
import { benchSigningKey, existingSigningKey, mintTokens } from './tokens.ts';
import {
  formatCounts,
  latencyPoints,
  latencySummary,
  mdTable,
  outcomeCounts,
  ratePerSecond,
  svgTimeline,
  throughputPoints,
  timeBuckets,
} from './report.ts';

const root = join(import.meta.dirname, '..');
const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '2000' },
    coaches: { type: 'string', default: '14' },
    'berths-per-coach': { type: 'string', default: '72' },
    /** No new user starts reserving after this. */
    'duration-s': { type: 'string', default: '300' },
    'confirm-timeout-s': { type: 'string', default: '300' },
    /** booking's DB_POOL_SIZE, and pgbench's client count. */
    pool: { type: 'string', default: '40' },
    'no-pay': { type: 'boolean', default: false },
    'no-pgbench': { type: 'boolean', default: false },
    /** Subgraphs verify every bearer token themselves instead of the gateway's signed identity. */
    'no-identity-assertions': { type: 'boolean', default: false },
    /** pgbench's duration; default: as long as the rush took (at least 5 s). */
    'pgbench-s': { type: 'string' },
    /**
     * booking's WAITLIST_LIMIT; default: no cap, so the workload matches pgbench's script (every
     * allow-waitlist attempt waitlists).
     */
    'waitlist-limit': { type: 'string', default: '1000000' },
    /** booking's QUEUE_WAIT_MS: how long a request waits for its outcome before it is answered QUEUED. */
    'queue-wait-ms': { type: 'string' },
    target: { type: 'string' },
    provider: { type: 'string', default: 'http://127.0.0.1:4006' },
    'auth-keys': { type: 'string', default: join(root, '.keys/auth-signing-keys.json') },
    ...SERVICE_ARGS,
    db: { type: 'string' },
  },
});
const USERS = Number(args.users);
const CONCURRENCY = Number(args.concurrency);
const COACHES = Number(args.coaches);
const BERTHS_PER_COACH = Number(args['berths-per-coach']);
const POOL = Number(args.pool);
const PAY = !args['no-pay'];
const TARGET = args.target ?? null;
const DB = args.db ?? (TARGET ? 'tatkal' : 'tatkal_bench');
const SYSTEM_PROCESSES = ['postgres', 'redis-server', 'beam.smp'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Meter {
  cpu: Record<string, number>;
  redis: RedisCounters;
  at: number;
}

async function meter(stack: Stack | null, redis: Redis): Promise<Meter> {
  const own = process.cpuUsage();
  return {
    cpu: {
      ...(stack ? processCpu(stack.processes) : {}),
      ...commandCpuSeconds(SYSTEM_PROCESSES),
      'bench client': (own.user + own.system) / 1e6,
    },
    redis: await redisCounters(redis),
    at: performance.now(),
  };
}

interface Held {
  user: number;
  id: string;
  passengers: number;
  /** Epoch ms the traveller pressed "Pay" at the provider's checkout. */
  paidAt?: number;
  confirmedAt?: number;
}

async function main() {
  const started = new Date();
  console.log(
    `tatkal bench: ${USERS} users, ${CONCURRENCY} in flight, ${COACHES} x ${BERTHS_PER_COACH} berths, ` +
      `${PAY ? 'then payment' : 'no payment'}${TARGET ? `, target ${TARGET}` : ''}`,
  );
  // Each request in flight is a socket here and one in the gateway (plus its pools): EMFILE would
  // be measured as errors.
  if (openFilesLimit() < CONCURRENCY + 512)
    throw new Error(
      `--concurrency ${CONCURRENCY} needs more open files than the limit of ${openFilesLimit()}: ` +
        `raise it (ulimit -n ${CONCURRENCY * 2 + 1024})`,
    );
  if (!TARGET && !DB.startsWith('tatkal_bench'))
    throw new Error(
      `--db ${DB}: the self-contained run drops and re-creates its database, so its name must start with tatkal_bench`,
    );
  const dbUrl = TARGET ? databaseUrl(args.pg, DB) : await createBenchDatabase(args.pg, DB);
  const prisma = createPrisma(dbUrl, { max: 4, applicationName: 'bench' });
  const run = await createTestRun(prisma, { coaches: COACHES, berthsPerCoach: BERTHS_PER_COACH, daysAhead: 1 });
  const berths = COACHES * BERTHS_PER_COACH;
  const redis = await connectRedis(args.redis);
  const watcher = new pg.Client({ connectionString: dbUrl, application_name: 'bench-watch' });
  await watcher.connect();

  const signing = TARGET
    ? { key: await existingSigningKey(args['auth-keys']), file: args['auth-keys'], remove: () => {} }
    : await benchSigningKey();
  let stack: Stack | null = null;
  try {
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
        },
        payment: PAY,
        identityAssertions: !args['no-identity-assertions'],
      });
    }
    const gatewayUrl = TARGET ?? stack!.gatewayUrl!;
    const providerUrl = TARGET ? args.provider : stack!.providerUrl;

    // "Logged in beforehand": one token per user, plus one for the warm-up.
    const tokens = await mintTokens(signing.key, USERS + 1);
    const warmToken = tokens.pop()!;
    const inputs: ReserveSeatsInput[] = Array.from({ length: USERS }, (_, i) => reserveInput(i, run));
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
    const held: Held[] = [];
    const reserveBefore = await meter(stack, redis);
    const rec = new Recorder();
    const xactReserveBefore = idleTo;
    // Queue depth (QUEUED reservations of the run) every 250 ms while the rush and its polls last.
    const depth: [number, number][] = [];
    let sampling = true;
    const depthSampler = (async () => {
      while (sampling) {
        const { rows } = await watcher.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM booking.reservations WHERE run_id = $1 AND status = 'QUEUED'`,
          [run.runId],
        );
        depth.push([rec.now() / 1000, rows[0]!.n]);
        await sleep(250);
      }
    })();
    // A user's slot frees at the first answer (outcome or QUEUED); a QUEUED one is followed
    // meanwhile, as a front end would poll, until its final outcome ('final' samples).
    const follows: Promise<void>[] = [];
    const seated = (i: number, r: Reservation) => {
      if (r.status === 'HELD') held.push({ user: i, id: r.id, passengers: r.passengers.length });
    };
    const attempts = await runPool(USERS, CONCURRENCY, Date.now() + Number(args['duration-s']) * 1000, async (i) => {
      const start = rec.now();
      const first = await rec.time('reserve', async () => {
        let r: Reservation;
        try {
          r = await users[i]!.reserve(inputs[i]!, { wait: false, retry: false });
        } catch (err) {
          return outcomeOf(err);
        }
        if (r.status === 'QUEUED') {
          // Polled as a front end does (the client's waitForOutcome: half the estimated wait, 250 ms to 2 s).
          follows.push(
            users[i]!.waitForOutcome(r, { timeoutMs: Number(args['confirm-timeout-s']) * 1000, retry: false }).then(
              (last) => {
                rec.samples.push({
                  op: 'final',
                  start,
                  ms: rec.now() - start,
                  outcome: last.status === 'REFUSED' ? (last.refusalCode ?? 'REFUSED') : last.status,
                });
                seated(i, last);
              },
              (err: unknown) => {
                rec.samples.push({ op: 'final', start, ms: rec.now() - start, outcome: outcomeOf(err) });
              },
            ),
          );
        } else seated(i, r);
        return r.status;
      });
      if (first !== 'QUEUED') rec.samples.push({ op: 'final', start, ms: rec.now() - start, outcome: first });
    });
    const firstAnswersSeconds = rec.now() / 1000;
    await Promise.all(follows);
    sampling = false;
    await depthSampler;
    const reserveSeconds = rec.now() / 1000;
    const inversions = await fifoInversions(watcher, run.runId);
    const batches = stack ? await allocationBatches(stack) : null;
    const reserveAfter = await meter(stack, redis);
    // Redis is server-wide: clients of other programs that were busy meanwhile are counted too.
    const ourPids = () => [process.pid, ...(stack?.processes.map((p) => p.pid) ?? [])];
    const reserveOthers = await otherActiveRedisClients(redis, ourPids(), reserveSeconds);
    await sleep(STATS_SETTLE_MS);
    const xactReserveAfter = await databaseTransactions(args.pg, DB);
    const xactWindowReserve = (performance.now() - reserveBefore.at) / 1000;
    console.log(
      `rush: ${attempts} attempts answered in ${firstAnswersSeconds.toFixed(1)} s ` +
        `(${rec.of('reserve').filter((s) => s.outcome === 'QUEUED').length} QUEUED), ` +
        `all final in ${reserveSeconds.toFixed(1)} s, ${held.length} held, ${inversions} FIFO inversions`,
    );

    // ── payment: every HELD reservation pays, then the bench watches booking confirm ──
    let payPhase: {
      startMs: number;
      endMs: number;
      before: Meter;
      after: Meter;
      xacts: number;
      windowS: number;
      polls: number;
      others: number;
      webhooks: Delivery[];
    } | null = null;
    if (PAY && held.length > 0) {
      const startMs = rec.now();
      const before = await meter(stack, redis);
      await runPool(held.length, CONCURRENCY, Number.POSITIVE_INFINITY, async (j) => {
        const h = held[j]!;
        let ref: string | null = null;
        await rec.time('pay', async () => {
          try {
            const payment = await users[h.user]!.pay(h.id, { idempotencyKey: randomUUID(), retry: false });
            ref = payment.providerRef;
            return payment.status;
          } catch (err) {
            return outcomeOf(err);
          }
        });
        if (!ref) return;
        const paidAt = Date.now();
        const outcome = await rec.time('checkout', async () => {
          try {
            const res = await fetch(`${providerUrl}/payments/${encodeURIComponent(ref!)}/succeed`, {
              method: 'POST',
              headers: { accept: 'application/json' },
            });
            await res.arrayBuffer();
            return res.ok ? 'SUCCEEDED' : `HTTP_${res.status}`;
          } catch (err) {
            return `NETWORK_${(err as Error).name}`;
          }
        });
        if (outcome === 'SUCCEEDED') h.paidAt = paidAt;
      });
      // Booking confirms asynchronously (webhook -> payment outbox -> RabbitMQ -> booking): poll the database.
      const waiting = new Map(held.filter((h) => h.paidAt).map((h) => [h.id, h]));
      const deadline = Date.now() + Number(args['confirm-timeout-s']) * 1000;
      let polls = 0;
      while (waiting.size > 0 && Date.now() < deadline) {
        const rows = await watcher.query<{ id: string; at: number }>(
          `SELECT id, (extract(epoch FROM confirmed_at) * 1000)::float8 AS at
             FROM booking.reservations
            WHERE id = ANY($1::uuid[]) AND status = 'CONFIRMED'`,
          [[...waiting.keys()]],
        );
        polls++;
        for (const row of rows.rows) {
          waiting.get(row.id)!.confirmedAt = row.at;
          waiting.delete(row.id);
        }
        if (waiting.size > 0) await sleep(200);
      }
      const endMs = rec.now();
      const after = await meter(stack, redis);
      const others = await otherActiveRedisClients(redis, ourPids(), (endMs - startMs) / 1000);
      await sleep(STATS_SETTLE_MS);
      const xacts = (await databaseTransactions(args.pg, DB)) - xactReserveAfter;
      // The provider's own record of its webhook deliveries: how fast payment's sidecar answered.
      const webhooks = await fetch(`${providerUrl}/deliveries`)
        .then(async (r) => (r.ok ? ((await r.json()) as Delivery[]) : []))
        .catch(() => [] as Delivery[]);
      payPhase = {
        startMs,
        endMs,
        before,
        after,
        xacts,
        windowS: (performance.now() - before.at) / 1000,
        polls,
        others,
        webhooks,
      };
      console.log(
        `payment: ${held.filter((h) => h.paidAt).length} paid, ` +
          `${held.filter((h) => h.confirmedAt).length} confirmed, ${waiting.size} not confirmed in time`,
      );
    }

    const audit = await doubleBookingAudit(prisma, run.runId);
    const byStatus = await prisma.reservation.groupBy({ by: ['status'], where: { runId: run.runId }, _count: true });
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
    const reserveSamples = rec.of('reserve');
    const holds = held.length;
    // holds/s over the whole rush, to the last final outcome.
    const paid = held.filter((h) => h.paidAt);
    const confirmed = held.filter((h) => h.confirmedAt !== undefined);
    const lastConfirmedMs = Math.max(0, ...confirmed.map((h) => h.confirmedAt! - rec.epoch0));
    const reserveNet = xactReserveAfter - xactReserveBefore - backgroundXactsPerSecond * xactWindowReserve;
    const report = {
      startedAt: started.toISOString(),
      mode: TARGET ? `target ${TARGET}` : 'self-contained',
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
        attempts,
        // First answers (an outcome, or QUEUED with a PNR) per second: what the issue measures.
        firstAnswersSeconds: +firstAnswersSeconds.toFixed(2),
        seconds: +reserveSeconds.toFixed(2),
        responsesPerSecond: +(attempts / firstAnswersSeconds).toFixed(1),
        finalLatencyMs: latencySummary(rec.of('final').map((s) => s.ms)),
        lastFinalOutcomeS: +(Math.max(0, ...rec.of('final').map((s) => s.start + s.ms)) / 1000).toFixed(2),
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
            Math.max(1, paid.length)
          ).toFixed(2),
        },
      },
      redis: {
        reserve: {
          ...redisDelta(reserveAfter.redis, reserveBefore.redis, attempts),
          otherActiveClients: reserveOthers,
        },
        payment: payPhase && {
          ...redisDelta(payPhase.after.redis, payPhase.before.redis, Math.max(1, paid.length)),
          otherActiveClients: payPhase.others,
        },
      },
      cpuSeconds: {
        reserve: cpuDelta(reserveAfter.cpu, reserveBefore.cpu),
        payment: payPhase && cpuDelta(payPhase.after.cpu, payPhase.before.cpu),
      },
      audit: {
        ...audit,
        doubleBooked: audit.overlaps > 0 || audit.maskMismatch > 0 || audit.distinctSeats !== audit.seatedPassengers,
      },
      runStatus: Object.fromEntries(byStatus.map((r) => [r.status, r._count])),
      pgbench: pgbench && {
        ...pgbench,
        systemAttemptsPerSecondRatio: +(attempts / reserveSeconds / pgbench.tps).toFixed(3),
      },
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
    const otherClients = Math.max(
      report.redis.reserve.otherActiveClients,
      report.redis.payment?.otherActiveClients ?? 0,
    );
    const sharedNote = TARGET
      ? 'the target system’s Redis: server-wide counters include every client of it'
      : report.redis.reserve.otherActiveClients || report.redis.payment?.otherActiveClients
        ? `SHARED: ${otherClients} client(s) of other programs ran commands meanwhile; the counts include their work`
        : 'server-wide counters; no other program’s client still connected at the end of a phase ' +
          'ran a command during it';
    const services = TARGET
      ? ''
      : `, subgraphs ${report.identityAssertions ? "check the gateway's signed identity" : 'verify every token'}` +
        `, services run with NODE_OPTIONS=${report.serviceNodeOptions}`;
    const lines = [
      `# Tatkal bench ${report.startedAt}`,
      '',
      `${USERS} users (${CONCURRENCY} in flight) reserve on one run of ${berths} berths ` +
        `(${COACHES} x ${BERTHS_PER_COACH}) through the gateway${PAY ? ', then every HELD reservation pays' : ''}. ` +
        `${report.mode}${services}; ${report.machine.cores} cores, ` +
        `load average at start ${report.machine.loadAverageAtStart.join(' ')}.`,
      '',
      ...mdTable(
        ['metric', 'value'],
        [
          [
            'reserve attempts',
            `${attempts} first answers in ${report.reserve.firstAnswersSeconds} s: ` +
              `${report.reserve.responsesPerSecond} responses/s (${report.reserve.queued} of them QUEUED)`,
          ],
          [
            'holds/s',
            `${report.reserve.holdsPerSecond} (${holds} holds, ${report.reserve.heldPassengers} passengers seated)`,
          ],
          ['first answer p50 / p95 / p99 / max', lat(report.reserve.latencyMs)],
          ['first answers', formatCounts(report.reserve.outcomes)],
          ['final outcome p50 / p95 / p99 / max (from the request)', lat(report.reserve.finalLatencyMs)],
          ['last final outcome', `${report.reserve.lastFinalOutcomeS} s after the rush started`],
          ['final outcomes', formatCounts(report.reserve.finalOutcomes)],
          [
            'FIFO inversions',
            `${inversions} (an earlier request waitlisted or refused while a later one of the same class, ` +
              'journey and at least its group size holds berths)',
          ],
          [
            'allocation batches',
            batches
              ? `${batches.count} batches, mean ${batches.mean} requests (${formatCounts(batches.buckets)})`
              : '-',
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
                  'DB transactions per payment (pay + webhook + event + confirm)',
                  `${report.database.payment.netPerPayment} ` +
                    `(without background and the bench's ${report.database.payment.benchPolls} polls)`,
                ],
              ]
            : []),
          [
            'Redis commands per reserve attempt',
            `${report.redis.reserve.perUnit} (${formatCounts(report.redis.reserve.byCommandPerUnit)})`,
          ],
          ...(report.redis.payment
            ? [
                [
                  'Redis commands per payment',
                  `${report.redis.payment.perUnit} (${formatCounts(report.redis.payment.byCommandPerUnit)})`,
                ],
              ]
            : []),
          ['Redis', sharedNote],
          ['CPU seconds, rush', cpuLine(report.cpuSeconds.reserve)],
          ...(report.cpuSeconds.payment ? [['CPU seconds, payment', cpuLine(report.cpuSeconds.payment)]] : []),
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
      'postgres, redis-server and beam.smp CPU is every process of that name on this machine, whoever it serves.',
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
              `${report.reserve.responsesPerSecond} = ${(p.systemAttemptsPerSecondRatio * 100).toFixed(1)}% of pgbench`,
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
  } finally {
    if (stack) await stack.stop().catch(() => {});
    signing.remove();
    redis.disconnect();
    await watcher.end().catch(() => {});
    await prisma.$disconnect();
  }
}

/**
 * Requests of the run decided against arrival order: an earlier ticket WAITLISTED or REFUSED
 * while a later ticket of the same class, whose journey covers the earlier one's and whose group
 * is at least as large, holds berths (the earlier one would have fitted in them).
 */
async function fifoInversions(db: pg.Client, runId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `WITH r AS (
       SELECT r.queue_ticket AS t, r.class, r.from_seq, r.to_seq, r.status,
              (SELECT count(*) FROM booking.passengers p WHERE p.reservation_id = r.id) AS n
       FROM booking.reservations r WHERE r.run_id = $1 AND r.queue_ticket IS NOT NULL)
     SELECT count(*)::int AS n FROM r a JOIN r b
       ON b.t > a.t AND b.class = a.class AND b.from_seq <= a.from_seq AND b.to_seq >= a.to_seq AND b.n >= a.n
     WHERE a.status IN ('WAITLISTED', 'REFUSED') AND b.status IN ('HELD', 'CONFIRMED', 'EXPIRED', 'CANCELLED')`,
    [runId],
  );
  return rows[0]!.n;
}

/** booking's allocation batch sizes, from its /metrics histogram. */
async function allocationBatches(
  stack: Stack,
): Promise<{ count: number; mean: number; buckets: Record<string, number> } | null> {
  const booking = stack.processes.find((p) => p.name === 'booking');
  if (!booking) return null;
  const text = await fetch(`${booking.url}/metrics`)
    .then((r) => r.text())
    .catch(() => '');
  const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  // Series carry a service label besides le.
  const count = value(/^tatkal_allocation_batch_size_count(?:\{[^}]*\})? (\S+)/m);
  const sum = value(/^tatkal_allocation_batch_size_sum(?:\{[^}]*\})? (\S+)/m);
  const cumulative = [...text.matchAll(/^tatkal_allocation_batch_size_bucket\{[^}]*le="([^"]+)"[^}]*\} (\S+)/gm)].map(
    (m) => [m[1]!, Number(m[2])] as const,
  );
  const buckets: Record<string, number> = {};
  cumulative.forEach(([le, n], i) => {
    const below = i === 0 ? 0 : cumulative[i - 1]![1];
    if (n - below > 0) buckets[`<=${le}`] = n - below;
  });
  return { count, mean: count ? +(sum / count).toFixed(1) : 0, buckets };
}

main().catch((err: unknown) => {
  console.error(`tatkal bench failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
