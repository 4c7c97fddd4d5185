// Starts the whole supergraph in this process, every server on port 0, against a private test
// database: the same start functions the real processes run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAuthConfig } from '../../subgraphs/auth/src/config.ts';
import { startAuthService } from '../../subgraphs/auth/src/service.ts';
import { loadBookingConfig } from '../../subgraphs/booking/src/config.ts';
import { startBookingService } from '../../subgraphs/booking/src/service.ts';
import { loadSearchConfig } from '../../subgraphs/search/src/config.ts';
import { startSearchService } from '../../subgraphs/search/src/service.ts';
import { loadPaymentConfig } from '../../subgraphs/payment/src/config.ts';
import { startPaymentService } from '../../subgraphs/payment/src/service.ts';
import { loadGatewayConfig } from '../../gateway/src/config.ts';
import { startGatewayService } from '../../gateway/src/service.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';
import { AMQP_URL, REDIS_URL } from './env.ts';
import { testLogger } from './logger.ts';

export interface RunningSupergraph {
  db: TestDatabase;
  gatewayUrl: string;
  urls: Record<'auth' | 'booking' | 'search' | 'payment' | 'webhooks', string>;
  stop: () => Promise<void>;
}

export async function startSupergraph(label: string, extraEnv: Record<string, string> = {}): Promise<RunningSupergraph> {
  const db = await createTestDatabase(label);
  const keysDir = mkdtempSync(join(tmpdir(), 'tatkal-keys-'));
  const base = {
    NODE_ENV: 'test',
    PORT: '0',
    DATABASE_URL: db.url,
    REDIS_URL,
    AMQP_URL,
    LOG_LEVEL: 'silent',
    ...extraEnv,
  };
  const closers: (() => Promise<void>)[] = [];
  try {
    const auth = await startAuthService(
      loadAuthConfig({ ...base, AUTH_SIGNING_KEYS_FILE: join(keysDir, 'keys.json'), AUTH_GENERATE_KEYS: 'true' }),
      testLogger,
    );
    closers.push(auth.close);
    const jwks = { AUTH_JWKS_URL: `${auth.url}/.well-known/jwks.json` };
    const booking = await startBookingService(loadBookingConfig({ ...base, ...jwks }), testLogger);
    closers.push(booking.close);
    const search = await startSearchService(loadSearchConfig({ ...base, ...jwks }), testLogger);
    closers.push(search.close);
    const payment = await startPaymentService(loadPaymentConfig({ ...base, ...jwks, WEBHOOK_PORT: '0' }), testLogger);
    closers.push(payment.close);
    const gateway = await startGatewayService(
      loadGatewayConfig({
        ...base,
        ...jwks,
        SUPERGRAPH_PATH: new URL('../../supergraph.graphql', import.meta.url).pathname,
        AUTH_URL: `${auth.url}/graphql`,
        BOOKING_URL: `${booking.url}/graphql`,
        SEARCH_URL: `${search.url}/graphql`,
        PAYMENT_URL: `${payment.url}/graphql`,
      }),
      testLogger,
    );
    closers.push(gateway.close);
    return {
      db,
      gatewayUrl: `${gateway.url}/graphql`,
      urls: { auth: auth.url, booking: booking.url, search: search.url, payment: payment.url, webhooks: payment.webhookUrl },
      stop: async () => {
        for (const close of closers.reverse()) await close();
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
