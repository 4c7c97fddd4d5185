// The payment phase: every HELD reservation pays (createPayment through the gateway, then the
// provider simulator's checkout), then the bench polls the database until booking confirmed each
// (webhook -> payment outbox -> RabbitMQ -> booking), or the confirm time-out.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Redis } from '@tatkal/common';
import type { Delivery } from '../../subgraphs/payment/src/provider/simulator.ts';
import { databaseTransactions, STATS_SETTLE_MS } from '../database.ts';
import { type benchClient, outcomeOf, type Recorder, runPool } from '../load.ts';
import { otherActiveRedisClients } from '../redis.ts';
import type { Stack } from '../stack.ts';
import { type Meter, meter, ourPids } from './measure.ts';
import { args, CHECKOUT, CONCURRENCY, DB, PAY, sleep } from './options.ts';
import type { Held } from './rush.ts';

export interface PayPhase {
  startMs: number;
  endMs: number;
  before: Meter;
  after: Meter;
  xacts: number;
  windowS: number;
  polls: number;
  others: number;
  webhooks: Delivery[];
}

/** Null without --pay or when nothing was held. */
export async function runPayment(ctx: {
  stack: Stack | null;
  redis: Redis;
  watcher: pg.Client;
  rec: Recorder;
  held: Held[];
  users: ReturnType<typeof benchClient>[];
  providerUrl: string | null;
  /** Transactions of the database at the end of the rush. */
  xactReserveAfter: number;
}): Promise<PayPhase | null> {
  const { stack, redis, watcher, rec, held, users, providerUrl, xactReserveAfter } = ctx;
  let payPhase: PayPhase | null = null;
  if (PAY && held.length > 0) {
    const startMs = rec.now();
    const before = await meter(stack, redis);
    await runPool(held.length, CONCURRENCY, Number.POSITIVE_INFINITY, async (j) => {
      const h = held[j]!;
      let ref: string | null = null;
      await rec.time('pay', async () => {
        try {
          const payment = await users[h.user]!.pay(h.id, { idempotencyKey: randomUUID(), retry: false });
          ref = payment.providerRef;
          return payment.status;
        } catch (err) {
          return outcomeOf(err);
        }
      });
      if (!ref) return;
      h.paymentCreated = true;
      if (!CHECKOUT) return;
      const paidAt = Date.now();
      const outcome = await rec.time('checkout', async () => {
        try {
          const res = await fetch(`${providerUrl}/payments/${encodeURIComponent(ref!)}/succeed`, {
            method: 'POST',
            headers: { accept: 'application/json' },
          });
          await res.arrayBuffer();
          return res.ok ? 'SUCCEEDED' : `HTTP_${res.status}`;
        } catch (err) {
          return `NETWORK_${(err as Error).name}`;
        }
      });
      if (outcome === 'SUCCEEDED') h.paidAt = paidAt;
    });
    // Booking confirms asynchronously (webhook -> payment outbox -> RabbitMQ -> booking): poll the database.
    const waiting = new Map(held.filter((h) => h.paidAt).map((h) => [h.id, h]));
    const deadline = Date.now() + Number(args['confirm-timeout-s']) * 1000;
    let polls = 0;
    while (waiting.size > 0 && Date.now() < deadline) {
      const rows = await watcher.query<{ id: string; at: number }>(
        `SELECT id, (extract(epoch FROM confirmed_at) * 1000)::float8 AS at
           FROM booking.reservations
          WHERE id = ANY($1::uuid[]) AND status = 'CONFIRMED'`,
        [[...waiting.keys()]],
      );
      polls++;
      for (const row of rows.rows) {
        waiting.get(row.id)!.confirmedAt = row.at;
        waiting.delete(row.id);
      }
      if (waiting.size > 0) await sleep(200);
    }
    const endMs = rec.now();
    const after = await meter(stack, redis);
    const others = await otherActiveRedisClients(redis, ourPids(stack), (endMs - startMs) / 1000);
    await sleep(STATS_SETTLE_MS);
    const xacts = (await databaseTransactions(args.pg, DB)) - xactReserveAfter;
    // The provider's own record of its webhook deliveries: how fast payment's sidecar answered.
    const webhooks = await fetch(`${providerUrl}/deliveries`)
      .then(async (r) => (r.ok ? ((await r.json()) as Delivery[]) : []))
      .catch(() => [] as Delivery[]);
    payPhase = {
      startMs,
      endMs,
      before,
      after,
      xacts,
      windowS: (performance.now() - before.at) / 1000,
      polls,
      others,
      webhooks,
    };
    console.log(
      `payment: ${held.filter((h) => h.paidAt).length} paid, ` +
        `${held.filter((h) => h.confirmedAt).length} confirmed, ${waiting.size} not confirmed in time`,
    );
  }
  return payPhase;
}
