// The database's own ceiling for the reservation path: bench/sql/reserve.pgbench (the same row
// locks and writes as one reserveSeats attempt) run by pgbench on a fresh run of its own, so the
// system's rate can be read as a fraction of what PostgreSQL alone does with those statements.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { PrismaClient } from '@tatkal/db';
import { fareBreakdown } from '../subgraphs/booking/src/domain/fares/index.ts';
import { createTestRun, doubleBookingAudit } from '../packages/testkit/src/trainRun.ts';

export const PGBENCH = process.env.PGBENCH ?? '/usr/bin/pgbench';
const SCRIPT = join(import.meta.dirname, 'sql/reserve.pgbench');

export interface PgbenchResult {
  clients: number;
  seconds: number;
  berths: number;
  transactions: number;
  tps: number;
  latencyAvgMs: number;
  failed: number;
  /** Attempts that ended held, waitlisted, or refused (sold out, not accepting the waitlist). */
  held: number;
  waitlisted: number;
  soldOut: number;
  audit: Awaited<ReturnType<typeof doubleBookingAudit>>;
  /** pgbench's complaints (aborted clients), if any. */
  errors: string[];
}

/** Values pgbench prints in its summary. */
export function parsePgbenchOutput(out: string) {
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
  return {
    transactions: num(/number of transactions actually processed: (\d+)/),
    failed: Number(/number of failed transactions: (\d+)/.exec(out)?.[1] ?? 0),
    latencyAvgMs: num(/latency average = ([\d.]+) ms/),
    tps: num(/tps = ([\d.]+) \(without initial connection time\)/),
  };
}

function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs the script with `clients` connections for `seconds` on a fresh run of coaches x berthsPerCoach. */
export async function runReservePgbench(opts: {
  prisma: PrismaClient;
  databaseUrl: string;
  coaches: number;
  berthsPerCoach: number;
  clients: number;
  seconds: number;
}): Promise<PgbenchResult> {
  const testRun = await createTestRun(opts.prisma, {
    coaches: opts.coaches,
    berthsPerCoach: opts.berthsPerCoach,
    daysAhead: 1,
  });
  // Its inventory is prepared ahead (createTestRun does what booking's preparer does).
  // The test route has four stops 150 km apart; the bench books the whole of it (segments 0-2).
  const [range] = await opts.prisma.$queryRaw<
    { min: number; max: number }[]
  >`SELECT min(seat_id) AS min, max(seat_id) AS max FROM booking.run_seats WHERE run_id = ${testRun.runId}::uuid`;
  const vars = {
    run_id: testRun.runId,
    mask: 0b111,
    from_seq: 0,
    to_seq: 3,
    fare: fareBreakdown({ cls: 'SLEEPER', distanceKm: 450, superfast: true, quota: 'GENERAL' }).totalPaise,
    min_seat: range!.min,
    max_seat: range!.max,
    k: 0,
  };
  const args = [
    '-n',
    '-M',
    'extended',
    '-c',
    String(opts.clients),
    '-j',
    '2',
    '-T',
    String(opts.seconds),
    '-f',
    SCRIPT,
    ...Object.entries(vars).flatMap(([k, v]) => ['-D', `${k}=${v}`]),
    opts.databaseUrl,
  ];
  const res = await run(PGBENCH, args, process.env);
  const parsed = parsePgbenchOutput(res.stdout);
  const errors = res.stderr
    .split('\n')
    .filter((l) => /abort|error|fatal/i.test(l))
    .slice(0, 5);
  if (res.code !== 0 && !Number.isFinite(parsed.tps))
    throw new Error(`pgbench failed (${res.code}): ${res.stderr.trim().slice(-2000)}`);
  const byStatus = await opts.prisma.reservation.groupBy({
    by: ['status'],
    where: { runId: testRun.runId },
    _count: true,
  });
  const count = (status: string) => byStatus.find((r) => r.status === status)?._count ?? 0;
  const held = count('HELD');
  const waitlisted = count('WAITLISTED');
  return {
    clients: opts.clients,
    seconds: opts.seconds,
    berths: opts.coaches * opts.berthsPerCoach,
    ...parsed,
    held,
    waitlisted,
    soldOut: parsed.transactions - held - waitlisted,
    audit: await doubleBookingAudit(opts.prisma, testRun.runId),
    errors,
  };
}
