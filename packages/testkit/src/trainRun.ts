// A purpose-built train for contention tests and benchmarks: four stops A -> B -> C -> D and
// exactly the berths asked for, on a run a few days ahead; and the audit that no berth is sold twice.
import { randomUUID } from 'node:crypto';
import type { PrismaClient, Quota, TravelClass } from '@tatkal/db';
import { addDays, todayInIndia } from '@tatkal/common/dates';
import { berthTypeOf } from '../../../subgraphs/booking/src/domain/rail.ts';
import { createInventory } from '../../../subgraphs/booking/src/domain/inventory.ts';

export interface TestRun {
  runId: string;
  trainNumber: string;
  date: string;
  stations: [string, string, string, string];
  coaches: string[];
}

let counter = 0;

/**
 * A run with `coaches` x `berthsPerCoach` berths of one class. Its seat inventory is prepared, as
 * booking's preparer does before a run's window opens, unless `prepared: false`.
 */
export async function createTestRun(
  prisma: PrismaClient,
  opts: {
    cls?: TravelClass;
    coaches: number;
    berthsPerCoach: number;
    daysAhead?: number;
    prepared?: boolean;
    /** Berths of the class earmarked per quota (the rest GENERAL), as the seed's quota shares. */
    quotas?: Partial<Record<Exclude<Quota, 'GENERAL'>, number>>;
    /** Side lower berths per coach earmarked for RAC (two RAC passengers each); none by default. */
    racBerths?: number;
    superfast?: boolean;
  },
): Promise<TestRun> {
  const cls = opts.cls ?? 'SLEEPER';
  // Unique within the process (the counter), unlikely to repeat across processes (the random part).
  const tag = `${String(++counter).padStart(3, '0')}${randomUUID().slice(0, 4)}`.toUpperCase();
  const codes = ['A', 'B', 'C', 'D'].map((l) => `T${l}${tag}`) as [string, string, string, string];
  await prisma.station.createMany({
    data: codes.map((code, i) => ({ code, name: `Test Halt ${i} ${tag}`, city: 'Testpur', state: 'Test Pradesh' })),
  });
  const stations = await prisma.station.findMany({ where: { code: { in: codes } } });
  const id = (code: string) => stations.find((s) => s.code === code)!.id;
  const number = `9${tag}`;
  const train = await prisma.train.create({
    data: {
      number,
      name: `Contention Express ${tag}`,
      type: 'SUPERFAST',
      superfast: opts.superfast ?? true,
      runsOn: [0, 1, 2, 3, 4, 5, 6],
    },
  });
  await prisma.trainStop.createMany({
    data: codes.map((code, seq) => ({
      trainId: train.id,
      seq,
      stationId: id(code),
      arrivalMin: seq === 0 ? null : 1200 + seq * 120,
      departureMin: seq === 3 ? null : 1205 + seq * 120,
      distanceKm: seq * 150,
    })),
  });
  const coachCodes: string[] = [];
  for (let c = 1; c <= opts.coaches; c++) {
    const coach = await prisma.coach.create({
      data: { trainId: train.id, code: `S${c}`, class: cls, position: c, racBerths: opts.racBerths ?? 0 },
    });
    coachCodes.push(coach.code);
    await prisma.seat.createMany({
      data: Array.from({ length: opts.berthsPerCoach }, (_, i) => ({
        coachId: coach.id,
        number: i + 1,
        berthType: berthTypeOf(cls, i + 1),
      })),
    });
  }
  await prisma.quotaShare.createMany({
    data: Object.entries(opts.quotas ?? {}).map(([quota, berths]) => ({
      trainId: train.id,
      class: cls,
      quota: quota as Quota,
      berths,
    })),
  });
  const date = addDays(todayInIndia(), opts.daysAhead ?? 5);
  // An upsert: a booking service's run scheduler running beside the test may have created this
  // run of the new train already (it creates every train's runs on its days of operation).
  await prisma.$executeRaw`
    INSERT INTO booking.train_runs (id, train_id, date) VALUES (gen_random_uuid(), ${train.id}, ${date}::date)
    ON CONFLICT (train_id, date) DO NOTHING`;
  const run = await prisma.trainRun.findUniqueOrThrow({
    where: { trainId_date: { trainId: train.id, date: new Date(`${date}T00:00:00Z`) } },
  });
  if (opts.prepared ?? true) await prisma.$transaction((tx) => createInventory(tx, [run.id]));
  return { runId: run.id, trainNumber: number, date, stations: codes, coaches: coachCodes };
}

/** Zero rows means no segment of any berth is sold twice (beyond the primary key, which forbids it). */
export async function doubleBookingAudit(prisma: PrismaClient, runId: string) {
  // The seated passengers first (a rush leaves thousands of refused and waitlisted ones).
  const overlaps = await prisma.$queryRaw<{ n: bigint }[]>`
    WITH seated AS MATERIALIZED (
      SELECT p.id, p.seat_id, r.from_seq, r.to_seq FROM booking.passengers p
      JOIN booking.reservations r ON r.id = p.reservation_id
      WHERE r.run_id = ${runId}::uuid AND p.status IN ('HELD', 'CONFIRMED'))
    SELECT count(*)::bigint AS n FROM seated a
    JOIN seated b ON b.seat_id = a.seat_id AND b.id > a.id
      AND int4range(a.from_seq, a.to_seq) && int4range(b.from_seq, b.to_seq)`;
  const maskMismatch = await prisma.$queryRaw<{ n: bigint }[]>`
    SELECT count(*)::bigint AS n FROM booking.run_seats rs
    WHERE rs.run_id = ${runId}::uuid AND rs.occupied_mask <> COALESCE((
      SELECT bit_or((1::bigint << o.segment)) FROM booking.seat_occupancy o
      WHERE o.run_id = rs.run_id AND o.seat_id = rs.seat_id), 0)`;
  const held = await prisma.$queryRaw<{ n: bigint }[]>`
    SELECT count(*)::bigint AS n FROM booking.passengers p JOIN booking.reservations r ON r.id = p.reservation_id
    WHERE r.run_id = ${runId}::uuid AND p.status IN ('HELD', 'CONFIRMED')`;
  const distinctSeats = await prisma.$queryRaw<{ n: bigint }[]>`
    SELECT count(DISTINCT p.seat_id)::bigint AS n
    FROM booking.passengers p JOIN booking.reservations r ON r.id = p.reservation_id
    WHERE r.run_id = ${runId}::uuid AND p.status IN ('HELD', 'CONFIRMED')`;
  return {
    overlaps: Number(overlaps[0]!.n),
    maskMismatch: Number(maskMismatch[0]!.n),
    seatedPassengers: Number(held[0]!.n),
    distinctSeats: Number(distinctSeats[0]!.n),
  };
}

/** Zero in every count means no RAC half berth seats two passengers on a segment (beyond the key). */
export async function racAudit(prisma: PrismaClient, runId: string) {
  // RAC: never a third passenger on a half berth's segment, masks in step with rac_occupancy.
  const racOverShared = await prisma.$queryRaw<{ n: bigint }[]>`
    WITH rac AS MATERIALIZED (
      SELECT p.id, p.seat_id, p.rac_slot, r.from_seq, r.to_seq FROM booking.passengers p
      JOIN booking.reservations r ON r.id = p.reservation_id
      WHERE r.run_id = ${runId}::uuid AND p.status = 'RAC')
    SELECT count(*)::bigint AS n FROM rac a
    JOIN rac b ON b.seat_id = a.seat_id AND b.rac_slot = a.rac_slot AND b.id > a.id
      AND int4range(a.from_seq, a.to_seq) && int4range(b.from_seq, b.to_seq)`;
  const racMaskMismatch = await prisma.$queryRaw<{ n: bigint }[]>`
    SELECT count(*)::bigint AS n FROM booking.rac_slots rs
    WHERE rs.run_id = ${runId}::uuid AND rs.occupied_mask <> COALESCE((
      SELECT bit_or((1::bigint << o.segment)) FROM booking.rac_occupancy o
      WHERE o.run_id = rs.run_id AND o.seat_id = rs.seat_id AND o.slot = rs.slot), 0)`;
  // A berth is a berth or an RAC berth, never both.
  const racSoldAsBerth = await prisma.$queryRaw<{ n: bigint }[]>`
    SELECT count(*)::bigint AS n FROM booking.seat_occupancy o
    JOIN booking.run_seats rs ON rs.run_id = o.run_id AND rs.seat_id = o.seat_id
    WHERE o.run_id = ${runId}::uuid AND rs.rac`;
  return {
    racOverShared: Number(racOverShared[0]!.n),
    racMaskMismatch: Number(racMaskMismatch[0]!.n),
    racSoldAsBerth: Number(racSoldAsBerth[0]!.n),
  };
}
