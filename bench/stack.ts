// The whole stack a benchmark runs against, as real processes: auth, booking, [search],
// [payment + provider simulator], [gateway], with per-run secrets; stopped (and its RabbitMQ
// exchanges and queues deleted) by `stop`.
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import amqp from 'amqplib';
import { deleteEventTopology } from '@tatkal/common';
import { freePort, root, startProcess, type RunningProcess } from '../packages/testkit/src/processes.ts';

/** The services every benchmark talks to, as `parseArgs` options (env or local defaults). */
export const SERVICE_ARGS = {
  pg: { type: 'string', default: process.env.BENCH_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres' },
  redis: { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
  amqp: { type: 'string', default: process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672' },
} as const;

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

/** What every process of a bench stack is started with: its services, production mode, quiet logs. */
export const serviceEnv = (opts: { databaseUrl: string; redisUrl: string; amqpUrl: string }) => ({
  DATABASE_URL: opts.databaseUrl,
  REDIS_URL: opts.redisUrl,
  AMQP_URL: opts.amqpUrl,
  NODE_ENV: 'production',
  LOG_LEVEL: 'warn',
});

/** auth in a bench stack: the bench's signing keys (it mints the tokens), rate limits of its own. */
export const authEnv = (keysFile: string, rateLimitPrefix: string) => ({
  RATE_LIMIT_PREFIX: `${rateLimitPrefix}${randomUUID()}:`,
  AUTH_SIGNING_KEYS_FILE: keysFile,
  AUTH_GENERATE_KEYS: 'false',
});

/** Deletes a stack's event topology (its exchanges and queues under `prefix`). */
export async function dropEvents(amqpUrl: string, prefix: string): Promise<void> {
  const admin = await amqp.connect(amqpUrl);
  await deleteEventTopology(admin, prefix).finally(() => admin.close());
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
    ...serviceEnv(opts),
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
    if (opts.eventsPrefix) await dropEvents(opts.amqpUrl, opts.eventsPrefix);
  };
  try {
    const auth = await startProcess('auth', 'subgraphs/auth/src/index.ts', {
      ...common,
      ...authEnv(opts.keysFile, 'rl:bench:'),
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
