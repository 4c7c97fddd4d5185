// The payment subgraph against the real PostgreSQL and Redis, with the provider simulator as the
// provider and a stand-in for booking's answer (the e2e test asks the real booking subgraph).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, type HttpServer, type Identity, type Redis } from '@tatkal/common';
import type { BookingClient, HeldReservation } from '../src/bookingClient.ts';
import type { PaymentContext } from '../src/context.ts';
import { createPaymentDeps } from '../src/deps.ts';
import { requestRefund, refundRequester } from '../src/domain/refunds.ts';
import { createProviderClient } from '../src/provider/client.ts';
import { createProviderSimulator, type ProviderSimulator } from '../src/provider/simulator.ts';
import { buildPaymentServer } from '../src/server.ts';
import { serveWebhooks } from '../src/webhooks.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.ts';
import { REDIS_URL } from '../../../test/support/env.ts';
import { errorCodes, execute } from '../../../test/support/graphql.ts';
import { identity } from '../../../test/support/tokens.ts';
import { testLogger } from '../../../test/support/logger.ts';
import { countingPrisma, type CountingPrisma } from '../../../test/support/queryCount.ts';

const SECRET = `whsec_${randomUUID()}`;
let db: TestDatabase;
let redis: Redis;
let simulator: ProviderSimulator;
let providerHttp: HttpServer;
let sidecar: HttpServer;
const { server } = buildPaymentServer({ logger: testLogger, production: false });

/** What booking would answer, per reservation id (absent: not the caller's or does not exist). */
const reservations = new Map<string, HeldReservation>();
const bookingCalls: ({ id: string } & Parameters<BookingClient['reservation']>[1])[] = [];
const booking: BookingClient = {
  reservation: async (id, caller) => {
    bookingCalls.push({ id, ...caller });
    return reservations.get(id) ?? null;
  },
};

let deps: ReturnType<typeof createPaymentDeps>;
const ctx = (who: Identity | null, overrides: Partial<PaymentContext> = {}): PaymentContext => ({
  ...deps,
  identity: who,
  requestId: 'req-test',
  clientIp: '203.0.113.5',
  log: testLogger,
  authorization: who ? `Bearer token-of-${who.userId}` : undefined,
  ...overrides,
});
const owner = identity(randomUUID());
let paymentId: string;

function holdReservation(
  farePaise = 245_000,
  status = 'HELD',
  holdExpiresAt: Date | null = new Date(Date.now() + 600_000),
) {
  const id = randomUUID();
  reservations.set(id, {
    id,
    pnr: String(4_000_000_000 + Math.floor(Math.random() * 1e9)),
    status,
    farePaise,
    holdExpiresAt,
  });
  return id;
}

const CREATE = `mutation($r: ID!, $k: String!) {
  createPayment(reservationId: $r, idempotencyKey: $k) {
    id reservationId amountPaise currency status providerRef checkoutUrl createdAt refunds { id }
  }
}`;

beforeAll(async () => {
  db = await createTestDatabase('payment');
  redis = createRedis(REDIS_URL);
  simulator = createProviderSimulator({
    webhookUrl: 'http://127.0.0.1:1/unset',
    secrets: [SECRET],
    baseDelayMs: 50,
    maxAttempts: 4,
  });
  providerHttp = await simulator.listen(0, '127.0.0.1');
  sidecar = await serveWebhooks({
    port: 0,
    ready: async () => ({ database: true }),
    prisma: db.prisma,
    secrets: [SECRET],
    logger: testLogger,
  });
  simulator.setWebhookUrl(`${sidecar.url}/webhooks/payments`);
  deps = {
    ...createPaymentDeps(
      db.prisma,
      redis,
      { bookingUrl: 'http://127.0.0.1:1/graphql', providerUrl: providerHttp.url },
      testLogger,
    ),
    booking,
  };
  await server.start();
  const p = await db.prisma.payment.create({
    data: {
      reservationId: randomUUID(),
      userId: owner.userId,
      amountPaise: 245_000,
      status: 'PENDING',
      providerRef: `sim_${randomUUID()}`,
      checkoutUrl: 'http://localhost:4006/checkout/x',
    },
  });
  paymentId = p.id;
});
afterAll(async () => {
  await server.stop();
  await simulator?.close();
  await sidecar?.close();
  redis?.disconnect();
  await db?.drop();
});

describe('Payment entity', () => {
  const ENTITIES = `query($r: [_Any!]!) {
    _entities(representations: $r) { ... on Payment { id amountPaise status currency refunds { amountPaise } } }
  }`;

  it('resolves Payment by id for its owner and for an admin', async () => {
    const own = await execute(server, ENTITIES, { r: [{ __typename: 'Payment', id: paymentId }] }, ctx(owner));
    expect(own.errors).toBeUndefined();
    expect(own.data!._entities).toEqual([
      { id: paymentId, amountPaise: 245_000, status: 'PENDING', currency: 'INR', refunds: [] },
    ]);
    const admin = await execute(
      server,
      ENTITIES,
      { r: [{ __typename: 'Payment', id: paymentId }] },
      ctx(identity(randomUUID(), 'ADMIN')),
    );
    expect(admin.data!._entities[0].id).toBe(paymentId);
  });

  it("does not leak another user's payment", async () => {
    const other = await execute(
      server,
      ENTITIES,
      { r: [{ __typename: 'Payment', id: paymentId }] },
      ctx(identity(randomUUID())),
    );
    expect(other.data!._entities).toEqual([null]);
    const q = await execute(
      server,
      `query($id: ID!) { payment(id: $id) { id } }`,
      { id: paymentId },
      ctx(identity(randomUUID())),
    );
    expect(q.data!.payment).toBeNull();
  });

  it('requires sign-in for payment(id) and myPayments', async () => {
    const anon = await execute(server, `query($id: ID!) { payment(id: $id) { id } }`, { id: paymentId }, ctx(null));
    expect(errorCodes(anon)).toEqual(['UNAUTHENTICATED']);
    expect(errorCodes(await execute(server, `{ myPayments { nodes { id } } }`, {}, ctx(null)))).toEqual([
      'UNAUTHENTICATED',
    ]);
  });
});

describe('createPayment', () => {
  it('creates a PENDING payment for the fare booking reports, at the provider, as the caller', async () => {
    const who = identity(randomUUID());
    const r = holdReservation(312_500);
    const key = randomUUID();
    const res = await execute(server, CREATE, { r, k: key }, ctx(who));
    expect(res.errors).toBeUndefined();
    const p = res.data!.createPayment;
    expect(p).toMatchObject({
      reservationId: r,
      amountPaise: 312_500,
      currency: 'INR',
      status: 'PENDING',
      refunds: [],
    });
    expect(p.providerRef).toMatch(/^sim_pay_[0-9a-f]{24}$/);
    expect(p.checkoutUrl).toBe(`${providerHttp.url}/checkout/${p.providerRef}`);
    expect(simulator.payment(p.providerRef)).toMatchObject({
      amountPaise: 312_500,
      status: 'pending',
      metadata: { paymentId: p.id, reservationId: r },
    });
    expect(bookingCalls.at(-1)).toEqual({
      id: r,
      authorization: `Bearer token-of-${who.userId}`,
      requestId: 'req-test',
      identity: who,
      clientIp: '203.0.113.5',
    });
    expect(await db.prisma.payment.findUniqueOrThrow({ where: { id: p.id } })).toMatchObject({
      userId: who.userId,
      amountPaise: 312_500,
      status: 'PENDING',
    });

    // The same key replays the same payment; another key returns the live one: never two payments.
    const replay = await execute(server, CREATE, { r, k: key }, ctx(who));
    expect(replay.data!.createPayment).toEqual(p);
    const again = await execute(server, CREATE, { r, k: randomUUID() }, ctx(who));
    expect(again.data!.createPayment.id).toBe(p.id);
    expect(await db.prisma.payment.count({ where: { reservationId: r } })).toBe(1);
    expect(simulator.refunds()).toEqual([]);
  });

  it('refuses what booking does not confirm as a live hold, storing nothing', async () => {
    const who = identity(randomUUID());
    const before = await db.prisma.payment.count();
    const cases: [string, string][] = [
      [randomUUID(), 'NOT_FOUND'],
      [holdReservation(100_000, 'CONFIRMED'), 'INVALID_STATE'],
      [holdReservation(100_000, 'CANCELLED', null), 'INVALID_STATE'],
      [holdReservation(100_000, 'EXPIRED', null), 'INVALID_STATE'],
      // The legacy unpaid status of a waitlisted reservation (before issue 21 a waitlisted ticket was
      // not bought; now it is HELD with a hold like any other and paid as one).
      [holdReservation(100_000, 'WAITLISTED', null), 'INVALID_STATE'],
      [holdReservation(100_000, 'HELD', new Date(Date.now() - 1_000)), 'HOLD_EXPIRED'],
    ];
    for (const [r, code] of cases) {
      const key = randomUUID();
      const res = await execute(server, CREATE, { r, k: key }, ctx(who));
      expect(errorCodes(res), code).toEqual([code]);
      expect(res.data).toBeNull();
      // The first answer is not a replay; only a retry with the same key says so.
      expect(res.errors![0]!.extensions, code).not.toHaveProperty('replayed');
      // A domain error is an outcome: the same key replays it.
      const replay = await execute(server, CREATE, { r, k: key }, ctx(who));
      expect(errorCodes(replay)).toEqual([code]);
      expect(replay.errors![0]!.extensions!.replayed).toBe(true);
      expect(replay.errors![0]!.message).toBe(res.errors![0]!.message);
    }
    expect(errorCodes(await execute(server, CREATE, { r: 'not-a-uuid', k: randomUUID() }, ctx(who)))).toEqual([
      'BAD_USER_INPUT',
    ]);
    expect(errorCodes(await execute(server, CREATE, { r: holdReservation(), k: randomUUID() }, ctx(null)))).toEqual([
      'UNAUTHENTICATED',
    ]);
    expect(errorCodes(await execute(server, CREATE, { r: holdReservation(), k: '' }, ctx(who)))).toEqual([
      'BAD_USER_INPUT',
    ]);
    expect(await db.prisma.payment.count()).toBe(before);
  });

  it('answers TRY_AGAIN and stores nothing when the provider or booking is unreachable', async () => {
    const who = identity(randomUUID());
    const before = await db.prisma.payment.count();
    const r = holdReservation();
    const key = randomUUID();
    const deadProvider = { provider: createProviderClient('http://127.0.0.1:1') };
    expect(errorCodes(await execute(server, CREATE, { r, k: key }, ctx(who, deadProvider)))).toEqual(['TRY_AGAIN']);
    const deadBooking = {
      booking: createPaymentDeps(
        db.prisma,
        null,
        { bookingUrl: 'http://127.0.0.1:1/graphql', providerUrl: providerHttp.url },
        testLogger,
      ).booking,
    };
    expect(errorCodes(await execute(server, CREATE, { r, k: randomUUID() }, ctx(who, deadBooking)))).toEqual([
      'TRY_AGAIN',
    ]);
    expect(await db.prisma.payment.count()).toBe(before);
    // Not remembered: the same key works once the provider is back.
    const ok = await execute(server, CREATE, { r, k: key }, ctx(who));
    expect(ok.data!.createPayment.status).toBe('PENDING');
  });

  it('creates one payment when many keys race for one reservation', async () => {
    const who = identity(randomUUID());
    const r = holdReservation();
    const results = await Promise.all(
      Array.from({ length: 8 }, () => execute(server, CREATE, { r, k: randomUUID() }, ctx(who))),
    );
    expect(results.flatMap(errorCodes)).toEqual([]);
    expect(new Set(results.map((x) => x.data!.createPayment.id)).size).toBe(1);
    expect(await db.prisma.payment.count({ where: { reservationId: r } })).toBe(1);
  });

  it('payments created together share their statements, each with its own row and stored answer', async () => {
    const counting = countingPrisma(db.url);
    try {
      const payers = Array.from({ length: 30 }, () => ({
        who: identity(randomUUID()),
        r: holdReservation(),
        k: randomUUID(),
      }));
      const deps30 = createPaymentDeps(
        counting.prisma,
        null,
        { bookingUrl: 'http://127.0.0.1:1/graphql', providerUrl: providerHttp.url },
        testLogger,
      );
      // "Together": the provider's answers are handed back at once, when all 30 have theirs (on a
      // busy machine they would otherwise trickle in, and an insert could find no company).
      let answered = 0;
      let releaseAll = () => {};
      const allAnswered = new Promise<void>((resolve) => {
        releaseAll = resolve;
      });
      const provider = {
        ...deps30.provider,
        createPayment: async (input: Parameters<typeof deps30.provider.createPayment>[0]) => {
          const remote = await deps30.provider.createPayment(input);
          if (++answered === payers.length) releaseAll();
          await allAnswered;
          return remote;
        },
      };
      // No Redis: a retry's answer can only come from the record the insert's statement completed.
      const together = { ...deps30, booking, provider };
      let results: Awaited<ReturnType<typeof execute>>[] = [];
      const statements = await counting.statementsDuring(async () => {
        results = await Promise.all(
          payers.map((p) => execute(server, CREATE, { r: p.r, k: p.k }, ctx(p.who, together))),
        );
      });
      expect(results.flatMap(errorCodes)).toEqual([]);
      const created = results.map((x) => x.data!.createPayment);
      expect(created.map((c) => c.reservationId)).toEqual(payers.map((p) => p.r));
      expect(new Set(created.map((c) => c.id)).size).toBe(payers.length);
      // 30 claims and 30 inserts arriving together: a statement or two each, not 30.
      const inserts = statements.filter((s) => /INSERT INTO payment\.payments/.test(s));
      const claims = statements.filter((s) => /INSERT INTO "payment"\."idempotency_keys"/.test(s));
      expect(inserts.length).toBeLessThanOrEqual(2);
      expect(claims.length).toBeLessThanOrEqual(2);
      const rows = await db.prisma.payment.findMany({ where: { reservationId: { in: payers.map((p) => p.r) } } });
      expect(rows.map((r) => r.id).sort()).toEqual(created.map((c) => c.id).sort());
      // Every record holds its own payment: a retry of each key replays it, nothing new is created.
      const retried = await Promise.all(
        payers.map((p) => execute(server, CREATE, { r: p.r, k: p.k }, ctx(p.who, together))),
      );
      expect(retried.map((x) => x.data!.createPayment.id)).toEqual(created.map((c) => c.id));
      expect(await db.prisma.payment.count({ where: { reservationId: { in: payers.map((p) => p.r) } } })).toBe(30);
    } finally {
      await counting.disconnect();
    }
  });

  it('the database refuses a second live payment of a reservation, and allows one after a failure', async () => {
    const r = randomUUID();
    const insert = (status: string) =>
      db.prisma.$executeRaw`
        INSERT INTO payment.payments (id, reservation_id, user_id, amount_paise, status, provider_ref, checkout_url,
          updated_at)
        VALUES (${randomUUID()}::uuid, ${r}::uuid, ${randomUUID()}::uuid, 100, ${status}::payment."PaymentStatus",
          ${`pay_${randomUUID()}`}, 'http://x/checkout', now())`;
    await insert('PENDING');
    await expect(insert('SUCCEEDED')).rejects.toThrow(/payments_one_live_per_reservation|unique/i);
    await db.prisma.payment.updateMany({ where: { reservationId: r }, data: { status: 'FAILED' } });
    await insert('PENDING');
    expect(await db.prisma.payment.count({ where: { reservationId: r } })).toBe(2);
  });

  it('holds no database transaction while it waits for the provider', async () => {
    const who = identity(randomUUID());
    const r = holdReservation();
    // What PostgreSQL shows while the provider is being called: no transaction of ours may be open
    // (an open one would hold a pooled connection the webhook sidecar needs).
    let openDuringCall = -1;
    const provider = {
      ...deps.provider,
      createPayment: async (input: Parameters<typeof deps.provider.createPayment>[0]) => {
        const rows = await db.prisma.$queryRaw<{ n: bigint }[]>`
          SELECT count(*)::bigint AS n FROM pg_stat_activity
          WHERE datname = current_database() AND state LIKE 'idle in transaction%'`;
        openDuringCall = Number(rows[0]!.n);
        return deps.provider.createPayment(input);
      },
    };
    const res = await execute(server, CREATE, { r, k: randomUUID() }, ctx(who, { provider }));
    expect(res.errors).toBeUndefined();
    expect(openDuringCall).toBe(0);
    expect(await db.prisma.payment.count({ where: { reservationId: r } })).toBe(1);
  });

  it('allows a new payment after a failed one', async () => {
    const who = identity(randomUUID());
    const r = holdReservation();
    const first = (await execute(server, CREATE, { r, k: randomUUID() }, ctx(who))).data!.createPayment;
    await db.prisma.payment.update({ where: { id: first.id }, data: { status: 'FAILED' } });
    const second = (await execute(server, CREATE, { r, k: randomUUID() }, ctx(who))).data!.createPayment;
    expect(second.id).not.toBe(first.id);
    expect(second.status).toBe('PENDING');
  });
});

describe('Reservation.payment, User.payments, myPayments', () => {
  it('_entities Reservation: the latest payment, for its payer or an admin only', async () => {
    const who = identity(randomUUID());
    const r = holdReservation(99_000);
    const created = (await execute(server, CREATE, { r, k: randomUUID() }, ctx(who))).data!.createPayment;
    const Q = `query($r: [_Any!]!) {
      _entities(representations: $r) { ... on Reservation { id payment { id amountPaise status } } }
    }`;
    const reps = {
      r: [
        { __typename: 'Reservation', id: r },
        { __typename: 'Reservation', id: randomUUID() },
      ],
    };
    const own = await execute(server, Q, reps, ctx(who));
    expect(own.errors).toBeUndefined();
    expect(own.data!._entities).toEqual([
      { id: r, payment: { id: created.id, amountPaise: 99_000, status: 'PENDING' } },
      { id: reps.r[1]!.id, payment: null },
    ]);
    expect((await execute(server, Q, reps, ctx(identity(randomUUID(), 'ADMIN')))).data!._entities[0].payment.id).toBe(
      created.id,
    );
    expect((await execute(server, Q, reps, ctx(identity(randomUUID())))).data!._entities[0]).toEqual({
      id: r,
      payment: null,
    });
    expect((await execute(server, Q, reps, ctx(null))).data!._entities[0]).toEqual({ id: r, payment: null });
  });

  it('_entities User: payments newest first, paged; empty for anyone else', async () => {
    const who = identity(randomUUID());
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push(
        (await execute(server, CREATE, { r: holdReservation(1_000 * (i + 1)), k: randomUUID() }, ctx(who))).data!
          .createPayment.id,
      );
    const Q = `query($r: [_Any!]!, $after: String) {
      _entities(representations: $r) {
        ... on User { id payments(first: 2, after: $after) { nodes { id amountPaise } nextCursor } }
      }
    }`;
    const rep = { r: [{ __typename: 'User', id: who.userId }] };
    const page1 = await execute(server, Q, rep, ctx(who));
    expect(page1.errors).toBeUndefined();
    const first = page1.data!._entities[0].payments;
    expect(first.nodes).toEqual([
      { id: ids[2], amountPaise: 3_000 },
      { id: ids[1], amountPaise: 2_000 },
    ]);
    expect(first.nextCursor).toEqual(expect.any(String));
    const page2 = await execute(server, Q, { ...rep, after: first.nextCursor }, ctx(who));
    expect(page2.data!._entities[0].payments).toEqual({
      nodes: [{ id: ids[0], amountPaise: 1_000 }],
      nextCursor: null,
    });
    expect((await execute(server, Q, rep, ctx(identity(randomUUID())))).data!._entities[0].payments).toEqual({
      nodes: [],
      nextCursor: null,
    });
    expect(
      (await execute(server, Q, rep, ctx(identity(randomUUID(), 'ADMIN')))).data!._entities[0].payments.nodes,
    ).toHaveLength(2);

    const mine = await execute(server, `{ myPayments(first: 5) { nodes { id } nextCursor } }`, {}, ctx(who));
    expect(mine.data!.myPayments).toEqual({ nodes: [...ids].reverse().map((id) => ({ id })), nextCursor: null });
    expect(errorCodes(await execute(server, `{ myPayments(first: 0) { nodes { id } } }`, {}, ctx(who)))).toEqual([
      'BAD_USER_INPUT',
    ]);
    expect(errorCodes(await execute(server, `{ myPayments(after: "bogus") { nodes { id } } }`, {}, ctx(who)))).toEqual([
      'BAD_USER_INPUT',
    ]);
  });
});

describe('requestRefund and the refund webhook', () => {
  async function paidReservation(amountPaise = 500_000) {
    const who = identity(randomUUID());
    const r = holdReservation(amountPaise);
    const p = (await execute(server, CREATE, { r, k: randomUUID() }, ctx(who))).data!.createPayment;
    simulator.succeed(p.providerRef);
    await simulator.idle();
    expect((await db.prisma.payment.findUniqueOrThrow({ where: { id: p.id } })).status).toBe('SUCCEEDED');
    return { reservationId: r, paymentId: p.id as string, providerRef: p.providerRef as string };
  }

  it('records one PENDING refund per (reservation, reason); the provider webhook completes it', async () => {
    const paid = await paidReservation();
    const input = { reservationId: paid.reservationId, amountPaise: 450_000, reason: 'RESERVATION_CANCELLED' };
    const [a, b] = await Promise.all([
      requestRefund(db.prisma, input, deps.provider),
      requestRefund(db.prisma, input, deps.provider),
    ]);
    expect([a.created, b.created].sort()).toEqual([false, true]);
    expect(a.refund.id).toBe(b.refund.id);
    expect(a.refund).toMatchObject({
      paymentId: paid.paymentId,
      amountPaise: 450_000,
      reason: 'RESERVATION_CANCELLED',
    });
    expect(a.refund.providerRefundId).toMatch(/^sim_re_/);
    expect(simulator.refunds().filter((r) => r.payment === paid.providerRef)).toHaveLength(1);

    await simulator.idle();
    expect(
      await db.prisma.refund.findMany({
        where: { paymentId: paid.paymentId },
        select: { status: true, amountPaise: true },
      }),
    ).toEqual([{ status: 'SUCCEEDED', amountPaise: 450_000 }]);
    expect((await db.prisma.payment.findUniqueOrThrow({ where: { id: paid.paymentId } })).status).toBe('REFUNDED');
    const events = await db.prisma.paymentOutbox.findMany({
      where: { payload: { path: ['data', 'paymentId'], equals: paid.paymentId } },
      orderBy: { createdAt: 'asc' },
    });
    expect(events.map((e) => e.routingKey)).toEqual(['payment.succeeded', 'refund.succeeded']);

    // Visible on the payment.
    const view = await execute(
      server,
      `query($r: [_Any!]!) {
        _entities(representations: $r) { ... on Payment { status refunds { amountPaise status reason } } }
      }`,
      { r: [{ __typename: 'Payment', id: paid.paymentId }] },
      ctx(identity(randomUUID(), 'ADMIN')),
    );
    expect(view.data!._entities[0]).toEqual({
      status: 'REFUNDED',
      refunds: [{ amountPaise: 450_000, status: 'SUCCEEDED', reason: 'RESERVATION_CANCELLED' }],
    });
  });

  it('works inside the caller transaction (as the booking-event consumer calls it), rolls back with it', async () => {
    const paid = await paidReservation(300_000);
    const request = refundRequester(deps.provider);
    const input = { reservationId: paid.reservationId, amountPaise: 300_000, reason: 'HOLD_EXPIRED_BERTHS_GONE' };
    await expect(
      db.prisma.$transaction(async (tx) => {
        await request(tx, input);
        throw new Error('consumer failed after the refund request');
      }),
    ).rejects.toThrow('consumer failed');
    expect(await db.prisma.refund.count({ where: { paymentId: paid.paymentId } })).toBe(0);
    // The retry gets the provider's first refund back (same idempotency key): money moves once.
    await db.prisma.$transaction((tx) => request(tx, input));
    await simulator.idle();
    const refunds = await db.prisma.refund.findMany({ where: { paymentId: paid.paymentId } });
    expect(refunds).toHaveLength(1);
    expect(refunds[0]!.status).toBe('SUCCEEDED');
    expect(simulator.refunds().filter((r) => r.payment === paid.providerRef)).toHaveLength(1);
    expect(simulator.refunds().find((r) => r.payment === paid.providerRef)!.id).toBe(refunds[0]!.providerRefundId);
  });

  it('refuses a refund without a successful payment or beyond the amount paid', async () => {
    await expect(
      requestRefund(
        db.prisma,
        { reservationId: randomUUID(), amountPaise: 100, reason: 'RESERVATION_CANCELLED' },
        deps.provider,
      ),
    ).rejects.toThrow(/no successful payment/);
    const paid = await paidReservation(10_000);
    await expect(
      requestRefund(
        db.prisma,
        { reservationId: paid.reservationId, amountPaise: 10_001, reason: 'RESERVATION_CANCELLED' },
        deps.provider,
      ),
    ).rejects.toThrow(/exceeds/);
    expect(await db.prisma.refund.count({ where: { paymentId: paid.paymentId } })).toBe(0);
  });
});

describe('entity fetches with many references (one query per kind, not one per reference)', () => {
  const payer = identity(randomUUID());
  const stranger = randomUUID();
  let counting: CountingPrisma;
  /** The caller's payments in creation order (two per reservation: a FAILED one, then the latest). */
  const mine: { id: string; reservationId: string; amountPaise: number; refunds: number[] }[] = [];
  const theirs: { id: string; reservationId: string }[] = [];
  /** Every payment of the caller, oldest first. */
  const allMine: string[] = [];

  beforeAll(async () => {
    counting = countingPrisma(db.url);
    const at = (i: number) => new Date(Date.UTC(2030, 0, 1, 0, 0, i));
    const pay = (
      userId: string,
      reservationId: string,
      amountPaise: number,
      status: 'FAILED' | 'SUCCEEDED',
      i: number,
    ) =>
      db.prisma.payment.create({
        data: {
          reservationId,
          userId,
          amountPaise,
          status,
          providerRef: `sim_${randomUUID()}`,
          checkoutUrl: 'http://x/c',
          createdAt: at(i),
        },
      });
    for (let i = 0; i < 8; i++) {
      const reservationId = randomUUID();
      const failed = await pay(payer.userId, reservationId, 100 + i, 'FAILED', 2 * i);
      const latest = await pay(payer.userId, reservationId, 1_000 + i, 'SUCCEEDED', 2 * i + 1);
      allMine.push(failed.id, latest.id);
      const refunds = i % 3 === 0 ? [10 + i, 20 + i] : [];
      for (const [k, amountPaise] of refunds.entries()) {
        await db.prisma.refund.create({
          data: {
            paymentId: latest.id,
            amountPaise,
            status: 'SUCCEEDED',
            reason: 'RESERVATION_CANCELLED',
            createdAt: at(100 + k),
          },
        });
      }
      mine.push({ id: latest.id, reservationId, amountPaise: 1_000 + i, refunds });
    }
    for (let i = 0; i < 6; i++) {
      const p = await pay(stranger, randomUUID(), 5_000 + i, 'SUCCEEDED', 50 + i);
      await db.prisma.refund.create({
        data: { paymentId: p.id, amountPaise: 1, status: 'PENDING', reason: 'RESERVATION_CANCELLED' },
      });
      theirs.push({ id: p.id, reservationId: p.reservationId });
    }
  });
  afterAll(() => counting?.disconnect());

  /** 20 ids: the caller's, someone else's, unknown and malformed ones, a repeat, interleaved. */
  const mixed = (own: string[], other: string[]) => [
    own[0]!,
    other[0]!,
    own[1]!,
    randomUUID(),
    own[2]!,
    'nope',
    own[3]!,
    other[1]!,
    own[4]!,
    other[2]!,
    own[5]!,
    randomUUID(),
    other[3]!,
    own[6]!,
    other[4]!,
    own[7]!,
    "' OR 1=1 --",
    other[5]!,
    own[0]!,
    randomUUID(),
  ];

  async function measured(query: string, reps: { __typename: string; id: string }[], who: Identity) {
    let res: Awaited<ReturnType<typeof execute>> | undefined;
    const sql = await counting.statementsDuring(async () => {
      res = await execute(server, query, { r: reps }, ctx(who, { prisma: counting.prisma }));
    });
    expect(res!.errors).toBeUndefined();
    return { entities: res!.data!._entities as unknown[], sql };
  }

  it("Payment: 20 references with their refunds in two queries; others' payments are null", async () => {
    const ids = mixed(
      mine.map((p) => p.id),
      theirs.map((p) => p.id),
    );
    const Q = `query($r: [_Any!]!) {
      _entities(representations: $r) { ... on Payment { id amountPaise refunds { amountPaise } } }
    }`;
    const { entities, sql } = await measured(
      Q,
      ids.map((id) => ({ __typename: 'Payment', id })),
      payer,
    );
    const expected = new Map(
      mine.map((p) => [
        p.id,
        { id: p.id, amountPaise: p.amountPaise, refunds: p.refunds.map((amountPaise) => ({ amountPaise })) },
      ]),
    );
    expect(entities).toEqual(ids.map((id) => expected.get(id) ?? null));
    // Payments, then the refunds of the visible ones, each in one query: the count does not grow with the ids.
    expect(sql).toHaveLength(2);
  });

  it('Reservation.payment: the latest visible payment of 20 reservations, with refunds, in two queries', async () => {
    const ids = mixed(
      mine.map((p) => p.reservationId),
      theirs.map((p) => p.reservationId),
    );
    const Q = `query($r: [_Any!]!) {
      _entities(representations: $r) {
        ... on Reservation { id payment { id amountPaise refunds { amountPaise } } }
      }
    }`;
    const { entities, sql } = await measured(
      Q,
      ids.map((id) => ({ __typename: 'Reservation', id })),
      payer,
    );
    const latest = new Map(
      mine.map((p) => [
        p.reservationId,
        { id: p.id, amountPaise: p.amountPaise, refunds: p.refunds.map((amountPaise) => ({ amountPaise })) },
      ]),
    );
    expect(entities).toEqual(ids.map((id) => ({ id, payment: latest.get(id) ?? null })));
    // Latest payments, then refunds. Before batching: 27 (one per well-formed id, one per refund list).
    expect(sql).toHaveLength(2);
    // An admin sees the other user's payments too, through the same two queries.
    const admin = await measured(
      Q,
      ids.map((id) => ({ __typename: 'Reservation', id })),
      identity(randomUUID(), 'ADMIN'),
    );
    const all = new Map([
      ...latest,
      ...theirs.map((p) => [p.reservationId, expect.objectContaining({ id: p.id })] as const),
    ]);
    expect(admin.entities).toEqual(ids.map((id) => ({ id, payment: all.get(id) ?? null })));
    expect(admin.sql).toHaveLength(2);
  });

  it('User.payments: a page for each of 20 users in two queries; empty for users the caller may not read', async () => {
    const users = [payer.userId, stranger, ...Array.from({ length: 17 }, () => randomUUID()), 'not-a-uuid'];
    const Q = `query($r: [_Any!]!) {
      _entities(representations: $r) { ... on User { id payments(first: 3) { nodes { id } nextCursor } } }
    }`;
    const admin = await measured(
      Q,
      users.map((id) => ({ __typename: 'User', id })),
      identity(randomUUID(), 'ADMIN'),
    );
    const newestFirst = [...allMine].reverse().map((id) => ({ id }));
    expect(admin.entities[0]).toEqual({
      id: payer.userId,
      payments: { nodes: newestFirst.slice(0, 3), nextCursor: expect.any(String) },
    });
    expect(admin.entities[1]).toEqual({
      id: stranger,
      payments: {
        nodes: [...theirs]
          .reverse()
          .slice(0, 3)
          .map((p) => ({ id: p.id })),
        nextCursor: expect.any(String),
      },
    });
    expect(admin.entities.slice(2)).toEqual(
      users.slice(2).map((id) => ({ id, payments: { nodes: [], nextCursor: null } })),
    );
    // Page ids of every user, then the rows. Before batching: 19 (one per well-formed id).
    expect(admin.sql).toHaveLength(2);
    // The cursor of the batched page continues where it stopped.
    const cursor = (admin.entities[0] as { payments: { nextCursor: string } }).payments.nextCursor;
    const next = await execute(
      server,
      `query($r: [_Any!]!, $a: String) {
        _entities(representations: $r) { ... on User { payments(first: 20, after: $a) { nodes { id } nextCursor } } }
      }`,

      { r: [{ __typename: 'User', id: payer.userId }], a: cursor },
      ctx(payer),
    );
    expect(next.data!._entities[0]).toEqual({ payments: { nodes: newestFirst.slice(3), nextCursor: null } });
    const bad = await execute(
      server,
      `query($r: [_Any!]!) { _entities(representations: $r) { ... on User { payments(first: 0) { nodes { id } } } } }`,
      { r: [{ __typename: 'User', id: payer.userId }] },
      ctx(payer),
    );
    expect(errorCodes(bad)).toEqual(['BAD_USER_INPUT']);
    const asPayer = await measured(
      Q,
      users.map((id) => ({ __typename: 'User', id })),
      payer,
    );
    expect(asPayer.entities.map((e) => (e as { payments: { nodes: unknown[] } }).payments.nodes.length)).toEqual([
      3,
      ...Array(19).fill(0),
    ]);
  });
});
