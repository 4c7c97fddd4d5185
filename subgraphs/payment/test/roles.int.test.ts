// PAYMENT_ROLE (config.ts): one payment package, three ways to run it. `all` (npm start, compose)
// serves the subgraph and the webhook sidecar; on Kubernetes (deploy/k8s) `graphql` and `webhooks`
// are separate Deployments. Each role is started here as its process would be (the service
// builder, on fixed free ports so the port a role must NOT open can be probed), and each is
// checked for what it serves, whether it consumes booking events, and that its outbox relay runs.
import { randomBytes, randomUUID } from 'node:crypto';
import amqp, { type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteEventTopology, eventTopology } from '@tatkal/common';
import { freePort } from '../../../packages/testkit/src/processes.ts';
import { loadPaymentConfig, type PaymentRole } from '../src/config.ts';
import { startPaymentService } from '../src/service.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { AMQP_URL } from '../../../test/support/env.ts';
import { testLogger } from '../../../test/support/logger.ts';
import { waitFor } from '../../../test/support/wait.ts';

const prefix = `t${randomBytes(4).toString('hex')}_`;
const topology = eventTopology(prefix);
const SECRET = `whsec_${randomBytes(12).toString('hex')}`;
let db: TestDatabase;
let admin: ChannelModel;

beforeAll(async () => {
  db = await createTestDatabase('payment_roles');
  admin = await amqp.connect(AMQP_URL);
});

afterAll(async () => {
  if (admin) {
    await deleteEventTopology(admin, prefix).catch(() => undefined);
    await admin.close();
  }
  await db?.drop();
});

/** The HTTP status of a request, or 'refused' when nothing listens on the port. */
async function statusOf(url: string, init?: RequestInit): Promise<number | 'refused'> {
  try {
    return (await fetch(url, init)).status;
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code;
    if (code === 'ECONNREFUSED') return 'refused';
    throw err;
  }
}

async function consumersOf(queue: string): Promise<number> {
  const ch = await admin.createChannel();
  try {
    return (await ch.checkQueue(queue)).consumerCount;
  } finally {
    await ch.close().catch(() => undefined);
  }
}

/** Writes a payment outbox row, as the webhook sidecar does, and waits until a relay published it. */
async function relayPublishes(): Promise<boolean> {
  const row = await db.prisma.paymentOutbox.create({
    data: {
      exchange: 'payments',
      routingKey: 'payment.failed',
      payload: {
        type: 'payment.failed',
        version: 1,
        occurredAt: new Date().toISOString(),
        correlationId: null,
        data: { reservationId: randomUUID() },
      },
    },
  });
  await waitFor(
    'the outbox row to be published',
    async () => (await db.prisma.paymentOutbox.findUniqueOrThrow({ where: { id: row.id } })).publishedAt,
  );
  return true;
}

const cases: { role: PaymentRole; graphql: boolean; webhooks: boolean; consumer: boolean }[] = [
  { role: 'all', graphql: true, webhooks: true, consumer: true },
  { role: 'graphql', graphql: true, webhooks: false, consumer: true },
  { role: 'webhooks', graphql: false, webhooks: true, consumer: false },
];

describe('payment roles', () => {
  it('defaults to all, so npm start and docker compose are unchanged; refuses an unknown role', () => {
    const base = {
      DATABASE_URL: db.url,
      AMQP_URL,
      AUTH_JWKS_URL: 'http://127.0.0.1:1/jwks.json',
      PAYMENT_WEBHOOK_SECRET: SECRET,
    };
    expect(loadPaymentConfig(base).PAYMENT_ROLE).toBe('all');
    expect(() => loadPaymentConfig({ ...base, PAYMENT_ROLE: 'sidecar' })).toThrow(/PAYMENT_ROLE/);
  });

  for (const c of cases) {
    const serves = [c.graphql && 'GraphQL', c.webhooks && 'webhooks'].filter(Boolean).join(' and ');
    const consumes = c.consumer ? ', consumes booking events' : ', consumes nothing';
    it(`${c.role}: serves ${serves}${consumes}, relays its outbox`, async () => {
      const [port, webhookPort] = [await freePort(), await freePort()];
      const service = await startPaymentService(
        loadPaymentConfig({
          NODE_ENV: 'test',
          PAYMENT_ROLE: c.role,
          PORT: String(port),
          WEBHOOK_PORT: String(webhookPort),
          DATABASE_URL: db.url,
          AMQP_URL,
          EVENTS_PREFIX: prefix,
          OUTBOX_INTERVAL_MS: '50',
          AUTH_JWKS_URL: 'http://127.0.0.1:1/.well-known/jwks.json',
          PAYMENT_WEBHOOK_SECRET: SECRET,
        }),
        testLogger,
      );
      try {
        expect(service.url !== null).toBe(c.graphql);
        expect(service.webhookUrl !== null).toBe(c.webhooks);
        const graphql = await statusOf(`http://127.0.0.1:${port}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: '{ _service { sdl } }' }),
        });
        expect(graphql).toBe(c.graphql ? 200 : 'refused');
        // Unsigned: the sidecar refuses it with 401 (it is there); nothing listens otherwise.
        const webhook = await statusOf(`http://127.0.0.1:${webhookPort}/webhooks/payments`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{}',
        });
        expect(webhook).toBe(c.webhooks ? 401 : 'refused');
        // The probes of whichever port it serves.
        for (const [served, p] of [
          [c.graphql, port],
          [c.webhooks, webhookPort],
        ] as const) {
          if (!served) continue;
          expect(await statusOf(`http://127.0.0.1:${p}/health`)).toBe(200);
          expect(await statusOf(`http://127.0.0.1:${p}/ready`)).toBe(200);
        }
        // The relay is connected once it published; by then a consumer would have subscribed too.
        expect(await relayPublishes()).toBe(true);
        if (c.consumer)
          await waitFor(
            'the booking-event consumer',
            async () => (await consumersOf(topology.queues.paymentBookingEvents.queue)) === 1,
          );
        else expect(await consumersOf(topology.queues.paymentBookingEvents.queue)).toBe(0);
      } finally {
        await service.close();
      }
    });
  }
});
