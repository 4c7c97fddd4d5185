// The short form of the chaos run (bench/chaos.ts, docs/operations.md "Chaos run"): a few hundred
// travellers reserve, pay and cancel through the gateway over two booking and two payment
// instances while a fixed seed's faults kill -9 and restart booking, payment, the gateway and the
// allocator's leaseholder and close the stack's RabbitMQ connections, and the provider delivers
// webhooks twice, late and out of order. Then the ledger: money to the paisa, no berth sold twice,
// every answered PNR final, no second reservation or charge from retries, DLQs accounted for,
// outboxes drained. The run waits for conditions (the system settled), never for fixed times.
// Tests never import benchmarks (test/imports.test.ts): this one runs `bench:chaos` as a program
// and reads the report it writes.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { AMQP_URL, PG_ADMIN_URL, REDIS_URL } from './support/env.ts';

const root = join(import.meta.dirname, '..');
const SEED = 25;
const db = `tatkal_bench_chaos_test_${process.pid}`;
const out = mkdtempSync(join(tmpdir(), 'chaos-'));

interface ChaosReport {
  ledger: {
    ok: boolean;
    checks: { name: string; violations: string[] }[];
    money: { capturedPayments: number; refundedPaise: number };
    webhooks: { duplicates: number; late: number };
  };
  faults: { kind: string; healthyMs: number | null }[];
}

afterAll(async () => {
  rmSync(out, { recursive: true, force: true });
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
});

function runChaos(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      join(root, 'node_modules/.bin/tsx'),
      ['bench/chaos.ts', ...args],
      { cwd: root, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, LOG_LEVEL: 'warn' } },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, output: `${stdout}\n${stderr}` }),
    );
  });
}

describe('chaos: the Tatkal minute while processes die', () => {
  it('keeps the ledger: every captured rupee is a confirmed ticket, a refund or a charge kept', async () => {
    const { code, output } = await runChaos([
      ...['--seed', String(SEED), '--users', '250', '--concurrency', '60', '--faults', '5'],
      ...['--coaches', '3', '--berths-per-coach', '72', '--hold-ttl-s', '120', '--settle-timeout-s', '60'],
      ...['--db', db, '--out', out, '--pg', PG_ADMIN_URL, '--redis', REDIS_URL, '--amqp', AMQP_URL],
    ]);
    expect(code, output.slice(-20_000)).toBe(0);
    const result = JSON.parse(readFileSync(join(out, `chaos-${SEED}.json`), 'utf8')) as ChaosReport;
    const violations = result.ledger.checks.flatMap((c) => c.violations.map((v) => `${c.name}: ${v}`));
    expect(violations, output.slice(-20_000)).toEqual([]);
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
