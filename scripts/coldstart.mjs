#!/usr/bin/env node
// Cold start of every process: the time from spawning `node` to its first 200 on /health (the
// start-up probe) and on /ready, median of --runs starts, against PostgreSQL, Redis and RabbitMQ.
// Measures the production tree scripts/build.mjs writes, or (--tsx) the sources through tsx, the
// way the image ran before. Ports are free ones chosen here, never 4000-4007.
//
//   node scripts/build.mjs --out /tmp/app --install
//   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/<migrated db> node scripts/coldstart.mjs --tree /tmp/app
//   DATABASE_URL=... node scripts/coldstart.mjs --tsx
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const tsx = args.includes('--tsx');
const tree = resolve(option('--tree', root));
const runs = Number(option('--runs', '3'));
if (!process.env.DATABASE_URL) throw new Error('DATABASE_URL (a migrated database) is required');

const freePort = () =>
  new Promise((ok, fail) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
    server.once('error', fail);
  });

const secret = randomBytes(32).toString('base64url');
const base = {
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  NODE_ENV: 'production',
  LOG_LEVEL: 'warn',
  NODE_OPTIONS: '--max-semi-space-size=64',
  DATABASE_URL: process.env.DATABASE_URL,
  REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  AMQP_URL: process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
  // Queues and exchanges of this measurement only.
  EVENTS_PREFIX: `coldstart-${randomBytes(3).toString('hex')}.`,
  IDENTITY_ASSERTION_SECRET: secret,
  AUTH_JWKS_URL: 'http://127.0.0.1:1/.well-known/jwks.json',
  INVENTORY_HORIZON_DAYS: '0',
};
const keys = mkdtempSync(join(tmpdir(), 'coldstart-keys-'));
const processes = {
  gateway: ['gateway/src/index', { SUPERGRAPH_PATH: join(tree, 'supergraph.graphql') }, 'METRICS_PORT'],
  auth: [
    'subgraphs/auth/src/index',
    { AUTH_SIGNING_KEYS_FILE: join(keys, 'keys.json'), AUTH_GENERATE_KEYS: 'true', OTP_PROVIDER: 'disabled' },
  ],
  booking: ['subgraphs/booking/src/index', {}],
  search: ['subgraphs/search/src/index', {}],
  payment: [
    'subgraphs/payment/src/index',
    { PAYMENT_WEBHOOK_SECRET: `whsec_${secret}`, PROVIDER_URL: 'http://127.0.0.1:1' },
    'WEBHOOK_PORT',
  ],
};

/** CPU seconds (user + system) a process and its descendants have used, from /proc (Linux). */
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    const own = (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    return own + children.reduce((sum, child) => sum + cpuSeconds(Number(child)), 0);
  } catch {
    return 0;
  }
}

async function startOnce(entry, extra, secondPort) {
  const port = await freePort();
  const env = { ...base, ...extra, PORT: String(port) };
  if (secondPort) env[secondPort] = String(await freePort());
  const started = performance.now();
  const command = tsx ? [join(root, 'node_modules/.bin/tsx'), `${entry}.ts`] : [process.execPath, `${entry}.js`];
  const child = spawn(command[0], command.slice(1), {
    cwd: tsx ? root : tree,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const until = async (path) => {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${entry} exited ${child.exitCode}: ${stderr}`);
      const ok = await fetch(`http://127.0.0.1:${port}${path}`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return performance.now() - started;
      if (performance.now() - started > 120_000) throw new Error(`${entry}: no ${path} in 120 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const health = await until('/health');
  const ready = await until('/ready');
  const cpu = cpuSeconds(child.pid);
  await new Promise((done) => {
    child.once('exit', done);
    child.kill('SIGTERM');
  });
  return { health, ready, cpu };
}

const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`${tsx ? 'tsx (sources)' : `node (${tree})`}, median of ${runs} starts`);
for (const [name, [entry, extra, secondPort]] of Object.entries(processes)) {
  const results = [];
  for (let i = 0; i < runs; i++) results.push(await startOnce(entry, extra, secondPort));
  const h = median(results.map((r) => r.health));
  const r = median(results.map((x) => x.ready));
  const c = median(results.map((x) => x.cpu));
  console.log(
    `${name.padEnd(8)} /health ${h.toFixed(0).padStart(6)} ms   /ready ${r.toFixed(0).padStart(6)} ms` +
      `   CPU to ready ${c.toFixed(2)} s`,
  );
}
rmSync(keys, { recursive: true, force: true });
