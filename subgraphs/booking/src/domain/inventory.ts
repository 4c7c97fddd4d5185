// Seat inventory of a run: one run_seats row per (run, seat) with a bit mask of occupied segments,
// and one seat_occupancy row per occupied (run, seat, segment) whose primary key makes a double
// booking impossible whatever code path writes it.
import type { Prisma, PrismaClient, TravelClass } from "@tatkal/db";

export type Tx = Prisma.TransactionClient;

// First bookings of a run in flight in this process: they share one transaction. At a Tatkal
// opening every request of the first second finds the run without inventory; each taking the run
// row's lock in a transaction of its own queued thousands of transactions on that one row, and
// those that waited longer than maxWait for it were answered TRY_AGAIN.
const creating = new Map<string, Promise<void>>();

/**
 * Creates the run's inventory rows on its first booking: one transaction per process (concurrent
 * callers wait for it), and processes wait on the run row once each.
 */
export async function ensureInventory(db: { $transaction: <T>(fn: (tx: Tx) => Promise<T>, o?: object) => Promise<T> }, run: { id: string; trainId: number; inventoryReady: boolean }) {
  if (run.inventoryReady) return;
  let pending = creating.get(run.id);
  if (!pending) {
    pending = createInventory(db, run).finally(() => creating.delete(run.id));
    creating.set(run.id, pending);
  }
  await pending;
  run.inventoryReady = true;
}

async function createInventory(db: Parameters<typeof ensureInventory>[0], run: { id: string; trainId: number }) {
  await db.$transaction(
    async (tx) => {
      const rows = await tx.$queryRaw<{ inventory_ready: boolean }[]>`
        SELECT inventory_ready FROM booking.train_runs WHERE id = ${run.id}::uuid FOR UPDATE`;
      if (rows[0]?.inventory_ready) return;
      await tx.$executeRaw`
        INSERT INTO booking.run_seats (run_id, seat_id, class)
        SELECT ${run.id}::uuid, s.id, c.class FROM booking.seats s JOIN booking.coaches c ON c.id = s.coach_id
        WHERE c.train_id = ${run.trainId}
        ON CONFLICT DO NOTHING`;
      await tx.$executeRaw`UPDATE booking.train_runs SET inventory_ready = true WHERE id = ${run.id}::uuid`;
    },
    { timeout: 30_000, maxWait: 10_000 },
  );
}

/** Ids of the seats of a class free for a segment mask (a plain read: no locks). */
export async function freeSeatIds(db: Tx | PrismaClient, runId: string, cls: TravelClass, mask: bigint): Promise<number[]> {
  const rows = await db.$queryRaw<{ seat_id: number }[]>`
    SELECT seat_id FROM booking.run_seats
    WHERE run_id = ${runId}::uuid AND class = ${cls}::booking."TravelClass" AND (occupied_mask & ${mask}) = 0`;
  return rows.map((r) => r.seat_id);
}

/**
 * The guard's read, shared: concurrent reads of the same (run, class, segment mask) wait for the
 * one query already running instead of each sending their own. Under a rush that is most of
 * them, and the answer is at most that query's few milliseconds old. That is enough for the
 * guard, which only proposes berths: the transaction re-checks every one under its row lock.
 */
export function createFreeSeatReader(db: PrismaClient) {
  const running = new Map<string, Promise<number[]>>();
  return (runId: string, cls: TravelClass, mask: bigint): Promise<number[]> => {
    const key = `${runId}|${cls}|${mask}`;
    let read = running.get(key);
    if (!read) {
      read = freeSeatIds(db, runId, cls, mask).finally(() => running.delete(key));
      running.set(key, read);
    }
    return read;
  };
}
export type FreeSeatReader = ReturnType<typeof createFreeSeatReader>;

/**
 * Locks these seats if still free, by primary key (SKIP LOCKED: a seat another transaction holds
 * is skipped, never waited for). FOR UPDATE re-checks the mask on the newest row version, so a
 * seat sold meanwhile is not returned. Returns the seat ids locked.
 */
export async function lockSeatsIfFree(tx: Tx, runId: string, seatIds: number[], mask: bigint): Promise<number[]> {
  if (seatIds.length === 0) return [];
  const rows = await tx.$queryRaw<{ seat_id: number }[]>`
    SELECT seat_id FROM booking.run_seats
    WHERE run_id = ${runId}::uuid AND seat_id = ANY(${seatIds}::int[]) AND (occupied_mask & ${mask}) = 0
    ORDER BY seat_id
    FOR UPDATE SKIP LOCKED`;
  return rows.map((r) => r.seat_id);
}

/**
 * Locks up to `limit` free seats of a class other than `exclude`, those nearest to `anchor`
 * first (seat ids run coach by coach, so a group stays together). It reads every free seat of
 * the class, so the reservation path calls it only when the guard's own berths were not enough.
 */
export async function lockFreeSeats(tx: Tx, runId: string, cls: TravelClass, mask: bigint, opts: { exclude: number[]; anchor: number; limit: number }): Promise<number[]> {
  if (opts.limit <= 0) return [];
  const rows = await tx.$queryRaw<{ seat_id: number }[]>`
    SELECT seat_id FROM booking.run_seats
    WHERE run_id = ${runId}::uuid AND class = ${cls}::booking."TravelClass" AND (occupied_mask & ${mask}) = 0
      AND seat_id <> ALL(${opts.exclude}::int[])
    ORDER BY abs(seat_id - ${opts.anchor}::int), seat_id
    LIMIT ${opts.limit}
    FOR UPDATE SKIP LOCKED`;
  return rows.map((r) => r.seat_id);
}

/** Marks the segments occupied: mask bits plus one occupancy row per segment (the hard guarantee). */
export async function occupy(tx: Tx, runId: string, reservationId: string, seats: { seatId: number; passengerId: string }[], fromSeq: number, toSeq: number, mask: bigint) {
  if (seats.length === 0) return;
  const seatIds = seats.map((s) => s.seatId);
  await tx.$executeRaw`
    UPDATE booking.run_seats SET occupied_mask = occupied_mask | ${mask}
    WHERE run_id = ${runId}::uuid AND seat_id = ANY(${seatIds}::int[])`;
  const segments = Array.from({ length: toSeq - fromSeq }, (_, i) => fromSeq + i);
  await tx.seatOccupancy.createMany({
    data: seats.flatMap((s) => segments.map((segment) => ({ runId, seatId: s.seatId, segment, passengerId: s.passengerId, reservationId }))),
  });
}

/** Frees the segments of these passengers' seats. Locks the rows in seat order (no deadlock with bookings). */
export async function release(tx: Tx, runId: string, seats: { seatId: number; passengerId: string }[], mask: bigint) {
  if (seats.length === 0) return;
  const seatIds = [...new Set(seats.map((s) => s.seatId))].sort((a, b) => a - b);
  await tx.$queryRaw`SELECT seat_id FROM booking.run_seats WHERE run_id = ${runId}::uuid AND seat_id = ANY(${seatIds}::int[]) ORDER BY seat_id FOR UPDATE`;
  await tx.$executeRaw`
    UPDATE booking.run_seats SET occupied_mask = occupied_mask & ~${mask}::bigint
    WHERE run_id = ${runId}::uuid AND seat_id = ANY(${seatIds}::int[])`;
  await tx.seatOccupancy.deleteMany({ where: { passengerId: { in: seats.map((s) => s.passengerId) } } });
}
