// The Tatkal rush: N virtual users reserve on one run through the gateway at the same instant.
// Self-contained: creates its own database (tatkal_bench), starts the real auth, booking and
// gateway processes, mints the users' tokens beforehand (as if they had logged in), fires, then
// audits the inventory for double booking. Loopback only; bounded in count and time.
//
//   npm run bench:tatkal -- --users 5000 --concurrency 1000 --coaches 14
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { createPrisma } from '@tatkal/db';
import { generateSigningJwk, importSigningKeys } from '../subgraphs/auth/src/domain/keys.ts';
import { createTestRun, doubleBookingAudit } from '../subgraphs/booking/test/fixtures.ts';
import { adminQuery, cpuSeconds, percentile, startProcess, type RunningProcess } from './processes.ts';

const root = join(import.meta.dirname, '..');
const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '1000' },
    coaches: { type: 'string', default: '14' },
    'berths-per-coach': { type: 'string', default: '72' },
    'timeout-s': { type: 'string', default: '300' },
    pg: { type: 'string', default: process.env.BENCH_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres' },
    redis: { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    amqp: { type: 'string', default: process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672' },
  },
});
const USERS = Number(args.users);
const CONCURRENCY = Number(args.concurrency);
const DB = 'tatkal_bench';

const admin = (sql: string) => adminQuery(args.pg, sql);

async function xacts(): Promise<number> {
  const r = await admin(`SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = '${DB}'`);
  return Number(r.rows[0].n);
}

async function main() {
  const started = new Date();
  console.log(`tatkal bench: ${USERS} users, ${CONCURRENCY} in flight, ${args.coaches} x ${args['berths-per-coach']} berths`);
  await admin(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  await admin(`CREATE DATABASE ${DB}`);
  const dbUrl = new URL(args.pg);
  dbUrl.pathname = `/${DB}`;
  const migrate = spawnSync(process.execPath, [join(root, 'scripts/prisma.mjs'), 'migrate-deploy'], { cwd: root, env: { ...process.env, DATABASE_URL: dbUrl.toString() }, encoding: 'utf8' });
  if (migrate.status !== 0) throw new Error(`migrate failed: ${migrate.stderr}`);
  const prisma = createPrisma(dbUrl.toString(), { applicationName: 'bench' });
  const run = await createTestRun(prisma, { coaches: Number(args.coaches), berthsPerCoach: Number(args['berths-per-coach']), daysAhead: 1 });
  const berths = Number(args.coaches) * Number(args['berths-per-coach']);

  const keysDir = mkdtempSync(join(tmpdir(), 'tatkal-bench-'));
  const jwk = await generateSigningJwk();
  writeFileSync(join(keysDir, 'keys.json'), JSON.stringify({ keys: [jwk] }));
  const [key] = await importSigningKeys([jwk]);
  const common = { DATABASE_URL: dbUrl.toString(), REDIS_URL: args.redis, AMQP_URL: args.amqp, NODE_ENV: 'production', LOG_LEVEL: 'warn' };
  const processes: RunningProcess[] = [];
  try {
    const auth = await startProcess('auth', 'subgraphs/auth/src/index.ts', { ...common, RATE_LIMIT_PREFIX: `rl:bench:${randomUUID()}:`, AUTH_SIGNING_KEYS_FILE: join(keysDir, 'keys.json'), AUTH_GENERATE_KEYS: 'false' });
    processes.push(auth);
    const jwks = { AUTH_JWKS_URL: `${auth.url}/.well-known/jwks.json` };
    const booking = await startProcess('booking', 'subgraphs/booking/src/index.ts', { ...common, ...jwks, DB_POOL_SIZE: '40', SWEEP_INTERVAL_MS: '0', EVENTS_PREFIX: 'bench.' }, {
      // BENCH_PROFILE_DIR=/tmp/prof writes a V8 CPU profile of the booking process there.
      nodeArgs: process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [],
    });
    processes.push(booking);
    const gateway = await startProcess('gateway', 'gateway/src/index.ts', {
      ...common,
      ...jwks,
      SUPERGRAPH_PATH: join(root, 'supergraph.graphql'),
      // Every virtual user comes from 127.0.0.1: the per-IP limit would measure itself.
      RATE_LIMIT_IP: '100000000/1m',
      RATE_LIMIT_PREFIX: `rl:bench:${randomUUID()}:`,
      AUTH_URL: `${auth.url}/graphql`,
      BOOKING_URL: `${booking.url}/graphql`,
    });
    processes.push(gateway);

    // "Log in beforehand": tokens signed with the auth service's key, as login would issue them.
    const tokens = await Promise.all(
      Array.from({ length: USERS }, () =>
        new SignJWT({ role: 'CUSTOMER' })
          .setProtectedHeader({ alg: 'EdDSA', kid: key!.kid })
          .setIssuer('tatkal-auth')
          .setAudience('tatkal-api')
          .setSubject(randomUUID())
          .setIssuedAt()
          .setExpirationTime('1h')
          .setJti(randomUUID())
          .sign(key!.privateKey),
      ),
    );
    const query = `mutation($input: ReserveSeatsInput!, $key: String!) { reserveSeats(input: $input, idempotencyKey: $key) { pnr status passengers { coach berth } } }`;
    const prefs = ['LB', 'MB', 'UB', 'SL', 'SU', null];
    const requestFor = (i: number) => {
      const size = [1, 1, 1, 2, 2, 3, 4][i % 7]!;
      return {
        query,
        variables: {
          key: randomUUID(),
          input: {
            runId: run.runId,
            from: run.stations[0],
            to: run.stations[3],
            class: 'SLEEPER',
            allowWaitlist: i % 3 !== 0,
            passengers: Array.from({ length: size }, (_, p) => ({ name: `Traveller ${String.fromCharCode(65 + (p % 26))}`, age: 20 + ((i + p) % 50), gender: p % 2 ? 'FEMALE' : 'MALE', berthPreference: prefs[(i + p) % prefs.length] })),
          },
        },
      };
    };
    const bodies = Array.from({ length: USERS }, (_, i) => JSON.stringify(requestFor(i)));
    const gatewayUrl = `${gateway.url}/graphql`;

    // One warm-up request (query plan cache, JWKS fetch), on a separate user.
    await fetch(gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) });

    const cpuBefore = Object.fromEntries(processes.map((p) => [p.name, cpuSeconds(p.pid)]));
    const xactBefore = await xacts();
    const latencies: number[] = [];
    const outcomes = new Map<string, number>();
    const timeline: { t: number; ok: boolean; ms: number }[] = [];
    let next = 0;
    let heldPassengers = 0;
    const deadline = Date.now() + Number(args['timeout-s']) * 1000;
    const t0 = performance.now();
    const worker = async () => {
      while (next < USERS && Date.now() < deadline) {
        const i = next++;
        const start = performance.now();
        let outcome: string;
        try {
          const res = await fetch(gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[i]}` }, body: bodies[i] });
          const json = (await res.json()) as { data?: { reserveSeats?: { status: string; passengers: unknown[] } }; errors?: { extensions?: { code?: string } }[] };
          const r = json.data?.reserveSeats;
          outcome = r ? r.status : (json.errors?.[0]?.extensions?.code ?? `HTTP_${res.status}`);
          if (r?.status === 'HELD') heldPassengers += r.passengers.length;
        } catch (err) {
          outcome = `NETWORK_${(err as Error).name}`;
        }
        const ms = performance.now() - start;
        latencies.push(ms);
        timeline.push({ t: performance.now() - t0, ok: outcome === 'HELD', ms });
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, USERS) }, worker));
    const elapsed = (performance.now() - t0) / 1000;
    const xactAfter = await xacts();
    const cpu = Object.fromEntries(processes.map((p) => [p.name, +(cpuSeconds(p.pid) - cpuBefore[p.name]!).toFixed(1)]));
    const audit = await doubleBookingAudit(prisma, run.runId);
    const sorted = [...latencies].sort((a, b) => a - b);
    const held = outcomes.get('HELD') ?? 0;
    const report = {
      startedAt: started.toISOString(),
      machine: { cores: (await import('node:os')).cpus().length },
      users: USERS,
      concurrency: CONCURRENCY,
      berths,
      requests: latencies.length,
      seconds: +elapsed.toFixed(2),
      requestsPerSecond: +(latencies.length / elapsed).toFixed(1),
      confirmedHoldsPerSecond: +(held / elapsed).toFixed(1),
      heldPassengers,
      latencyMs: { p50: +percentile(sorted, 50).toFixed(1), p95: +percentile(sorted, 95).toFixed(1), p99: +percentile(sorted, 99).toFixed(1), max: +(sorted.at(-1) ?? 0).toFixed(1) },
      outcomes: Object.fromEntries([...outcomes].sort((a, b) => b[1] - a[1])),
      dbTransactionsPerRequest: +((xactAfter - xactBefore) / latencies.length).toFixed(2),
      cpuSeconds: cpu,
      audit: { ...audit, doubleBooked: audit.overlaps > 0 || audit.maskMismatch > 0 || audit.distinctSeats !== audit.seatedPassengers },
    };
    const lines = [
      `# Tatkal bench ${report.startedAt}`,
      '',
      `${report.users} users, ${report.concurrency} in flight, one run with ${berths} berths, through the gateway, ${report.machine.cores} cores`,
      '',
      `| metric | value |`,
      `|---|---|`,
      `| wall time | ${report.seconds} s |`,
      `| requests/s | ${report.requestsPerSecond} |`,
      `| confirmed holds/s | ${report.confirmedHoldsPerSecond} (${held} holds, ${heldPassengers} passengers seated) |`,
      `| latency p50 / p95 / p99 / max | ${report.latencyMs.p50} / ${report.latencyMs.p95} / ${report.latencyMs.p99} / ${report.latencyMs.max} ms |`,
      `| outcomes | ${Object.entries(report.outcomes).map(([k, v]) => `${k} ${v}`).join(', ')} |`,
      `| DB transactions per request | ${report.dbTransactionsPerRequest} |`,
      `| CPU seconds by process | ${Object.entries(cpu).map(([k, v]) => `${k} ${v}`).join(', ')} |`,
      `| double-booking audit | overlaps ${audit.overlaps}, mask mismatches ${audit.maskMismatch}, seated ${audit.seatedPassengers} on ${audit.distinctSeats} distinct berths: ${report.audit.doubleBooked ? 'DOUBLE BOOKED' : 'no double booking'} |`,
    ];
    console.log(lines.join('\n'));
    mkdirSync(join(root, 'bench/results'), { recursive: true });
    const stamp = report.startedAt.replace(/[:.]/g, '-');
    writeFileSync(join(root, `bench/results/tatkal-${stamp}.json`), JSON.stringify({ ...report, timeline }, null, 2));
    writeFileSync(join(root, `bench/results/tatkal-${stamp}.md`), `${lines.join('\n')}\n`);
    await prisma.$disconnect();
    if (report.audit.doubleBooked) process.exitCode = 2;
  } finally {
    for (const p of processes.reverse()) await p.stop();
    rmSync(keysDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`tatkal bench failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
