// The payment provider simulator as a process (development and docker compose), port 4006.
import { z } from 'zod';
import { createLogger, env, initTelemetry, loadConfig, onShutdown, runMain, seededRandom } from '@tatkal/common';
import { createProviderSimulator } from './simulator.ts';

runMain('payment-provider', async () => {
  const config = loadConfig({
    PROVIDER_PORT: env.port(4006),
    /** The payment webhook sidecar. */
    WEBHOOK_URL: env.httpUrl.default('http://127.0.0.1:4005/webhooks/payments'),
    PAYMENT_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters'),
    /** More signing secrets during a rotation, comma-separated. */
    PAYMENT_WEBHOOK_SECRETS: z
      .string()
      .default('')
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      ),
    /** Checkout links as a browser reaches this process (default http://localhost:<port>). */
    PROVIDER_PUBLIC_URL: env.httpUrl.optional(),
    PROVIDER_DUPLICATE_RATE: z.coerce.number().min(0).max(1).default(0),
    PROVIDER_SHUFFLE: z
      .enum(['true', 'false'])
      .default('false')
      .transform((v) => v === 'true'),
    /** Share of deliveries held back (late) for PROVIDER_LATE_MS/2 to PROVIDER_LATE_MS. */
    PROVIDER_LATE_RATE: z.coerce.number().min(0).max(1).default(0),
    PROVIDER_LATE_MS: z.coerce.number().int().min(0).default(3_000),
    /** Seeds the duplicate, shuffle and late draws (a chaos run repeats its schedule); default random. */
    PROVIDER_SEED: z.coerce.number().int().optional(),
    LOG_LEVEL: env.logLevel,
  });
  const logger = createLogger('payment-provider', config.LOG_LEVEL);
  initTelemetry({ service: 'payment-provider' });
  const simulator = createProviderSimulator({
    webhookUrl: config.WEBHOOK_URL,
    secrets: [config.PAYMENT_WEBHOOK_SECRET, ...config.PAYMENT_WEBHOOK_SECRETS],
    publicUrl: config.PROVIDER_PUBLIC_URL ?? `http://localhost:${config.PROVIDER_PORT}`,
    duplicateRate: config.PROVIDER_DUPLICATE_RATE,
    shuffle: config.PROVIDER_SHUFFLE,
    lateRate: config.PROVIDER_LATE_RATE,
    lateMs: config.PROVIDER_LATE_MS,
    ...(config.PROVIDER_SEED === undefined ? {} : { random: seededRandom(config.PROVIDER_SEED) }),
    logger,
  });
  const http = await simulator.listen(config.PROVIDER_PORT);
  logger.info({ url: http.url, webhookUrl: config.WEBHOOK_URL }, 'payment provider simulator ready');
  onShutdown(logger, [{ name: 'payment-provider', close: simulator.close }]);
});
