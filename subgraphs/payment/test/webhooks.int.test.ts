// POST /webhooks/payments against the real PostgreSQL: signature, replay window, size limit,
// malformed bodies, the state machine, and exactly-once effects under concurrent duplicates.
// Every rejected request is audited: nothing stored, nothing changed.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpServer } from '@tatkal/common';
import { loadPaymentConfig } from '../src/config.ts';
import { startPaymentService } from '../src/service.ts';
import { createProviderSimulator } from '../src/provider/simulator.ts';
import { serveWebhooks } from '../src/webhooks.ts';
import { computeSignature, signatureHeader } from '../src/webhookSignature.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { createDatabaseProxy } from '../../../test/support/brokerProxy.ts';
import { captureLogger, testLogger } from '../../../test/support/logger.ts';
import { scrape } from '../../../test/support/metrics.ts';

const SECRET = `whsec_current_${randomUUID()}`;
const NEXT_SECRET = `whsec_next_${randomUUID()}`;

let db: TestDatabase;
let sidecar: HttpServer;
let url: string;

beforeAll(async () => {
  db = await createTestDatabase('webhooks');
  sidecar = await serveWebhooks({
    port: 0,
    ready: async () => ({ database: true }),
    prisma: db.prisma,
    secrets: [SECRET, NEXT_SECRET],
    logger: testLogger,
  });
  url = `${sidecar.url}/webhooks/payments`;
});
afterAll(async () => {
  await sidecar?.close();
  await db?.drop();
});

async function newPayment(status: 'PENDING' | 'SUCCEEDED' = 'PENDING') {
  return db.prisma.payment.create({
    data: {
      reservationId: randomUUID(),
      userId: randomUUID(),
      amountPaise: 245_000,
      status,
      providerRef: `sim_pay_${randomUUID()}`,
      checkoutUrl: 'http://127.0.0.1:4006/checkout/x',
    },
  });
}

const event = (type: string, providerRef: string, extra: Record<string, unknown> = {}) => ({
  id: `evt_${randomUUID()}`,
  type,
  created: Math.floor(Date.now() / 1000),
  data: { providerRef, amountPaise: 245_000, ...extra },
});

async function post(body: string, signature: string | null) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature === null ? {} : { 'payment-signature': signature }) },
    body,
  });
  return {
    status: res.status,
    body: (await res.json().catch(() => null)) as { outcome?: string; error?: string } | null,
  };
}

const send = (payload: unknown, secrets = [SECRET], timestamp?: number) => {
  const body = JSON.stringify(payload);
  return post(body, signatureHeader(secrets, body, timestamp));
};

/** Everything a webhook can change, for before/after comparisons. */
async function audit(paymentId: string) {
  return {
    events: await db.prisma.webhookEvent.count(),
    outbox: await db.prisma.paymentOutbox.count(),
    status: (await db.prisma.payment.findUniqueOrThrow({ where: { id: paymentId } })).status,
  };
}

describe('rejected requests store nothing', () => {
  it('forged, missing or malformed signatures -> 401', async () => {
    const p = await newPayment();
    const before = await audit(p.id);
    const body = JSON.stringify(event('payment.succeeded', p.providerRef));
    const t = Math.floor(Date.now() / 1000);
    expect((await post(body, signatureHeader(['whsec_attacker_guess_0000'], body))).status).toBe(401);
    expect((await post(body, null)).status).toBe(401);
    expect((await post(body, `t=${t}`)).status).toBe(401);
    expect((await post(body, `v1=${computeSignature(SECRET, t, body)}`)).status).toBe(401);
    expect((await post(body, `t=${t},v1=${'0'.repeat(64)}`)).status).toBe(401);
    // A valid signature over a different body (tampered amount) does not carry over.
    const tampered = body.replace('245000', '1');
    expect((await post(tampered, signatureHeader([SECRET], body, t))).status).toBe(401);
    expect(await audit(p.id)).toEqual(before);
  });

  it('a stale (or far-future) timestamp -> 401 even with a correct signature', async () => {
    const p = await newPayment();
    const before = await audit(p.id);
    const now = Math.floor(Date.now() / 1000);
    expect((await send(event('payment.succeeded', p.providerRef), [SECRET], now - 301)).status).toBe(401);
    expect((await send(event('payment.succeeded', p.providerRef), [SECRET], now + 400)).status).toBe(401);
    expect(await audit(p.id)).toEqual(before);
  });

  it('malformed JSON or missing fields -> 400', async () => {
    const p = await newPayment();
    const before = await audit(p.id);
    const broken = '{"id": "evt_1", "type": "payment.succeeded", ';
    expect(await post(broken, signatureHeader([SECRET], broken))).toEqual({
      status: 400,
      body: { error: 'body is not JSON' },
    });
    expect((await send({ type: 'payment.succeeded', data: { providerRef: p.providerRef } })).status).toBe(400);
    expect((await send({ id: 'evt_x', type: 'payment.succeeded', data: {} })).status).toBe(400);
    expect((await send({ id: 'evt_y', type: 'refund.succeeded', data: { providerRef: p.providerRef } })).body).toEqual({
      error: 'invalid event: data.refundId: required for refund events',
    });
    expect(await audit(p.id)).toEqual(before);
  });

  it('a body over 64 kB -> 413 before anything else', async () => {
    const p = await newPayment();
    const before = await audit(p.id);
    const big = JSON.stringify({ ...event('payment.succeeded', p.providerRef), padding: 'x'.repeat(70 * 1024) });
    const res = await post(big, signatureHeader([SECRET], big));
    expect(res).toEqual({ status: 413, body: { error: 'body too large' } });
    expect(await audit(p.id)).toEqual(before);
  });

  it('an unknown payment reference -> 404 (the provider retries), nothing stored', async () => {
    const p = await newPayment();
    const before = await audit(p.id);
    expect((await send(event('payment.succeeded', 'sim_pay_nobody'))).status).toBe(404);
    expect(await audit(p.id)).toEqual(before);
  });
});

describe('accepted events', () => {
  it('payment.succeeded moves PENDING -> SUCCEEDED and writes one outbox row', async () => {
    const p = await newPayment();
    const before = await audit(p.id);
    // Fields the sidecar does not know are kept in the stored event, as received.
    const e = { ...event('payment.succeeded', p.providerRef), livemode: false };
    expect(await send(e)).toEqual({ status: 200, body: { received: true, outcome: 'APPLIED' } });
    expect(await audit(p.id)).toEqual({ events: before.events + 1, outbox: before.outbox + 1, status: 'SUCCEEDED' });
    const stored = await db.prisma.webhookEvent.findUniqueOrThrow({ where: { providerEventId: e.id } });
    expect(stored).toMatchObject({ type: 'payment.succeeded', payload: e });
    const outbox = await db.prisma.paymentOutbox.findMany({
      where: { payload: { path: ['data', 'paymentId'], equals: p.id } },
    });
    expect(outbox).toHaveLength(1);
    expect(outbox[0]).toMatchObject({
      exchange: 'payments',
      routingKey: 'payment.succeeded',
      publishedAt: null,
      payload: {
        type: 'payment.succeeded',
        version: 1,
        correlationId: p.reservationId,
        data: { paymentId: p.id, reservationId: p.reservationId, amountPaise: 245_000, providerRef: p.providerRef },
      },
    });
    expect(Date.parse((outbox[0]!.payload as { occurredAt: string }).occurredAt)).not.toBeNaN();
  });

  it('the same event delivered 10 times at once: one state change, one stored event, one outbox row', async () => {
    const p = await newPayment();
    const before = await audit(p.id);
    const e = event('payment.succeeded', p.providerRef);
    const results = await Promise.all(Array.from({ length: 10 }, () => send(e)));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    const outcomes = results.map((r) => r.body!.outcome).sort();
    expect(outcomes).toEqual(['APPLIED', ...Array(9).fill('DUPLICATE')]);
    expect(await audit(p.id)).toEqual({ events: before.events + 1, outbox: before.outbox + 1, status: 'SUCCEEDED' });
  });

  it('34 deliveries at once for 30 payments: each the outcome it would get alone', async () => {
    const payments = await Promise.all(Array.from({ length: 30 }, () => newPayment()));
    const succeeded = payments.slice(0, 26).map((p) => event('payment.succeeded', p.providerRef));
    const failed = payments.slice(26, 28).map((p) => event('payment.failed', p.providerRef));
    const wrongAmount = event('payment.succeeded', payments[28]!.providerRef, { amountPaise: 1 });
    // Two events for one payment in the same moment: the first one applied wins, the other is a no-op.
    const both = [
      event('payment.succeeded', payments[29]!.providerRef),
      event('payment.failed', payments[29]!.providerRef),
    ];
    const deliveries = [
      ...succeeded,
      ...failed,
      wrongAmount,
      ...both,
      succeeded[0]!, // the same event again
      succeeded[1]!,
      event('payment.succeeded', `sim_pay_${randomUUID()}`), // no such payment
    ];
    const before = await db.prisma.webhookEvent.count();
    const outboxBefore = await db.prisma.paymentOutbox.count();
    const results = await Promise.all(deliveries.map((d) => send(d)));
    const outcome = (i: number) => results[i]!.body!.outcome;
    expect(results.slice(0, 28).map((r) => r.body!.outcome)).toEqual(Array(28).fill('APPLIED'));
    expect(outcome(28)).toBe('AMOUNT_MISMATCH');
    expect([outcome(29), outcome(30)].sort()).toEqual(['APPLIED', 'NO_OP']);
    // A repeated event: one copy applied, the other a duplicate.
    expect([outcome(0), outcome(31)].sort()).toEqual(['APPLIED', 'DUPLICATE']);
    expect([outcome(1), outcome(32)].sort()).toEqual(['APPLIED', 'DUPLICATE']);
    expect(results[33]).toEqual({ status: 404, body: { received: false, outcome: 'UNKNOWN_PAYMENT' } });

    const statuses = await db.prisma.payment.findMany({ where: { id: { in: payments.map((p) => p.id) } } });
    const statusOf = (id: string) => statuses.find((p) => p.id === id)!.status;
    expect(payments.slice(0, 26).map((p) => statusOf(p.id))).toEqual(Array(26).fill('SUCCEEDED'));
    expect(payments.slice(26, 28).map((p) => statusOf(p.id))).toEqual(['FAILED', 'FAILED']);
    expect(statusOf(payments[28]!.id)).toBe('PENDING');
    // Stored once each (not the unknown one); one outbox row per applied event (26 + 2 + 1).
    expect(await db.prisma.webhookEvent.count()).toBe(before + 31);
    expect(await db.prisma.paymentOutbox.count()).toBe(outboxBefore + 29);
    const outbox = await db.prisma.paymentOutbox.findMany({
      where: { payload: { path: ['data', 'paymentId'], equals: payments[29]!.id } },
    });
    expect(outbox.map((o) => o.routingKey)).toEqual([
      statusOf(payments[29]!.id) === 'SUCCEEDED' ? 'payment.succeeded' : 'payment.failed',
    ]);
  });

  it('a replayed old event (same id, freshly signed) is a 200 no-op', async () => {
    const p = await newPayment();
    const e = event('payment.failed', p.providerRef);
    expect((await send(e)).body!.outcome).toBe('APPLIED');
    const after = await audit(p.id);
    expect(after.status).toBe('FAILED');
    expect(await send(e)).toEqual({ status: 200, body: { received: true, outcome: 'DUPLICATE' } });
    expect(await audit(p.id)).toEqual(after);
  });

  it('out of order: payment.failed after payment.succeeded does not move the payment back', async () => {
    const p = await newPayment();
    expect((await send(event('payment.succeeded', p.providerRef))).body!.outcome).toBe('APPLIED');
    const before = await audit(p.id);
    expect(await send(event('payment.failed', p.providerRef))).toEqual({
      status: 200,
      body: { received: true, outcome: 'NO_OP' },
    });
    // The event is remembered (a redelivery is a duplicate), the payment and the outbox are not touched.
    expect(await audit(p.id)).toEqual({ ...before, events: before.events + 1, status: 'SUCCEEDED' });
  });

  it('accepts both secrets during a rotation, and a header carrying both signatures', async () => {
    const a = await newPayment();
    const b = await newPayment();
    const c = await newPayment();
    expect((await send(event('payment.succeeded', a.providerRef), [SECRET])).body!.outcome).toBe('APPLIED');
    expect((await send(event('payment.succeeded', b.providerRef), [NEXT_SECRET])).body!.outcome).toBe('APPLIED');
    expect(
      (await send(event('payment.succeeded', c.providerRef), ['whsec_retired_secret_0000', NEXT_SECRET])).body!.outcome,
    ).toBe('APPLIED');
    expect((await audit(c.id)).status).toBe('SUCCEEDED');
  });

  it('refund.succeeded marks the refund SUCCEEDED and the payment REFUNDED, once', async () => {
    const p = await newPayment('SUCCEEDED');
    const refund = await db.prisma.refund.create({
      data: {
        paymentId: p.id,
        amountPaise: 200_000,
        status: 'PENDING',
        reason: 'RESERVATION_CANCELLED',
        providerRefundId: `sim_re_${randomUUID()}`,
      },
    });
    const before = await audit(p.id);
    const e = event('refund.succeeded', p.providerRef, { refundId: refund.providerRefundId, amountPaise: 200_000 });
    expect((await send(e)).body!.outcome).toBe('APPLIED');
    expect((await send(e)).body!.outcome).toBe('DUPLICATE');
    expect(await audit(p.id)).toEqual({ events: before.events + 1, outbox: before.outbox + 1, status: 'REFUNDED' });
    expect((await db.prisma.refund.findUniqueOrThrow({ where: { id: refund.id } })).status).toBe('SUCCEEDED');
    const row = await db.prisma.paymentOutbox.findFirstOrThrow({
      where: { routingKey: 'refund.succeeded', payload: { path: ['data', 'paymentId'], equals: p.id } },
    });
    expect(row.payload).toMatchObject({
      type: 'refund.succeeded',
      data: { paymentId: p.id, amountPaise: 200_000, refundId: refund.id, providerRef: p.providerRef },
    });
    // An unknown refund id: 404, nothing stored.
    const unknown = await audit(p.id);
    expect((await send(event('refund.succeeded', p.providerRef, { refundId: 'sim_re_unknown' }))).status).toBe(404);
    expect(await audit(p.id)).toEqual(unknown);
  });

  it('payment.succeeded for another amount or currency (or none): stored, logged, counted, not confirmed', async () => {
    const p = await newPayment();
    const before = await audit(p.id);
    const mismatches = async () =>
      (await scrape(sidecar.url)).sum('tatkal_payment_webhook_mismatches_total', { type: 'payment.succeeded' });
    const counted = await mismatches();
    const wrong = [
      event('payment.succeeded', p.providerRef, { amountPaise: 100 }),
      event('payment.succeeded', p.providerRef, { amountPaise: 245_000, currency: 'USD' }),
      { ...event('payment.succeeded', p.providerRef), data: { providerRef: p.providerRef } },
    ];
    for (const e of wrong)
      expect(await send(e)).toEqual({ status: 200, body: { received: true, outcome: 'AMOUNT_MISMATCH' } });
    // Each is kept for the audit (a redelivery is a duplicate), the payment stays PENDING, nothing tells booking.
    expect(await audit(p.id)).toEqual({ events: before.events + 3, outbox: before.outbox, status: 'PENDING' });
    expect(await send(wrong[0])).toEqual({ status: 200, body: { received: true, outcome: 'DUPLICATE' } });
    expect(await mismatches()).toBe(counted + 3);
    // The provider's correct event still confirms (currency in any letter case).
    expect((await send(event('payment.succeeded', p.providerRef, { currency: 'inr' }))).body!.outcome).toBe('APPLIED');
    expect((await audit(p.id)).status).toBe('SUCCEEDED');
  });

  it('acknowledges an event type it does not handle without storing it', async () => {
    const p = await newPayment();
    const before = await audit(p.id);
    expect(await send(event('payment.disputed', p.providerRef))).toEqual({
      status: 200,
      body: { received: true, outcome: 'IGNORED' },
    });
    expect(await audit(p.id)).toEqual(before);
  });
});

describe('with the provider simulator delivering duplicates in shuffled order', () => {
  it('ends every payment in the state its first real outcome set, each effect once', async () => {
    const sim = createProviderSimulator({
      webhookUrl: url,
      secrets: [NEXT_SECRET],
      duplicateRate: 1,
      shuffle: true,
      shuffleWindowMs: 50,
      baseDelayMs: 50,
    });
    try {
      const before = { events: await db.prisma.webhookEvent.count(), outbox: await db.prisma.paymentOutbox.count() };
      const outcomes = Array.from(
        { length: 8 },
        (_, i) => (i % 3 === 0 ? 'FAILED' : 'SUCCEEDED') as 'FAILED' | 'SUCCEEDED',
      );
      const payments = [];
      for (const outcome of outcomes) {
        const remote = sim.createPayment({ amountPaise: 50_000 });
        const p = await db.prisma.payment.create({
          data: {
            reservationId: randomUUID(),
            userId: randomUUID(),
            amountPaise: 50_000,
            status: 'PENDING',
            providerRef: remote.id,
            checkoutUrl: remote.checkoutUrl,
          },
        });
        payments.push({ id: p.id, outcome });
        if (outcome === 'FAILED') sim.fail(remote.id);
        else sim.succeed(remote.id);
      }
      await sim.idle();
      expect(sim.deliveries).toHaveLength(16);
      expect(sim.deliveries.every((d) => d.status === 'delivered')).toBe(true);
      for (const p of payments)
        expect((await db.prisma.payment.findUniqueOrThrow({ where: { id: p.id } })).status).toBe(p.outcome);
      expect(await db.prisma.webhookEvent.count()).toBe(before.events + 8);
      expect(await db.prisma.paymentOutbox.count()).toBe(before.outbox + 8);
    } finally {
      await sim.close();
    }
  });
});

describe('the payment process: readiness, request ids and metrics on the sidecar', () => {
  it('adopts or makes a request id, logs under it, counts by route; not ready while its database is away', async () => {
    const { logger, lines } = captureLogger('payment-test');
    // The database through a proxy this test can cut, as if PostgreSQL went away.
    const pg = await createDatabaseProxy();
    await pg.start();
    const service = await startPaymentService(
      loadPaymentConfig({
        NODE_ENV: 'test',
        PORT: '0',
        WEBHOOK_PORT: '0',
        DATABASE_URL: pg.urlFor(db.url),
        EVENTS_ENABLED: 'false',
        AMQP_URL: 'amqp://127.0.0.1:1',
        AUTH_JWKS_URL: 'http://127.0.0.1:1/.well-known/jwks.json',
        PAYMENT_WEBHOOK_SECRET: SECRET,
      }),
      logger,
    );
    const ready = async (base: string) => {
      const res = await fetch(`${base}/ready`);
      return [res.status, await res.json()];
    };
    try {
      for (const base of [service.url!, service.webhookUrl!])
        expect(await ready(base)).toEqual([200, { status: 'ready', checks: { database: true } }]);

      const refused = async (base: string) =>
        (await scrape(base)).sum('tatkal_http_requests_total', {
          method: 'POST',
          route: '/webhooks/payments',
          status_code: '401',
        });
      const refusedBefore = await refused(service.webhookUrl!);
      // A bad signature: refused and logged, under the provider's request id, sent back to it.
      const body = JSON.stringify(event('payment.succeeded', 'sim_pay_unknown'));
      const res = await fetch(`${service.webhookUrl!}/webhooks/payments`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'payment-signature': 't=1,v1=00',
          'x-request-id': 'provider-req-42',
        },
        body,
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('x-request-id')).toBe('provider-req-42');
      expect(lines.find((l) => l.msg === 'webhook rejected: bad signature')).toMatchObject({
        requestId: 'provider-req-42',
      });
      const generated = await fetch(`${service.webhookUrl!}/webhooks/payments`, { method: 'POST', body });
      expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);

      // One registry per process: the sidecar's port shows the same metrics as the subgraph's.
      for (const base of [service.url!, service.webhookUrl!]) expect(await refused(base)).toBe(refusedBefore + 2);

      // PostgreSQL goes away: both ports say so, naming the dependency (a check that hangs instead
      // is cut off by its time-out: packages/common/src/http.test.ts).
      await pg.stop();
      for (const base of [service.url!, service.webhookUrl!])
        expect(await ready(base)).toEqual([503, { status: 'not ready', checks: { database: false } }]);
      // Liveness does not depend on it.
      expect((await fetch(`${service.webhookUrl!}/health`)).status).toBe(200);

      // Back: ready again without a restart.
      await pg.start();
      for (const base of [service.url!, service.webhookUrl!])
        expect(await ready(base)).toEqual([200, { status: 'ready', checks: { database: true } }]);
    } finally {
      await service.close();
      await pg.stop();
    }
  });
});
