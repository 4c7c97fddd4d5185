// The provider simulator on its own (no database): signing, bounded retries with back-off,
// duplicates, shuffled order, Idempotency-Key, the checkout page.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createProviderSimulator, type ProviderSimulator } from '../src/provider/simulator.ts';
import { verifySignature } from '../src/webhookSignature.ts';

const SECRETS = ['whsec_unit_current_0123456789', 'whsec_unit_next_0123456789'];

interface Received {
  at: number;
  body: { id: string; type: string; data: { providerRef: string } };
  verifiedWith: boolean[];
}

/** A webhook receiver answering `statuses` in turn (then 200). */
async function receiver(statuses: number[] = []) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks);
      const header = req.headers['payment-signature'] as string | undefined;
      received.push({
        at: Date.now(),
        body: JSON.parse(rawBody.toString('utf8')),
        verifiedWith: SECRETS.map((s) => verifySignature({ header, rawBody, secrets: [s] }).ok),
      });
      res.statusCode = statuses.shift() ?? 200;
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return { url, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function start(opts: Partial<Parameters<typeof createProviderSimulator>[0]> & { statuses?: number[] } = {}) {
  const hook = await receiver(opts.statuses);
  const sim = createProviderSimulator({
    webhookUrl: hook.url,
    secrets: SECRETS,
    baseDelayMs: 20,
    maxAttempts: 4,
    ...opts,
  });
  const httpServer = await sim.listen(0, '127.0.0.1');
  cleanup.push(hook.close, sim.close);
  return { sim, hook, url: httpServer.url };
}

const pay = (sim: ProviderSimulator, amountPaise = 1_000) => sim.createPayment({ amountPaise }).id;

describe('provider simulator', () => {
  it('signs every delivery with every secret, with its own event ids', async () => {
    const { sim, hook } = await start();
    const ref = pay(sim);
    const event = sim.succeed(ref);
    await sim.idle();
    expect(hook.received).toHaveLength(1);
    expect(hook.received[0]!.body).toEqual({
      id: event.id,
      type: 'payment.succeeded',
      created: expect.any(Number),
      data: { providerRef: ref, amountPaise: 1_000, currency: 'INR' },
    });
    expect(event.id).toMatch(/^evt_[0-9a-f]{24}$/);
    expect(hook.received[0]!.verifiedWith).toEqual([true, true]);
    expect(() => sim.fail(ref)).toThrow(/is succeeded/);
  });

  it('retries a failed delivery with growing back-off, and gives up after maxAttempts', async () => {
    const { sim, hook } = await start({ statuses: [500, 503, 500] });
    sim.fail(pay(sim));
    await sim.idle();
    expect(hook.received.map((r) => r.body.id)).toHaveLength(4);
    expect(new Set(hook.received.map((r) => r.body.id)).size).toBe(1);
    const gaps = hook.received.slice(1).map((r, i) => r.at - hook.received[i]!.at);
    expect(gaps[0]).toBeGreaterThanOrEqual(18);
    expect(gaps[1]).toBeGreaterThanOrEqual(38);
    expect(gaps[2]).toBeGreaterThanOrEqual(78);
    expect(sim.deliveries).toEqual([
      expect.objectContaining({ status: 'delivered', attempts: 4, lastStatus: 200, lastMs: expect.any(Number) }),
    ]);

    const down = await start({ statuses: [500, 500, 500, 500, 500], maxAttempts: 3 });
    down.sim.succeed(pay(down.sim));
    await down.sim.idle();
    expect(down.hook.received).toHaveLength(3);
    expect(down.sim.deliveries).toEqual([expect.objectContaining({ status: 'failed', attempts: 3, lastStatus: 500 })]);
    // The attempts, as the provider's dashboard (GET /deliveries) lists them.
    const listed = (await (await fetch(`${down.url}/deliveries`)).json()) as {
      status: string;
      attempts: number;
      lastMs: number;
    }[];
    expect(listed).toEqual([expect.objectContaining({ status: 'failed', attempts: 3, lastStatus: 500 })]);
    expect(listed[0]!.lastMs).toBeGreaterThanOrEqual(0);
  });

  it('delivers duplicates (duplicateRate) and shuffles the order (shuffle)', async () => {
    const { sim, hook } = await start({ duplicateRate: 1 });
    const event = sim.succeed(pay(sim));
    await sim.idle();
    expect(hook.received.map((r) => r.body.id)).toEqual([event.id, event.id]);

    // A fixed "random" sequence makes the shuffle reproducible: it must not keep the emitted order.
    let seed = 7;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return (seed - 1) / 2147483646;
    };
    const shuffled = await start({ shuffle: true, shuffleWindowMs: 30, random });
    const emitted = Array.from({ length: 12 }, () => shuffled.sim.succeed(pay(shuffled.sim)).id);
    await shuffled.sim.idle();
    const order = shuffled.hook.received.map((r) => r.body.id);
    expect([...order].sort()).toEqual([...emitted].sort());
    expect(order).not.toEqual(emitted);
  });

  it('holds late deliveries back (lateRate, lateMs): a refund can arrive before its payment', async () => {
    // Draws in order: the payment's delivery is late (0.1 < 1), the refund's is not (lateRate 0.5).
    const draws = [0.1, 0.5, 0.9];
    const { sim, hook } = await start({ lateRate: 0.5, lateMs: 400, random: () => draws.shift() ?? 0.9 });
    const ref = pay(sim);
    const paid = sim.succeed(ref);
    await new Promise<void>((r) => setImmediate(r));
    const refund = sim.refund({ payment: ref });
    await sim.idle();
    const refunded = hook.received.find((r) => r.body.type === 'refund.succeeded')!;
    expect(hook.received.map((r) => r.body.id)).toEqual([refunded.body.id, paid.id]);
    expect(refunded.body.data.providerRef).toBe(refund.payment);
    const late = sim.deliveries.find((d) => d.eventId === paid.id)!;
    // Held between half of lateMs and lateMs (the draw 0.5 -> 300 ms).
    expect(late.heldMs).toBe(300);
    expect(sim.deliveries.find((d) => d.type === 'refund.succeeded')!.heldMs).toBeUndefined();
  });

  it('honours Idempotency-Key, serves the checkout page, refunds by webhook', async () => {
    const { sim, hook, url } = await start();
    const create = () =>
      fetch(`${url}/payments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': 'k-1' },
        body: JSON.stringify({ amountPaise: 245_000, currency: 'INR' }),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as { id: string; checkoutUrl: string } }));
    const [a, b] = [await create(), await create()];
    expect(a.status).toBe(201);
    expect(b.body.id).toBe(a.body.id);
    expect(a.body.checkoutUrl).toBe(`${url}/checkout/${a.body.id}`);
    const page = await fetch(a.body.checkoutUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('₹2,450.00');
    expect((await fetch(`${url}/checkout/sim_pay_nope`)).status).toBe(404);
    expect(
      (
        await fetch(`${url}/payments`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"amountPaise": -1}',
        })
      ).status,
    ).toBe(400);

    expect(
      (await fetch(`${url}/payments/${a.body.id}/succeed`, { method: 'POST', headers: { accept: 'application/json' } }))
        .status,
    ).toBe(200);
    const refund = await fetch(`${url}/refunds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'r-1' },
      body: JSON.stringify({ payment: a.body.id, amountPaise: 45_000 }),
    });
    expect(refund.status).toBe(201);
    const refundBody = (await refund.json()) as { id: string; status: string };
    expect(refundBody.status).toBe('pending');
    await sim.idle();
    expect(hook.received.map((r) => r.body.type)).toEqual(['payment.succeeded', 'refund.succeeded']);
    expect(hook.received[1]!.body.data).toEqual({
      providerRef: a.body.id,
      amountPaise: 45_000,
      refundId: refundBody.id,
    });
    expect(sim.payment(a.body.id)).toMatchObject({ status: 'partially_refunded', refundedPaise: 45_000 });
  });
});
