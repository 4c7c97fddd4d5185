// The short form of the chaos run (bench/chaos.ts, docs/operations.md "Chaos run"): a few hundred
// travellers reserve, pay and cancel through the gateway over two booking and two payment
// instances while a fixed seed's faults kill -9 and restart booking, payment, the gateway and the
// allocator's leaseholder and close the stack's RabbitMQ connections, and the provider delivers
// webhooks twice, late and out of order. Then the ledger: money to the paisa, no berth sold twice,
// every answered PNR final, no second reservation or charge from retries, DLQs accounted for,
// outboxes drained. The run waits for conditions (the system settled), never for fixed times.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChaos } from '../bench/chaos/run.ts';
import { benchSigningKey } from '../bench/tokens.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { AMQP_URL, REDIS_URL } from './support/env.ts';

let db: TestDatabase;
let signing: Awaited<ReturnType<typeof benchSigningKey>>;

beforeAll(async () => {
  db = await createTestDatabase('chaos');
  signing = await benchSigningKey();
});

afterAll(async () => {
  signing?.remove();
  await db?.drop();
});

describe('chaos: the Tatkal minute while processes die', () => {
  it('keeps the ledger: every captured rupee is a confirmed ticket, a refund or a charge kept', async () => {
    const lines: string[] = [];
    const result = await runChaos({
      seed: 25,
      users: 250,
      concurrency: 60,
      faults: 5,
      coaches: 3,
      berthsPerCoach: 72,
      databaseUrl: db.url,
      redisUrl: REDIS_URL,
      amqpUrl: AMQP_URL,
      keysFile: signing.file,
      signingKey: signing.key,
      holdTtlMs: 120_000,
      declineRate: 0.05,
      cancelRate: 0.3,
      latePayRate: 0.05,
      payThenCancelRate: 0.05,
      webhooks: { duplicateRate: 0.2, lateRate: 0.1, lateMs: 3_000 },
      settleTimeoutMs: 60_000,
      closeAllAmqp: false,
      log: (line) => lines.push(line),
    });
    const violations = result.ledger.checks.flatMap((c) => c.violations.map((v) => `${c.name}: ${v}`));
    expect(violations, lines.join('\n')).toEqual([]);
    expect(result.ledger.ok).toBe(true);
    // Something happened: faults fired and recovered, money moved both ways, retries were made.
    expect(result.faults.map((f) => f.kind).sort()).toEqual(['close-amqp', 'kill', 'kill', 'kill', 'kill-leaseholder']);
    expect(result.faults.every((f) => f.healthyMs !== null)).toBe(true);
    expect(result.ledger.money.capturedPayments).toBeGreaterThan(100);
    expect(result.ledger.money.refundedPaise).toBeGreaterThan(0);
    expect(result.ledger.webhooks.duplicates).toBeGreaterThan(0);
    expect(result.ledger.webhooks.late).toBeGreaterThan(0);
  }, 300_000);
});
