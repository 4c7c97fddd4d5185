// What the Tatkal benchmark reads around its phases: CPU, Redis's counters and the commands our
// processes sent (a Meter), FIFO
// inversions in the database, and booking's allocation batch sizes from its /metrics.
import type pg from 'pg';
import type { Redis } from '@tatkal/common';
import { commandCpuSeconds, processCpu } from '../processes.ts';
import { redisCommandsSent, redisCounters, type RedisCounters } from '../redis.ts';
import type { Stack } from '../stack.ts';
import { SYSTEM_PROCESSES } from './options.ts';

export interface Meter {
  cpu: Record<string, number>;
  redis: RedisCounters;
  /** Commands our processes sent (a script is one), by command. */
  redisSent: Record<string, number>;
  at: number;
}

export async function meter(stack: Stack | null, redis: Redis): Promise<Meter> {
  const own = process.cpuUsage();
  return {
    cpu: {
      ...(stack ? processCpu(stack.processes) : {}),
      ...commandCpuSeconds(SYSTEM_PROCESSES),
      'bench client': (own.user + own.system) / 1e6,
    },
    redis: await redisCounters(redis),
    redisSent: await redisCommandsSent(stack?.processes.map((p) => p.url) ?? []),
    at: performance.now(),
  };
}

/** This process and the stack's: Redis clients of anyone else are counted as others'. */
export const ourPids = (stack: Stack | null) => [process.pid, ...(stack?.processes.map((p) => p.pid) ?? [])];

/**
 * Requests decided against arrival order, per run: an earlier ticket given RAC or WL places (its
 * passengers carry RAC or WL numbers) or REFUSED while a later ticket of the same class and quota,
 * whose journey covers the earlier one's and whose group is at least as large, got berths outright
 * (the earlier one would have fitted in them).
 */
export async function fifoInversions(db: pg.Client, runIds: string[]): Promise<Record<string, number>> {
  const { rows } = await db.query<{ run_id: string; n: number }>(
    `WITH r AS (
       SELECT r.run_id, r.queue_ticket AS t, r.class, r.quota, r.from_seq, r.to_seq, r.status,
              (SELECT count(*) FROM booking.passengers p WHERE p.reservation_id = r.id) AS n,
              EXISTS (SELECT 1 FROM booking.passengers p WHERE p.reservation_id = r.id
                        AND (p.waitlist_number IS NOT NULL OR p.rac_number IS NOT NULL)) AS waited
       FROM booking.reservations r WHERE r.run_id = ANY($1::uuid[]) AND r.queue_ticket IS NOT NULL)
     SELECT a.run_id::text, count(*)::int AS n FROM r a JOIN r b
       ON b.run_id = a.run_id AND b.t > a.t AND b.class = a.class AND b.quota = a.quota
         AND b.from_seq <= a.from_seq AND b.to_seq >= a.to_seq AND b.n >= a.n
     WHERE (a.status = 'REFUSED' OR a.waited)
       AND b.status IN ('HELD', 'CONFIRMED', 'EXPIRED', 'CANCELLED') AND NOT b.waited
     GROUP BY a.run_id`,
    [runIds],
  );
  return Object.fromEntries(runIds.map((id) => [id, rows.find((r) => r.run_id === id)?.n ?? 0]));
}

/** booking's allocation batch sizes, from its /metrics histogram. */
export async function allocationBatches(
  stack: Stack,
): Promise<{ count: number; mean: number; buckets: Record<string, number> } | null> {
  const booking = stack.processes.find((p) => p.name === 'booking');
  if (!booking) return null;
  const text = await fetch(`${booking.url}/metrics`)
    .then((r) => r.text())
    .catch(() => '');
  const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  // Series carry a service label besides le.
  const count = value(/^tatkal_allocation_batch_size_count(?:\{[^}]*\})? (\S+)/m);
  const sum = value(/^tatkal_allocation_batch_size_sum(?:\{[^}]*\})? (\S+)/m);
  const cumulative = [...text.matchAll(/^tatkal_allocation_batch_size_bucket\{[^}]*le="([^"]+)"[^}]*\} (\S+)/gm)].map(
    (m) => [m[1]!, Number(m[2])] as const,
  );
  const buckets: Record<string, number> = {};
  cumulative.forEach(([le, n], i) => {
    const below = i === 0 ? 0 : cumulative[i - 1]![1];
    if (n - below > 0) buckets[`<=${le}`] = n - below;
  });
  return { count, mean: count ? +(sum / count).toFixed(1) : 0, buckets };
}
