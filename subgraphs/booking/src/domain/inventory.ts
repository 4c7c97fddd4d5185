// Seat inventory of a run: one run_seats row per (run, seat) with a bit mask of occupied segments,
// and one seat_occupancy row per occupied (run, seat, segment) whose primary key makes a double
// booking impossible whatever code path writes it.
import type { Prisma, PrismaClient, Quota, TravelClass } from '@tatkal/db';
import { todayInIndia } from '@tatkal/common/dates';
import { type ClassBerth, earmark } from './tatkal/quotas.ts';

export type Tx = Prisma.TransactionClient;

/**
 * Creates the inventory rows (one per berth), the queue and the allocator rows of these runs, in
 * one transaction, and marks them ready. Idempotent: runs already ready are left alone.
 */
export async function createInventory(tx: Tx, runIds: string[]): Promise<number> {
  if (runIds.length === 0) return 0;
  const ready = await tx.$queryRaw<{ id: string }[]>`
    SELECT id::text FROM booking.train_runs
    WHERE id = ANY(${runIds}::uuid[]) AND NOT inventory_ready
    ORDER BY id FOR UPDATE`;
  const ids = ready.map((r) => r.id);
  if (ids.length === 0) return 0;
  const runs = await tx.trainRun.findMany({ where: { id: { in: ids } }, select: { id: true, trainId: true } });
  const quotas = await earmarkTrains(tx, [...new Set(runs.map((r) => r.trainId))]);
  const rows = runs.flatMap((run) => quotas.get(run.trainId)!.map((b) => ({ runId: run.id, ...b })));
  await tx.$executeRaw`
    INSERT INTO booking.run_seats (run_id, seat_id, class, quota, rac)
    SELECT t.run_id, t.seat_id, t.class::booking."TravelClass", t.quota::booking."Quota", t.rac
    FROM unnest(
        ${rows.map((r) => r.runId)}::uuid[],
        ${rows.map((r) => r.seatId)}::int[],
        ${rows.map((r) => r.class)}::text[],
        ${rows.map((r) => r.quota)}::text[],
        ${rows.map((r) => r.rac)}::boolean[]
      ) AS t(run_id, seat_id, class, quota, rac)
    ON CONFLICT DO NOTHING`;
  // Two halves per RAC berth; a WL and RAC counter per pool (promotions lock it: promote.ts).
  await tx.$executeRaw`
    INSERT INTO booking.rac_slots (run_id, seat_id, slot, class)
    SELECT rs.run_id, rs.seat_id, h.slot, rs.class
    FROM booking.run_seats rs CROSS JOIN (VALUES (1::smallint), (2::smallint)) AS h(slot)
    WHERE rs.run_id = ANY(${ids}::uuid[]) AND rs.rac
    ON CONFLICT DO NOTHING`;
  await tx.$executeRaw`
    INSERT INTO booking.waitlist_counters (run_id, class, quota)
    SELECT DISTINCT run_id, class, quota FROM booking.run_seats WHERE run_id = ANY(${ids}::uuid[])
    ON CONFLICT DO NOTHING`;
  await tx.$executeRaw`INSERT INTO booking.run_queues (run_id) SELECT unnest(${ids}::uuid[]) ON CONFLICT DO NOTHING`;
  await tx.$executeRaw`
    INSERT INTO booking.run_allocators (run_id) SELECT unnest(${ids}::uuid[]) ON CONFLICT DO NOTHING`;
  await tx.$executeRaw`UPDATE booking.train_runs SET inventory_ready = true WHERE id = ANY(${ids}::uuid[])`;
  return ids.length;
}

/**
 * Every berth of these trains with the quota it carries (quotas.ts), the same for each run; a
 * coach's first `rac_berths` side lower berths are RAC berths (GENERAL, never sold as berths).
 */
async function earmarkTrains(tx: Tx, trainIds: number[]) {
  const seats = await tx.$queryRaw<(ClassBerth & { train_id: number; rac: boolean })[]>`
    SELECT c.train_id, s.id AS "seatId", c.class, c.position AS "coachPosition", s.number, s.berth_type AS "berthType",
           s.berth_type = 'SL' AND row_number() OVER (PARTITION BY c.id, s.berth_type ORDER BY s.number) <= c.rac_berths
             AS rac
    FROM booking.coaches c JOIN booking.seats s ON s.coach_id = c.id
    WHERE c.train_id = ANY(${trainIds}::int[])`;
  const shares = await tx.quotaShare.findMany({ where: { trainId: { in: trainIds } } });
  const byTrain = new Map<number, { seatId: number; class: TravelClass; quota: Quota; rac: boolean }[]>();
  for (const trainId of trainIds) {
    const mine = seats.filter((s) => s.train_id === trainId);
    const berths: { seatId: number; class: TravelClass; quota: Quota; rac: boolean }[] = mine
      .filter((s) => s.rac)
      .map((s) => ({ seatId: s.seatId, class: s.class, quota: 'GENERAL', rac: true }));
    for (const cls of new Set(mine.map((s) => s.class))) {
      const ofClass = mine.filter((s) => s.class === cls && !s.rac);
      const share = Object.fromEntries(
        shares.filter((q) => q.trainId === trainId && q.class === cls).map((q) => [q.quota, q.berths]),
      );
      for (const [seatId, quota] of earmark(ofClass, share)) berths.push({ seatId, class: cls, quota, rac: false });
    }
    byTrain.set(trainId, berths);
  }
  return byTrain;
}

/**
 * Prepares the inventory of runs departing within `horizonDays` that do not have it yet, nearest
 * first, at most `maxRuns` per call: every bookable run is ready before its booking window (and
 * its Tatkal opening) starts, so no request at an opening waits for inventory to be created.
 * Several booking instances may run it at once (the run rows are locked). Returns how many runs.
 */
export async function prepareInventory(
  prisma: PrismaClient,
  opts: { horizonDays: number; maxRuns: number; now?: () => Date },
): Promise<number> {
  const today = todayInIndia(opts.now?.() ?? new Date());
  const due = await prisma.$queryRaw<{ id: string }[]>`
    SELECT id::text FROM booking.train_runs
    WHERE NOT inventory_ready AND NOT cancelled
      AND date >= ${today}::date AND date <= ${today}::date + ${opts.horizonDays}::int
    ORDER BY date, id LIMIT ${opts.maxRuns}`;
  if (due.length === 0) return 0;
  return prisma.$transaction(
    (tx) =>
      createInventory(
        tx,
        due.map((r) => r.id),
      ),
    { timeout: 60_000, maxWait: 10_000 },
  );
}

/**
 * Locks up to `limit` free seats of a class and quota other than `exclude`, those nearest to `anchor`
 * first (seat ids run coach by coach, so a group stays together). It reads every free seat of
 * the class, so the reservation path calls it only when the guard's own berths were not enough.
 */
export async function lockFreeSeats(
  tx: Tx,
  runId: string,
  cls: TravelClass,
  quota: Quota,
  mask: bigint,
  opts: { exclude: number[]; anchor: number; limit: number },
): Promise<number[]> {
  if (opts.limit <= 0) return [];
  const rows = await tx.$queryRaw<{ seat_id: number }[]>`
    SELECT seat_id FROM booking.run_seats
    WHERE run_id = ${runId}::uuid AND class = ${cls}::booking."TravelClass" AND quota = ${quota}::booking."Quota"
      AND NOT rac AND (occupied_mask & ${mask}) = 0
      AND seat_id <> ALL(${opts.exclude}::int[])
    ORDER BY abs(seat_id - ${opts.anchor}::int), seat_id
    LIMIT ${opts.limit}
    FOR UPDATE SKIP LOCKED`;
  return rows.map((r) => r.seat_id);
}

/** Marks the segments occupied: mask bits plus one occupancy row per segment (the hard guarantee). */
export async function occupy(
  tx: Tx,
  runId: string,
  reservationId: string,
  seats: { seatId: number; passengerId: string }[],
  fromSeq: number,
  toSeq: number,
  mask: bigint,
) {
  if (seats.length === 0) return;
  const seatIds = seats.map((s) => s.seatId);
  await tx.$executeRaw`
    UPDATE booking.run_seats SET occupied_mask = occupied_mask | ${mask}
    WHERE run_id = ${runId}::uuid AND seat_id = ANY(${seatIds}::int[])`;
  const segments = Array.from({ length: toSeq - fromSeq }, (_, i) => fromSeq + i);
  await tx.seatOccupancy.createMany({
    data: seats.flatMap((s) =>
      segments.map((segment) => ({ runId, seatId: s.seatId, segment, passengerId: s.passengerId, reservationId })),
    ),
  });
}

/** Frees the segments of these passengers' seats. Locks the rows in seat order (no deadlock with bookings). */
export async function release(tx: Tx, runId: string, seats: { seatId: number; passengerId: string }[], mask: bigint) {
  if (seats.length === 0) return;
  const seatIds = [...new Set(seats.map((s) => s.seatId))].sort((a, b) => a - b);
  await tx.$queryRaw`
    SELECT seat_id FROM booking.run_seats
    WHERE run_id = ${runId}::uuid AND seat_id = ANY(${seatIds}::int[])
    ORDER BY seat_id FOR UPDATE`;

  await tx.$executeRaw`
    UPDATE booking.run_seats SET occupied_mask = occupied_mask & ~${mask}::bigint
    WHERE run_id = ${runId}::uuid AND seat_id = ANY(${seatIds}::int[])`;
  await tx.seatOccupancy.deleteMany({ where: { passengerId: { in: seats.map((s) => s.passengerId) } } });
}

/**
 * Releases a run's earmarked berths of `quotas` (by default every quota but GENERAL) to the
 * GENERAL pool: what chart preparation does with what the quotas left unused. A berth sold on
 * some segments keeps those bookings; its free segments become general ones. Returns how many
 * berths moved. Idempotent.
 */
export async function releaseQuotas(
  db: PrismaClient | Tx,
  runId: string,
  quotas: Quota[] = ['TATKAL', 'PREMIUM_TATKAL', 'LADIES', 'LOWER_BERTH'],
): Promise<number> {
  return db.$executeRaw`
    UPDATE booking.run_seats SET quota = 'GENERAL'
    WHERE run_id = ${runId}::uuid AND quota = ANY(${quotas}::booking."Quota"[])`;
}
