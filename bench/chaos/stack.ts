// The chaos run's own stack: auth, two booking instances, two payment instances (each with its
// webhook sidecar), the provider simulator (duplicates, shuffle, late deliveries) and the gateway,
// as real processes; balancers (balancer.ts) in front of booking, payment and the webhook
// sidecars. Any member can be killed (-9) and restarted on its port, as a supervisor would.
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { freePort, root, startProcess, type RunningProcess } from '../../packages/testkit/src/processes.ts';
import { authEnv, dropEvents, serviceEnv } from '../stack.ts';
import { type Balancer, startBalancer } from './balancer.ts';

export interface ChaosStackOptions {
  databaseUrl: string;
  redisUrl: string;
  amqpUrl: string;
  keysFile: string;
  eventsPrefix: string;
  seed: number;
  /** Booking's HOLD_TTL_MS: a hold unpaid this long expires (a late payment is then refunded). */
  holdTtlMs: number;
  /** The provider's misbehaviour: duplicate, late (held back up to lateMs) and shuffled deliveries. */
  webhooks: { duplicateRate: number; lateRate: number; lateMs: number };
}

interface Member {
  name: string;
  entry: string;
  env: Record<string, string>;
  port: number;
  portEnv?: string;
  proc: RunningProcess | null;
}

export type ChaosStack = Awaited<ReturnType<typeof startChaosStack>>;

export async function startChaosStack(opts: ChaosStackOptions) {
  const common = {
    ...serviceEnv(opts),
    IDENTITY_ASSERTION_SECRET: randomBytes(32).toString('base64url'),
    EVENTS_PREFIX: opts.eventsPrefix,
  };
  const members = new Map<string, Member>();
  const balancers: Balancer[] = [];
  const url = (m: Member) => `http://127.0.0.1:${m.port}`;
  const up = (prefix: string) => () => [...members.values()].filter((m) => m.name.startsWith(prefix)).map(url);
  const webhookUp = () =>
    [...members.values()]
      .filter((m) => m.name.startsWith('payment-'))
      .map((m) => `http://127.0.0.1:${m.env.WEBHOOK_PORT}`);

  const start = async (m: Member) => {
    m.proc = await startProcess(m.name, m.entry, m.env, {
      port: m.port,
      portEnv: m.portEnv,
      timeoutMs: 90_000,
    });
  };
  const add = async (name: string, entry: string, env: Record<string, string>, portEnv?: string) => {
    const m: Member = { name, entry, env, port: await freePort(), portEnv, proc: null };
    members.set(name, m);
    return m;
  };
  const stop = async () => {
    for (const m of [...members.values()].reverse()) await m.proc?.stop();
    for (const b of balancers) await b.close();
    await dropEvents(opts.amqpUrl, opts.eventsPrefix);
  };

  try {
    const auth = await add('auth', 'subgraphs/auth/src/index.ts', {
      ...common,
      ...authEnv(opts.keysFile, 'rl:chaos:'),
    });
    await start(auth);
    const jwks = { AUTH_JWKS_URL: `${url(auth)}/.well-known/jwks.json` };
    const [bookingLb, paymentLb, webhookLb] = [
      await startBalancer(up('booking-')),
      await startBalancer(up('payment-')),
      await startBalancer(webhookUp),
    ];
    balancers.push(bookingLb, paymentLb, webhookLb);
    const bookingEnv = {
      ...common,
      ...jwks,
      DB_POOL_SIZE: '8',
      // The sweeper expires holds and resumes queues a crash left behind; a short lease hands a
      // dead allocator's runs to the other instance within seconds.
      SWEEP_INTERVAL_MS: '1000',
      ALLOCATOR_LEASE_MS: '3000',
      HOLD_TTL_MS: String(opts.holdTtlMs),
      INVENTORY_HORIZON_DAYS: '0',
      // Two cores shared by nine processes: a late event loop must not make a live Redis look dead.
      REDIS_COMMAND_TIMEOUT_MS: '2000',
    };
    const bookings = [await add('booking-1', 'subgraphs/booking/src/index.ts', bookingEnv)];
    bookings.push(await add('booking-2', 'subgraphs/booking/src/index.ts', bookingEnv));
    await Promise.all(bookings.map(start));

    const webhookSecret = `whsec_chaos_${randomBytes(24).toString('hex')}`;
    const provider = await add(
      'provider',
      'subgraphs/payment/src/provider/index.ts',
      {
        LOG_LEVEL: 'warn',
        NODE_ENV: 'production',
        PAYMENT_WEBHOOK_SECRET: webhookSecret,
        WEBHOOK_URL: `${webhookLb.url}/webhooks/payments`,
        PROVIDER_DUPLICATE_RATE: String(opts.webhooks.duplicateRate),
        PROVIDER_SHUFFLE: 'true',
        PROVIDER_LATE_RATE: String(opts.webhooks.lateRate),
        PROVIDER_LATE_MS: String(opts.webhooks.lateMs),
        PROVIDER_SEED: String(opts.seed),
      },
      'PROVIDER_PORT',
    );
    await start(provider);
    const payments: Member[] = [];
    for (const name of ['payment-1', 'payment-2'])
      payments.push(
        await add(name, 'subgraphs/payment/src/index.ts', {
          ...common,
          ...jwks,
          WEBHOOK_PORT: String(await freePort()),
          PAYMENT_WEBHOOK_SECRET: webhookSecret,
          PROVIDER_URL: url(provider),
          BOOKING_URL: `${bookingLb.url}/graphql`,
        }),
      );
    await Promise.all(payments.map(start));

    const gateway = await add('gateway', 'gateway/src/index.ts', {
      ...common,
      ...jwks,
      SUPERGRAPH_PATH: join(root, 'supergraph.graphql'),
      // Every virtual user comes from 127.0.0.1: the per-IP limit would measure itself.
      RATE_LIMIT_IP: '100000000/1m',
      RATE_LIMIT_PREFIX: `rl:chaos:${randomUUID()}:`,
      AUTH_URL: `${url(auth)}/graphql`,
      BOOKING_URL: `${bookingLb.url}/graphql`,
      PAYMENT_URL: `${paymentLb.url}/graphql`,
    });
    await start(gateway);
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }

  return {
    gatewayUrl: `${url(members.get('gateway')!)}/graphql`,
    providerUrl: url(members.get('provider')!),
    balancers: { booking: balancers[0]!, payment: balancers[1]!, webhook: balancers[2]! },
    names: () => [...members.keys()],
    /** The live process of a member (null while it is down). */
    process: (name: string) => members.get(name)?.proc ?? null,
    /** kill -9 of a member (and its children); resolves when it is gone. */
    async kill(name: string): Promise<void> {
      const m = members.get(name)!;
      const p = m.proc;
      m.proc = null;
      await p?.crash();
    },
    /** Starts a member again on its port; resolves when it answers /ready. */
    async restart(name: string): Promise<void> {
      await start(members.get(name)!);
    },
    stop,
  };
}
