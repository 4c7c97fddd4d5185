// The PostgreSQL exporter's booking queries (ops/postgres-exporter/queries.yaml), run against the
// migrated schema the way postgres_exporter runs them: one row, one column per declared metric,
// and the figures the alerts TatkalHoldSweeperStalled and TatkalAllocationQueueWait read.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createTestDatabase, type TestDatabase } from './support/db.ts';

const queries = parse(
  readFileSync(join(import.meta.dirname, '../ops/postgres-exporter/queries.yaml'), 'utf8'),
) as Record<string, { query: string; metrics: Record<string, { usage: string }>[] }>;
const booking = queries.tatkal_booking!;
let db: TestDatabase;
let client: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase('monitoring_queries');
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});

afterAll(async () => {
  await client?.end();
  await db?.drop();
});

async function scrape(): Promise<Record<string, number>> {
  const { rows, fields } = await client.query(booking.query);
  expect(rows).toHaveLength(1);
  expect(fields.map((f) => f.name).sort()).toEqual(booking.metrics.map((m) => Object.keys(m)[0]).sort());
  return Object.fromEntries(Object.entries(rows[0] as Record<string, string>).map(([k, v]) => [k, Number(v)]));
}

async function reservation(status: string, fields: { holdExpiresAgoS?: number; ticket?: number; agoS?: number }) {
  const { rows } = await client.query<{ id: string }>('SELECT id FROM booking.train_runs LIMIT 1');
  await client.query(
    `INSERT INTO booking.reservations
       (id, pnr, user_id, run_id, from_seq, to_seq, class, status, fare_paise, hold_expires_at, queue_ticket,
        created_at, updated_at)
     VALUES ($1, $2, $3, $4, 1, 2, 'SLEEPER', $5::booking."ReservationStatus", 100,
             now() - make_interval(secs => $6::float), $7, now() - make_interval(secs => $8::float), now())`,
    [
      randomUUID(),
      String(Math.floor(Math.random() * 1e10)).padStart(10, '0'),
      randomUUID(),
      rows[0]!.id,
      status,
      fields.holdExpiresAgoS ?? null,
      fields.ticket ?? null,
      fields.agoS ?? 0,
    ],
  );
}

describe('ops/postgres-exporter/queries.yaml on the migrated schema', () => {
  it('declares gauges only, and reads zero on a database with no reservations', async () => {
    for (const m of booking.metrics) expect(Object.values(m)[0]!.usage).toBe('GAUGE');
    expect(await scrape()).toEqual({
      overdue_holds: 0,
      allocation_queue_requests: 0,
      allocation_queue_oldest_wait_seconds: 0,
    });
  });

  it('counts holds 2+ minutes past expiry and the allocation queue (not the waiting room)', async () => {
    await reservation('HELD', { holdExpiresAgoS: 300 }); // overdue: the sweeper should have expired it
    await reservation('HELD', { holdExpiresAgoS: 30 }); // within the grace
    await reservation('HELD', { holdExpiresAgoS: -300 }); // not expired
    await reservation('QUEUED', { ticket: 1, agoS: 40 }); // in a run's allocation queue for 40 s
    await reservation('QUEUED', { agoS: 600 }); // in a waiting room: no ticket yet, not an allocator's backlog
    const figures = await scrape();
    expect(figures.overdue_holds).toBe(1);
    expect(figures.allocation_queue_requests).toBe(1);
    expect(figures.allocation_queue_oldest_wait_seconds).toBeGreaterThanOrEqual(40);
    expect(figures.allocation_queue_oldest_wait_seconds).toBeLessThan(120);
  });
});
