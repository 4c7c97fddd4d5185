// Seat inventory of a run: one run_seats row per (run, seat) with a bit mask of occupied segments,
// and one seat_occupancy row per occupied (run, seat, segment) whose primary key makes a double
// booking impossible whatever code path writes it.
import type { Prisma, PrismaClient, TravelClass } from "@tatkal/db";

export type Tx = Prisma.TransactionClient;

export interface FreeSeat {
  seatId: number;
  coachId: number;
  coach: string;
  position: number;
  number: number;
  berthType: string;
}

/** Creates the run's inventory rows on its first booking. Concurrent first bookings wait on the run row once. */
export async function ensureInventory(db: { $transaction: <T>(fn: (tx: Tx) => Promise<T>, o?: object) => Promise<T> }, run: { id: string; trainId: number; inventoryReady: boolean }) {
  if (run.inventoryReady) return;
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
  run.inventoryReady = true;
}

/** Free seats per coach for a class and segment mask (a plain read: no locks). */
export async function freeByCoach(db: Tx | PrismaClient, runId: string, cls: TravelClass, mask: bigint) {
  return db.$queryRaw<{ coach_id: number; code: string; free: number }[]>`
    SELECT c.id AS coach_id, c.code, count(*)::int AS free
    FROM booking.run_seats rs JOIN booking.seats s ON s.id = rs.seat_id JOIN booking.coaches c ON c.id = s.coach_id
    WHERE rs.run_id = ${runId}::uuid AND rs.class = ${cls}::booking."TravelClass" AND (rs.occupied_mask & ${mask}) = 0
    GROUP BY c.id, c.code, c.position ORDER BY c.position`;
}

export async function freeSeatsInCoach(db: Tx | PrismaClient, runId: string, coachId: number, mask: bigint): Promise<FreeSeat[]> {
  const rows = await db.$queryRaw<{ seat_id: number; coach_id: number; code: string; position: number; number: number; berth_type: string }[]>`
    SELECT rs.seat_id, c.id AS coach_id, c.code, c.position, s.number, s.berth_type::text
    FROM booking.run_seats rs JOIN booking.seats s ON s.id = rs.seat_id JOIN booking.coaches c ON c.id = s.coach_id
    WHERE rs.run_id = ${runId}::uuid AND c.id = ${coachId} AND (rs.occupied_mask & ${mask}) = 0
    ORDER BY s.number`;
  return rows.map((r) => ({ seatId: r.seat_id, coachId: r.coach_id, coach: r.code, position: r.position, number: r.number, berthType: r.berth_type }));
}

/**
 * Locks the given seats if still free (SKIP LOCKED: a seat another transaction holds is skipped,
 * never waited for). Returns the seat ids locked.
 */
export async function lockFreeSeats(tx: Tx, runId: string, seatIds: number[], mask: bigint): Promise<number[]> {
  if (seatIds.length === 0) return [];
  const rows = await tx.$queryRaw<{ seat_id: number }[]>`
    SELECT seat_id FROM booking.run_seats
    WHERE run_id = ${runId}::uuid AND seat_id = ANY(${seatIds}::int[]) AND (occupied_mask & ${mask}) = 0
    ORDER BY seat_id
    FOR UPDATE SKIP LOCKED`;
  return rows.map((r) => r.seat_id);
}

/** Locks up to `limit` more free seats of a class, the preferred coach first. */
export async function lockMoreFreeSeats(tx: Tx, runId: string, cls: TravelClass, mask: bigint, exclude: number[], limit: number, preferCoachId: number | null): Promise<number[]> {
  if (limit <= 0) return [];
  const rows = await tx.$queryRaw<{ seat_id: number }[]>`
    SELECT rs.seat_id FROM booking.run_seats rs JOIN booking.seats s ON s.id = rs.seat_id JOIN booking.coaches c ON c.id = s.coach_id
    WHERE rs.run_id = ${runId}::uuid AND rs.class = ${cls}::booking."TravelClass" AND (rs.occupied_mask & ${mask}) = 0
      AND rs.seat_id <> ALL(${exclude}::int[])
    ORDER BY (c.id = ${preferCoachId ?? -1}) DESC, c.position, s.number
    LIMIT ${limit}
    FOR UPDATE OF rs SKIP LOCKED`;
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
