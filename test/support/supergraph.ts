// Starts the whole supergraph in this process, every server on port 0, against a private test
// database: the same start functions the real processes run.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAuthConfig } from '../../subgraphs/auth/src/config.ts';
import { startAuthService } from '../../subgraphs/auth/src/service.ts';
import { createOtpSimulator, type OtpSimulator } from '../../subgraphs/auth/src/otp/simulator.ts';
import { loadBookingConfig } from '../../subgraphs/booking/src/config.ts';
import { startBookingService } from '../../subgraphs/booking/src/service.ts';
import { loadSearchConfig } from '../../subgraphs/search/src/config.ts';
import { startSearchService } from '../../subgraphs/search/src/service.ts';
import { networkEventsQueue } from '../../subgraphs/search/src/events/networkEvents.ts';
import { loadPaymentConfig } from '../../subgraphs/payment/src/config.ts';
import { startPaymentService } from '../../subgraphs/payment/src/service.ts';
import { createProviderSimulator, type ProviderSimulator } from '../../subgraphs/payment/src/provider/simulator.ts';
import { loadGatewayConfig } from '../../gateway/src/config.ts';
import { startGatewayService } from '../../gateway/src/service.ts';
import amqp from 'amqplib';
import { deleteEventTopology } from '@tatkal/common';
import { createTestDatabase, type TestDatabase } from './db.ts';
import { AMQP_URL, REDIS_URL } from './env.ts';
import { testLogger } from './logger.ts';
import type { Logger } from '@tatkal/common';

export interface RunningSupergraph {
  db: TestDatabase;
  gatewayUrl: string;
  urls: Record<'auth' | 'booking' | 'search' | 'payment' | 'webhooks' | 'provider' | 'otp', string>;
  /** The payment provider simulator (in process, delivering signed webhooks to the sidecar). */
  provider: ProviderSimulator;
  /** The development OTP simulator auth delivers identity codes to (`otp.latestCode(phone)`). */
  otp: OtpSimulator;
  /** The auth key file, and a reload as SIGHUP does in the real process (key rotation tests). */
  authKeysFile: string;
  reloadAuthKeys: () => Promise<void>;
  stop: () => Promise<void>;
}

export async function startSupergraph(
  label: string,
  extraEnv: Record<string, string> = {},
  opts: {
    logger?: Logger;
    /** The clock booking goes by (windows, waiting rooms): a test moves it to an opening. */
    bookingClock?: () => Date;
    /** Where the gateway reaches a subgraph instead of its own URL (a test's recording proxy in front of it). */
    gatewayRoute?: (name: 'auth' | 'booking' | 'search' | 'payment', url: string) => Promise<string>;
  } = {},
): Promise<RunningSupergraph> {
  const logger = opts.logger ?? testLogger;
  const db = await createTestDatabase(label);
  const keysDir = mkdtempSync(join(tmpdir(), 'tatkal-keys-'));
  const base = {
    NODE_ENV: 'test',
    PORT: '0',
    DATABASE_URL: db.url,
    REDIS_URL,
    AMQP_URL,
    LOG_LEVEL: 'silent',
    // Own exchanges and queues per supergraph (docs/events.md): runs never consume each other's events.
    EVENTS_PREFIX: `${db.name}.`,
    // Test runs are prepared by createTestRun; the template's seeded runs need no inventory.
    INVENTORY_HORIZON_DAYS: '0',
    // Functional tests want the outcome in the answer, even on a loaded machine (the QUEUED answer
    // has tests of its own: subgraphs/booking/test/queue.int.test.ts).
    QUEUE_WAIT_MS: '30000',
    // Rate-limit counters of this run only; limits generous enough for functional tests (every
    // test client is 127.0.0.1). Security tests pass small ones in extraEnv.
    RATE_LIMIT_PREFIX: `rl:${db.name}:`,
    RATE_LIMIT_IP: '5000/1m',
    RATE_LIMIT_EXPENSIVE: '1000/1m',
    RATE_LIMIT_LOGIN: '200/1m',
    RATE_LIMIT_REGISTER: '200/1m',
    // The gateway signs the identity it verified; the subgraphs check that (generated per run).
    IDENTITY_ASSERTION_SECRET: randomBytes(32).toString('base64url'),
    ...extraEnv,
  };
  const closers: (() => Promise<void>)[] = [];
  try {
    const authKeysFile = join(keysDir, 'keys.json');
    const otp = createOtpSimulator();
    const otpHttp = await otp.listen(0);
    closers.push(otp.close);
    const auth = await startAuthService(
      loadAuthConfig({
        ...base,
        AUTH_SIGNING_KEYS_FILE: authKeysFile,
        AUTH_GENERATE_KEYS: 'true',
        OTP_SIMULATOR_URL: otpHttp.url,
      }),
      logger,
    );
    closers.push(auth.close);
    const jwks = { AUTH_JWKS_URL: `${auth.url}/.well-known/jwks.json` };
    const booking = await startBookingService(loadBookingConfig({ ...base, ...jwks }), logger, {
      now: opts.bookingClock,
    });
    closers.push(booking.close);
    const search = await startSearchService(loadSearchConfig({ ...base, ...jwks }), logger);
    closers.push(search.close);
    // The provider simulator first (payment needs its URL); it learns the sidecar's port afterwards.
    const webhookSecret = extraEnv.PAYMENT_WEBHOOK_SECRET ?? `whsec_test_${randomBytes(16).toString('hex')}`;
    const provider = createProviderSimulator({
      webhookUrl: 'http://127.0.0.1:1/not-started',
      secrets: [webhookSecret],
      baseDelayMs: 100,
      maxAttempts: 5,
    });
    const providerHttp = await provider.listen(0, '127.0.0.1');
    closers.push(provider.close);
    const payment = await startPaymentService(
      loadPaymentConfig({
        ...base,
        ...jwks,
        WEBHOOK_PORT: '0',
        PAYMENT_WEBHOOK_SECRET: webhookSecret,
        PROVIDER_URL: providerHttp.url,
        BOOKING_URL: `${booking.url}/graphql`,
        ...extraEnv,
      }),
      logger,
    );
    closers.push(payment.close);
    provider.setWebhookUrl(`${payment.webhookUrl}/webhooks/payments`);
    const route = opts.gatewayRoute ?? (async (_name, url) => url);
    const gateway = await startGatewayService(
      loadGatewayConfig({
        ...base,
        ...jwks,
        SUPERGRAPH_PATH: new URL('../../supergraph.graphql', import.meta.url).pathname,
        AUTH_URL: await route('auth', `${auth.url}/graphql`),
        BOOKING_URL: await route('booking', `${booking.url}/graphql`),
        SEARCH_URL: await route('search', `${search.url}/graphql`),
        PAYMENT_URL: await route('payment', `${payment.url}/graphql`),
      }),
      logger,
    );
    closers.push(gateway.close);
    return {
      db,
      gatewayUrl: `${gateway.url}/graphql`,
      authKeysFile,
      reloadAuthKeys: auth.reloadKeys,
      urls: {
        auth: auth.url,
        booking: booking.url,
        search: search.url,
        payment: payment.url!,
        webhooks: payment.webhookUrl!,
        provider: providerHttp.url,
        otp: otpHttp.url,
      },
      provider,
      otp,
      stop: async () => {
        for (const close of closers.reverse()) await close();
        // This run's exchanges and queues (EVENTS_PREFIX) go with it.
        const amqpAdmin = await amqp.connect(AMQP_URL);
        await deleteEventTopology(amqpAdmin, base.EVENTS_PREFIX, [networkEventsQueue().queue]).finally(() =>
          amqpAdmin.close(),
        );
        rmSync(keysDir, { recursive: true, force: true });
        await db.drop();
      },
    };
  } catch (err) {
    for (const close of closers.reverse()) await close().catch(() => {});
    rmSync(keysDir, { recursive: true, force: true });
    await db.drop();
    throw err;
  }
}
