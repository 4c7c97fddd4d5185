import { z } from 'zod';
import { env, loadSubgraphConfig } from '@tatkal/common';

/**
 * What one payment process serves: `all` (default: `npm start`, docker compose) the subgraph on
 * PORT and the webhook sidecar on WEBHOOK_PORT; `graphql` the subgraph alone (with the
 * booking-event consumer); `webhooks` the sidecar alone, its own Deployment on Kubernetes
 * (deploy/k8s). The outbox relay runs in every role: it is safe with any number of processes.
 */
export const PAYMENT_ROLES = ['all', 'graphql', 'webhooks'] as const;
export type PaymentRole = (typeof PAYMENT_ROLES)[number];

export function loadPaymentConfig(source: NodeJS.ProcessEnv = process.env) {
  return loadSubgraphConfig(
    4004,
    {
      PAYMENT_ROLE: z.enum(PAYMENT_ROLES).default('all'),
      WEBHOOK_PORT: env.port(4005),
      AMQP_URL: env.amqpUrl,
      AUTH_JWKS_URL: env.httpUrl,
      /** Outbox relay and booking-event consumer (docs/events.md); 'false' runs without RabbitMQ. */
      EVENTS_ENABLED: z
        .enum(['true', 'false', '1', '0'])
        .default('true')
        .transform((v) => v === 'true' || v === '1'),
      /** Prefix of exchange and queue names: '' in production, unique per test or environment. */
      EVENTS_PREFIX: z
        .string()
        .regex(/^[\w.-]*$/)
        .default(''),
      OUTBOX_INTERVAL_MS: z.coerce.number().int().min(10).default(200),
      /** Optional fast path for idempotency replays; PostgreSQL is the record. */
      REDIS_URL: env.redisUrl.optional(),
      /** Shared with the payment provider: verifies `Payment-Signature` on POST /webhooks/payments. */
      PAYMENT_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters'),
      /** During a secret rotation: more accepted secrets, comma-separated (the provider signs with both). */
      PAYMENT_WEBHOOK_SECRETS: z
        .string()
        .default('')
        .transform((v) =>
          v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        )
        .refine((list) => list.every((s) => s.length >= 16), 'every secret must be at least 16 characters'),
      /** The payment provider's API (the simulator in development: subgraphs/payment/src/provider). */
      PROVIDER_URL: env.httpUrl.default('http://127.0.0.1:4006'),
      /** The booking subgraph, asked (with the caller's own token) whether a reservation is held. */
      BOOKING_URL: env.httpUrl.default('http://127.0.0.1:4002/graphql'),
    },
    source,
  );
}
export type PaymentConfig = ReturnType<typeof loadPaymentConfig>;

/** Whether a process in this role serves the GraphQL subgraph (PORT) and the webhook sidecar (WEBHOOK_PORT). */
export function paymentServes(role: PaymentRole): { graphql: boolean; webhooks: boolean } {
  return { graphql: role !== 'webhooks', webhooks: role !== 'graphql' };
}
