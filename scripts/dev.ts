// `npm start`: checks services, migrates, seeds, composes, starts every process, prints the URLs.
// Ctrl-C stops everything cleanly (SIGTERM to each process, which drains and closes).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { checkServices } from './services.ts';
import { serviceNodeOptions } from './nodeOptions.ts';
import { serveApp } from '../apps/web/serve.ts';

const root = join(import.meta.dirname, '..');
if (existsSync(join(root, '.env'))) process.loadEnvFile(join(root, '.env'));

const env = {
  DATABASE_URL: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/tatkal',
  REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  AMQP_URL: process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
  NODE_ENV: process.env.NODE_ENV ?? 'development',
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
  AUTH_JWKS_URL: process.env.AUTH_JWKS_URL ?? 'http://127.0.0.1:4001/.well-known/jwks.json',
};
/** Secrets every app process gets, from devSecrets() (set in main). */
const shared: Record<string, string> = {};

const fail = (line: string): never => {
  console.error(`start: ${line}`);
  process.exit(1);
};

/** Development-only secrets, generated once into the git-ignored .keys/ folder. */
function devSecrets(): Record<string, string> {
  const file = join(root, '.keys/dev-secrets.json');
  const generated: Record<string, () => string> = {
    ADMIN_EMAIL: () => 'admin@tatkal.dev',
    ADMIN_PASSWORD: () => randomBytes(12).toString('base64url'),
    PAYMENT_WEBHOOK_SECRET: () => `whsec_${randomBytes(24).toString('hex')}`,
    IDENTITY_ASSERTION_SECRET: () => randomBytes(32).toString('base64url'),
  };
  const stored = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>) : {};
  // A file from an older checkout gets the secrets it lacks; the ones it has are kept.
  const missing = Object.keys(generated).filter((k) => !(k in stored));
  if (missing.length) {
    mkdirSync(join(root, '.keys'), { recursive: true });
    for (const k of missing) stored[k] = generated[k]!();
    writeFileSync(file, JSON.stringify(stored, null, 2), { mode: 0o600 });
  }
  // Values from the environment or .env win over the generated ones.
  return Object.fromEntries(Object.entries(stored).map(([k, v]) => [k, process.env[k] ?? v]));
}

function step(label: string, args: string[]) {
  const res = spawnSync(args[0]!, args.slice(1), { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' });
  if (res.status !== 0) fail(`${label} failed:\n${res.stdout}${res.stderr}`);
  const out = res.stdout
    .trim()
    .split('\n')
    .filter((l) => /seed:|wrote|applied|No pending|migrations/i.test(l));
  for (const line of out) console.log(`  ${line.trim()}`);
}

async function ensureDatabase() {
  const url = new URL(env.DATABASE_URL);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if (exists.rowCount === 0) {
    await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    console.log(`  created database ${name}`);
  }
  await admin.end();
}

async function waitReady(name: string, url: string, child: ChildProcess, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) fail(`${name} exited during start-up (code ${child.exitCode}); its log is above`);
    try {
      if ((await fetch(`${url}/ready`)).ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  fail(`${name} did not become ready at ${url}/ready within ${timeoutMs / 1000}s`);
}

const children: { name: string; child: ChildProcess }[] = [];

function launch(name: string, entry: string, extra: Record<string, string>) {
  const child = spawn(join(root, 'node_modules/.bin/tsx'), [entry], {
    cwd: root,
    env: { ...process.env, ...env, NODE_OPTIONS: serviceNodeOptions(), ...shared, ...extra },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group: a terminal Ctrl-C reaches only this script, which stops the processes
    // in order (gateway first) instead of all of them at once.
    detached: true,
  });
  const prefix = `${name.padEnd(8)}|`;
  for (const stream of [child.stdout!, child.stderr!]) {
    let buffer = '';
    stream.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const line of lines) if (line) process.stdout.write(`${prefix} ${line}\n`);
    });
  }
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`start: ${name} stopped unexpectedly (${signal ?? `exit ${code}`}); stopping everything`);
      void stopAll(1);
    }
  });
  children.push({ name, child });
  return child;
}

let stopping = false;
async function stopAll(code: number) {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping...');
  // Gateway first, so nothing new arrives while the subgraphs drain.
  for (const { child } of [...children].reverse()) if (child.exitCode === null) child.kill('SIGTERM');
  await Promise.all(
    children.map(({ child }) => (child.exitCode !== null ? null : new Promise((r) => child.once('exit', r)))),
  );
  console.log('all processes stopped');
  process.exit(code);
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

async function main() {
  console.log('Tatkal supergraph: starting');
  const down = await checkServices({
    postgres: env.DATABASE_URL.replace(/\/[^/]*$/, '/postgres'),
    redis: env.REDIS_URL,
    amqp: env.AMQP_URL,
  });
  if (down.length) fail(down.join('\nstart: '));
  await ensureDatabase();
  console.log('- migrating');
  step('migrate', [process.execPath, join(root, 'scripts/prisma.mjs'), 'migrate-deploy']);
  console.log('- seeding (idempotent: adds only what is missing)');
  step('seed', [join(root, 'node_modules/.bin/tsx'), join(root, 'prisma/seed/seed.ts')]);
  console.log('- composing supergraph.yaml -> supergraph.graphql');
  step('compose', [join(root, 'node_modules/.bin/tsx'), join(root, 'schema-checks/compose.ts')]);

  const secrets = devSecrets();
  // The gateway signs the identities it verified, the subgraphs check them.
  shared.IDENTITY_ASSERTION_SECRET = secrets.IDENTITY_ASSERTION_SECRET!;
  // The development OTP simulator: auth delivers identity codes to it (never in production).
  const otp = launch('otp', 'subgraphs/auth/src/otp/index.ts', { OTP_SIMULATOR_PORT: '4007' });
  await waitReady('otp', 'http://127.0.0.1:4007', otp);
  const auth = launch('auth', 'subgraphs/auth/src/index.ts', {
    PORT: '4001',
    ADMIN_EMAIL: secrets.ADMIN_EMAIL!,
    ADMIN_PASSWORD: secrets.ADMIN_PASSWORD!,
    OTP_PROVIDER: 'simulator',
    OTP_SIMULATOR_URL: 'http://127.0.0.1:4007',
  });
  await waitReady('auth', 'http://127.0.0.1:4001', auth);
  const subgraphs = [
    // Inventory for the next few days' runs (production prepares the whole booking window, docs/operations.md).
    [
      'booking',
      'subgraphs/booking/src/index.ts',
      { PORT: '4002', INVENTORY_HORIZON_DAYS: process.env.INVENTORY_HORIZON_DAYS ?? '3' },
    ],
    ['search', 'subgraphs/search/src/index.ts', { PORT: '4003' }],
    [
      'payment',
      'subgraphs/payment/src/index.ts',
      { PORT: '4004', WEBHOOK_PORT: '4005', PAYMENT_WEBHOOK_SECRET: secrets.PAYMENT_WEBHOOK_SECRET! },
    ],
  ] as const;
  // The payment provider simulator: payment's checkout links point at it, its webhooks go to 4005.
  const provider = launch('provider', 'subgraphs/payment/src/provider/index.ts', {
    PROVIDER_PORT: '4006',
    PAYMENT_WEBHOOK_SECRET: secrets.PAYMENT_WEBHOOK_SECRET!,
  });
  await Promise.all([
    waitReady('provider', 'http://127.0.0.1:4006', provider),
    ...subgraphs.map(([name, entry, extra]) =>
      waitReady(name, `http://127.0.0.1:${extra.PORT}`, launch(name, entry, extra)),
    ),
  ]);
  // The web app (apps/web/dist, built by scripts/bootstrap.mjs): its origin is one the gateway
  // accepts (CORS), added to whatever CORS_ORIGINS says; production's gateway config is its own.
  const webPort = Number(process.env.WEB_PORT ?? 4010);
  const webOrigins = [`http://localhost:${webPort}`, `http://127.0.0.1:${webPort}`];
  const corsOrigins =
    process.env.CORS_ORIGINS ?? 'http://localhost:4000,http://127.0.0.1:4000,https://studio.apollographql.com';
  const gateway = launch('gateway', 'gateway/src/index.ts', {
    PORT: '4000',
    SUPERGRAPH_PATH: join(root, 'supergraph.graphql'),
    CORS_ORIGINS: [corsOrigins, ...webOrigins].join(','),
  });
  await waitReady('gateway', 'http://127.0.0.1:4000', gateway);
  // In this process: it ends with it (stopAll exits once the services have stopped).
  await serveApp({ port: webPort, host: '127.0.0.1', gatewayUrl: 'http://localhost:4000/graphql' });

  const payCommand = 'tsx subgraphs/payment/src/provider/cli.ts succeed <providerRef>';
  const otpCommand = 'tsx subgraphs/auth/src/otp/cli.ts code <phone>';
  console.log(`
Tatkal supergraph is up:
  Web app (traveller)       http://localhost:${webPort}   (English / हिन्दी)
  Gateway + Apollo Sandbox  http://localhost:4000/graphql
  auth subgraph             http://localhost:4001/graphql   (JWKS: /.well-known/jwks.json)
  booking subgraph          http://localhost:4002/graphql
  search subgraph           http://localhost:4003/graphql
  payment subgraph          http://localhost:4004/graphql
  payment webhooks          http://localhost:4005/webhooks/payments
  payment provider (sim.)   http://localhost:4006   (pay: ${payCommand})
  OTP simulator             http://localhost:4007/messages   (identity codes: ${otpCommand})
  admin login               ${secrets.ADMIN_EMAIL} (password in .keys/dev-secrets.json)
Press Ctrl-C to stop.`);
}

main().catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
