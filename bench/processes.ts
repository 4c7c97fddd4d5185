// Starts the project's real processes (tsx <entry>, or any command) on free ports and waits until
// they are ready. Used by the benchmarks and by tests that need separate processes (e.g. two
// booking instances); also the measuring helpers the benchmarks share: CPU from /proc, the bench
// database, signing keys and tokens, and the whole stack of services a benchmark runs against.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { SignJWT } from 'jose';
import pg from 'pg';
import { createRedis, deleteEventTopology, type Redis } from '@tatkal/common';
import {
  generateSigningJwk,
  importSigningKeys,
  loadSigningKeys,
  type SigningKey,
} from '../subgraphs/auth/src/domain/keys.ts';
import { SERVICE_NODE_OPTIONS } from '../scripts/nodeOptions.ts';

const root = join(import.meta.dirname, '..');

/** The services every benchmark talks to, as `parseArgs` options (env or local defaults). */
export const SERVICE_ARGS = {
  pg: { type: 'string', default: process.env.BENCH_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres' },
  redis: { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
  amqp: { type: 'string', default: process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672' },
} as const;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });
}

export interface RunningProcess {
  name: string;
  url: string;
  pid: number;
  child: ChildProcess;
  stop: () => Promise<void>;
}

export interface StartOptions {
  port?: number;
  timeoutMs?: number;
  nodeArgs?: string[];
  /** Another program instead of `tsx <entry>` (entry is then only a label), e.g. Hive Gateway's CLI. */
  command?: string;
  args?: string[];
  /** The variable that carries the port (default PORT; the provider simulator reads PROVIDER_PORT). */
  portEnv?: string;
  /** Answers 200 once the process is ready (default /ready). */
  readyPath?: string;
  /** Each line the process writes to stdout (its pino log lines); default: stdout is discarded. */
  onStdoutLine?: (line: string) => void;
}

/** Spawns `tsx <entry>` (or opts.command) with env (port chosen here) and resolves once GET readyPath answers 200. */
export async function startProcess(
  name: string,
  entry: string,
  env: Record<string, string>,
  opts: StartOptions = {},
): Promise<RunningProcess> {
  const port = opts.port ?? (await freePort());
  const command = opts.command ?? join(root, 'node_modules/.bin/tsx');
  const child = spawn(command, opts.command ? (opts.args ?? []) : [...(opts.nodeArgs ?? []), entry], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'test',
      // The services' own V8 flags (scripts/nodeOptions.ts), or BENCH_NODE_OPTIONS instead to try others.
      NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS ?? SERVICE_NODE_OPTIONS,
      ...env,
      [opts.portEnv ?? 'PORT']: String(port),
    },
    stdio: ['ignore', opts.onStdoutLine ? 'pipe' : 'ignore', 'pipe'],
  });
  if (opts.onStdoutLine) {
    let partial = '';
    child.stdout!.on('data', (d: Buffer) => {
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) if (line) opts.onStdoutLine!(line);
    });
  }
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}): ${stderr.trim()}`);
    try {
      if ((await fetch(`${url}${opts.readyPath ?? '/ready'}`)).ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} not ready at ${url} in time: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  // A service that dies mid-run says why: its errors would otherwise only show as failed requests.
  child.once('exit', (code, signal) => {
    if (!stopping) console.error(`${name} exited during the run (${signal ?? code}): ${stderr.trim()}`);
  });
  let stopping = false;
  return {
    name,
    url,
    pid: child.pid!,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        stopping = true;
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      }),
  };
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** /proc/<pid>/stat: command name and CPU ticks (own user+system, and of reaped children). */
function procStat(pid: number): { comm: string; own: number; reaped: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14-17 of proc(5): utime, stime, cutime, cstime, in clock ticks (100 per second).
    return {
      comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
      own: Number(fields[11]) + Number(fields[12]),
      reaped: Number(fields[13]) + Number(fields[14]),
    };
  } catch {
    return null; // exited
  }
}

/** CPU seconds (user + system) used so far by a process and its descendants (tsx runs node as a child), from /proc. */
export function cpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of [pid, ...childrenOf(pid).flatMap((c) => [c, ...childrenOf(c)])]) ticks += procStat(p)?.own ?? 0;
  return ticks / 100;
}

/**
 * CPU seconds used so far by every process with one of these command names (postgres,
 * redis-server, beam.smp), whoever started them. A PostgreSQL backend that exits moves its time
 * into the postmaster's reaped-children counter, so the sum keeps growing across connections.
 */
export function commandCpuSeconds(commands: string[]): Record<string, number> {
  const totals: Record<string, number> = Object.fromEntries(commands.map((c) => [c, 0]));
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat && stat.comm in totals) totals[stat.comm]! += (stat.own + stat.reaped) / 100;
  }
  return totals;
}

/** The soft limit on open files of this process (its children inherit it), from /proc/self/limits. */
export function openFilesLimit(): number {
  try {
    return Number(/^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? Infinity);
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/**
 * The p-th percentile of an ascending list, nearest rank: the smallest value with at least p% of
 * the list at or below it.
 */
export const percentile = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]! : 0;

/** Runs one statement on the server's admin database (create/drop the bench database, stats). */
export async function adminQuery(pgUrl: string, sql: string) {
  const c = new pg.Client({ connectionString: pgUrl });
  await c.connect();
  try {
    return await c.query(sql);
  } finally {
    await c.end();
  }
}

/** Drops and re-creates `name`, applies the migrations, optionally seeds; returns its URL. */
export async function createBenchDatabase(
  pgUrl: string,
  name: string,
  opts: { seedRunDays?: number } = {},
): Promise<string> {
  await adminQuery(pgUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await adminQuery(pgUrl, `CREATE DATABASE "${name}"`);
  const url = databaseUrl(pgUrl, name);
  const env = { ...process.env, DATABASE_URL: url };
  const migrate = spawnSync(process.execPath, [join(root, 'scripts/prisma.mjs'), 'migrate-deploy'], {
    cwd: root,
    env,
    encoding: 'utf8',
  });
  if (migrate.status !== 0) throw new Error(`migrate failed: ${migrate.stderr}`);
  if (opts.seedRunDays) {
    const seed = spawnSync(join(root, 'node_modules/.bin/tsx'), ['prisma/seed/seed.ts'], {
      cwd: root,
      env: { ...env, SEED_RUN_DAYS: String(opts.seedRunDays) },
      encoding: 'utf8',
    });
    if (seed.status !== 0) throw new Error(`seed failed: ${seed.stderr}`);
  }
  return url;
}

/** The URL of database `name` on the server of `pgUrl`. */
export function databaseUrl(pgUrl: string, name: string): string {
  const url = new URL(pgUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Committed + rolled-back transactions of one database so far (pg_stat_database; see settleStats). */
export async function databaseTransactions(pgUrl: string, name: string): Promise<number> {
  const r = await adminQuery(
    pgUrl,
    `SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = '${name.replace(/'/g, "''")}'`,
  );
  return Number(r.rows[0]?.n ?? 0);
}

/**
 * PostgreSQL 15 backends report their counters at most once a second, and an idle backend
 * reports what is left only after 10 s: wait this long before reading pg_stat_database.
 */
export const STATS_SETTLE_MS = 11_000;

// ───────────────────────────── tokens ─────────────────────────────

/** A throw-away signing key written where an auth process can load it; `remove` deletes it. */
export async function benchSigningKey(): Promise<{ file: string; key: SigningKey; remove: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'tatkal-bench-keys-'));
  const jwk = await generateSigningJwk();
  const file = join(dir, 'keys.json');
  writeFileSync(file, JSON.stringify({ keys: [jwk] }), { mode: 0o600 });
  const [key] = await importSigningKeys([jwk]);
  return { file, key: key!, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The signing key an already-running auth service uses (its AUTH_SIGNING_KEYS_FILE). */
export async function existingSigningKey(file: string): Promise<SigningKey> {
  const [key] = await loadSigningKeys(file, false);
  return key!;
}

/** Access tokens for `count` distinct customers, as login would issue them ("logged in beforehand"). */
export function mintTokens(key: SigningKey, count: number): Promise<string[]> {
  return Promise.all(
    Array.from({ length: count }, () =>
      new SignJWT({ role: 'CUSTOMER' })
        .setProtectedHeader({ alg: 'EdDSA', kid: key.kid })
        .setIssuer('tatkal-auth')
        .setAudience('tatkal-api')
        .setSubject(randomUUID())
        .setIssuedAt()
        .setExpirationTime('2h')
        .setJti(randomUUID())
        .sign(key.privateKey),
    ),
  );
}

// ───────────────────────────── the stack ─────────────────────────────

export interface StackOptions {
  databaseUrl: string;
  redisUrl: string;
  amqpUrl: string;
  /** The auth signing key file (benchSigningKey). */
  keysFile: string;
  /** Exchange and queue prefix of this run (deleted on stop); null runs every service without RabbitMQ. */
  eventsPrefix: string | null;
  bookingPoolSize: number;
  /** Extra environment for booking (e.g. WAITLIST_LIMIT). */
  bookingEnv?: Record<string, string>;
  search?: boolean;
  /** The payment subgraph with its webhook sidecar, and the provider simulator. */
  payment?: boolean;
  /** This project's gateway in front (default true). */
  gateway?: boolean;
  /**
   * The gateway signs the identity it verified and the subgraphs check that instead of the
   * token (IDENTITY_ASSERTION_SECRET, generated per run); default true. False: every subgraph
   * verifies the bearer token itself.
   */
  identityAssertions?: boolean;
  /**
   * More gateway processes beside the first, each with its own name and environment on top of the
   * first's (e.g. another TRUSTED_DOCUMENTS_ONLY).
   */
  extraGateways?: { name: string; env: Record<string, string> }[];
}

export interface Stack {
  processes: RunningProcess[];
  /** GraphQL endpoints of the subgraphs started, by supergraph name. */
  subgraphs: Record<string, string>;
  gatewayUrl: string | null;
  providerUrl: string | null;
  /** payment's webhook sidecar and the secret this run's deliveries are signed with. */
  webhook: { url: string; secret: string } | null;
  stop: () => Promise<void>;
}

/**
 * BENCH_PROFILE_DIR=/tmp/prof writes V8 CPU profiles there of the processes named in
 * BENCH_PROFILE (comma-separated; default booking).
 */
function profileArgs(name: string): string[] {
  const dir = process.env.BENCH_PROFILE_DIR;
  const names = (process.env.BENCH_PROFILE ?? 'booking').split(',').map((n) => n.trim());
  return dir && names.includes(name)
    ? ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}.cpuprofile`]
    : [];
}

/** Starts auth, booking, [search], [payment + provider simulator], [gateway] as real processes. */
export async function startStack(opts: StackOptions): Promise<Stack> {
  const common = {
    DATABASE_URL: opts.databaseUrl,
    REDIS_URL: opts.redisUrl,
    AMQP_URL: opts.amqpUrl,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    // Without the shared secret the subgraphs must be told to answer unsigned callers.
    ...(opts.identityAssertions === false
      ? { REQUIRE_GATEWAY_SIGNATURE: 'false' }
      : { IDENTITY_ASSERTION_SECRET: randomBytes(32).toString('base64url') }),
    ...(opts.eventsPrefix === null ? { EVENTS_ENABLED: 'false' } : { EVENTS_PREFIX: opts.eventsPrefix }),
  };
  const processes: RunningProcess[] = [];
  const subgraphs: Record<string, string> = {};
  let providerUrl: string | null = null;
  let webhook: Stack['webhook'] = null;
  const stop = async () => {
    for (const p of [...processes].reverse()) await p.stop();
    if (opts.eventsPrefix) {
      const admin = await amqp.connect(opts.amqpUrl);
      await deleteEventTopology(admin, opts.eventsPrefix).finally(() => admin.close());
    }
  };
  try {
    const auth = await startProcess('auth', 'subgraphs/auth/src/index.ts', {
      ...common,
      RATE_LIMIT_PREFIX: `rl:bench:${randomUUID()}:`,
      AUTH_SIGNING_KEYS_FILE: opts.keysFile,
      AUTH_GENERATE_KEYS: 'false',
    });
    processes.push(auth);
    subgraphs.auth = `${auth.url}/graphql`;
    const jwks = { AUTH_JWKS_URL: `${auth.url}/.well-known/jwks.json` };
    const booking = await startProcess(
      'booking',
      'subgraphs/booking/src/index.ts',
      {
        ...common,
        ...jwks,
        DB_POOL_SIZE: String(opts.bookingPoolSize),
        SWEEP_INTERVAL_MS: '0',
        INVENTORY_HORIZON_DAYS: '0',
        ...opts.bookingEnv,
      },
      {
        nodeArgs: profileArgs('booking'),
      },
    );
    processes.push(booking);
    subgraphs.booking = `${booking.url}/graphql`;
    const later: Promise<RunningProcess>[] = [];
    if (opts.search) later.push(startProcess('search', 'subgraphs/search/src/index.ts', { ...common, ...jwks }));
    if (opts.payment) {
      // Generated per run, never stored: the simulator signs webhooks with it, the sidecar checks them.
      const webhookSecret = `whsec_bench_${randomBytes(24).toString('hex')}`;
      const [providerPort, webhookPort] = [await freePort(), await freePort()];
      providerUrl = `http://127.0.0.1:${providerPort}`;
      webhook = { url: `http://127.0.0.1:${webhookPort}/webhooks/payments`, secret: webhookSecret };
      later.push(
        startProcess(
          'provider',
          'subgraphs/payment/src/provider/index.ts',
          {
            LOG_LEVEL: 'warn',
            NODE_ENV: 'production',
            PAYMENT_WEBHOOK_SECRET: webhookSecret,
            WEBHOOK_URL: webhook.url,
          },
          { port: providerPort, portEnv: 'PROVIDER_PORT' },
        ),
        startProcess(
          'payment',
          'subgraphs/payment/src/index.ts',
          {
            ...common,
            ...jwks,
            WEBHOOK_PORT: String(webhookPort),
            PAYMENT_WEBHOOK_SECRET: webhookSecret,
            PROVIDER_URL: providerUrl,
            BOOKING_URL: subgraphs.booking,
          },
          { nodeArgs: profileArgs('payment') },
        ),
      );
    }
    for (const p of await Promise.all(later)) {
      processes.push(p);
      if (p.name !== 'provider') subgraphs[p.name] = `${p.url}/graphql`;
    }
    let gatewayUrl: string | null = null;
    if (opts.gateway ?? true) {
      const gatewayEnv = {
        ...common,
        ...jwks,
        SUPERGRAPH_PATH: join(root, 'supergraph.graphql'),
        // Every virtual user comes from 127.0.0.1: the per-IP limit would measure itself.
        RATE_LIMIT_IP: '100000000/1m',
        RATE_LIMIT_PREFIX: `rl:bench:${randomUUID()}:`,
        ...Object.fromEntries(Object.entries(subgraphs).map(([name, url]) => [`${name.toUpperCase()}_URL`, url])),
        ...(process.env.BENCH_GATEWAY_ENV
          ? Object.fromEntries(new URLSearchParams(process.env.BENCH_GATEWAY_ENV))
          : {}),
      };
      const gateway = await startProcess('gateway', 'gateway/src/index.ts', gatewayEnv, {
        nodeArgs: profileArgs('gateway'),
      });
      processes.push(gateway);
      gatewayUrl = `${gateway.url}/graphql`;
      for (const extra of opts.extraGateways ?? []) {
        processes.push(
          await startProcess(
            extra.name,
            'gateway/src/index.ts',
            { ...gatewayEnv, ...extra.env, RATE_LIMIT_PREFIX: `rl:bench:${randomUUID()}:` },
            { nodeArgs: profileArgs(extra.name) },
          ),
        );
      }
    }
    return { processes, subgraphs, gatewayUrl, providerUrl, webhook, stop };
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}

/** CPU seconds used so far by each process, by name (subtract two readings with cpuDelta). */
export function processCpu(processes: RunningProcess[]): Record<string, number> {
  return Object.fromEntries(processes.map((p) => [p.name, cpuSeconds(p.pid)]));
}

export function cpuDelta(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, +(v - (before[k] ?? 0)).toFixed(2)]));
}

// ───────────────────────────── Redis counters ─────────────────────────────

export interface RedisCounters {
  total: number;
  byCommand: Record<string, number>;
}

/** A Redis client for the bench's own readings, connected before it returns (createRedis queues nothing). */
export async function connectRedis(url: string): Promise<Redis> {
  const redis = createRedis(url, { name: 'bench', commandTimeoutMs: 5_000 });
  if (redis.status !== 'ready') {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Redis at ${url} is not reachable`)), 5_000);
      redis.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  return redis;
}

/** Server-wide command counters (INFO stats + commandstats): every client of this Redis counts. */
export async function redisCounters(redis: Redis): Promise<RedisCounters> {
  const [stats, commandstats] = await Promise.all([redis.info('stats'), redis.info('commandstats')]);
  const total = Number(/total_commands_processed:(\d+)/.exec(stats)?.[1] ?? 0);
  const byCommand: Record<string, number> = {};
  for (const m of commandstats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) byCommand[m[1]!] = Number(m[2]);
  return { total, byCommand };
}

/**
 * Commands per unit of work between two readings, the busiest first; the INFO calls of the
 * readings themselves are left out.
 */
export function redisDelta(after: RedisCounters, before: RedisCounters, per: number) {
  const byCommand = Object.entries(after.byCommand)
    .map(([cmd, n]) => [cmd, n - (before.byCommand[cmd] ?? 0) - (cmd === 'info' ? 2 : 0)] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  const total = after.total - before.total - 2;
  return {
    total,
    perUnit: per ? +(total / per).toFixed(2) : 0,
    byCommandPerUnit: Object.fromEntries(byCommand.map(([cmd, n]) => [cmd, per ? +(n / per).toFixed(2) : 0])),
  };
}

/** The clients connected now (CLIENT LIST): their port on this machine and idle seconds. */
export async function redisClients(redis: Redis): Promise<{ port: number; idle: number }[]> {
  const list = (await redis.client('LIST')) as string;
  return list
    .split('\n')
    .filter(Boolean)
    .map((line) => ({
      port: Number(/ addr=\S*:(\d+) /.exec(line)?.[1] ?? 0),
      idle: Number(/ idle=(\d+)/.exec(line)?.[1] ?? 0),
    }));
}

/** Local TCP ports of the sockets these processes (and their children) hold open, from /proc. */
export function localPortsOf(pids: number[]): Set<number> {
  const inodes = new Set<string>();
  for (const pid of pids.flatMap((p) => [p, ...childrenOf(p).flatMap((c) => [c, ...childrenOf(c)])])) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // exited
    }
    for (const fd of fds) {
      try {
        const socket = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (socket) inodes.add(socket[1]!);
      } catch {
        /* closed meanwhile */
      }
    }
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let lines: string[] = [];
    try {
      lines = readFileSync(table, 'utf8').split('\n').slice(1);
    } catch {
      continue;
    }
    for (const line of lines) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && inodes.has(f[9]!)) ports.add(parseInt(f[1]!.split(':').pop()!, 16));
    }
  }
  return ports;
}

/**
 * Redis clients that are not these processes' and ran a command in the last `seconds`: the
 * counters include their work.
 */
export async function otherActiveRedisClients(redis: Redis, pids: number[], seconds: number): Promise<number> {
  const ours = localPortsOf(pids);
  return (await redisClients(redis)).filter((c) => !ours.has(c.port) && c.idle < seconds).length;
}
