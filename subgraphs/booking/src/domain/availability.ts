import type { PrismaClient, TravelClass } from '@tatkal/db';
import { CLASS_CODE, farePaise } from '@tatkal/common/rail';
import { segmentMask } from './network.ts';

export interface ClassAvailability {
  class: TravelClass;
  code: string;
  totalBerths: number;
  availableBerths: number;
  waitlistLength: number;
  farePaise: number;
}

/**
 * Free berths per class for the segments fromSeq..toSeq of a run. Before the run's inventory
 * rows exist (first booking creates them) every berth is free.
 */
export async function availabilityFor(
  prisma: PrismaClient,
  run: { id: string; trainId: number; inventoryReady: boolean },
  fromSeq: number,
  toSeq: number,
  distanceKm: number,
  onlyClass?: TravelClass | null,
): Promise<ClassAvailability[]> {
  const mask = segmentMask(fromSeq, toSeq);
  const totals = await prisma.$queryRaw<{ class: TravelClass; total: bigint }[]>`
    SELECT c.class, count(*)::bigint AS total
    FROM booking.coaches c JOIN booking.seats s ON s.coach_id = c.id
    WHERE c.train_id = ${run.trainId}
    GROUP BY c.class
    ORDER BY min(c.position)`;
  const occupied = run.inventoryReady
    ? await prisma.$queryRaw<{ class: TravelClass; taken: bigint }[]>`
        SELECT class, count(*)::bigint AS taken FROM booking.run_seats
        WHERE run_id = ${run.id}::uuid AND (occupied_mask & ${mask}) <> 0
        GROUP BY class`
    : [];
  const waitlists = await prisma.passenger.groupBy({
    by: ['reservationId'],
    where: { status: 'WAITLISTED', reservation: { runId: run.id } },
    _count: true,
  });
  const waitlistByClass = new Map<TravelClass, number>();
  if (waitlists.length) {
    const reservations = await prisma.reservation.findMany({ where: { id: { in: waitlists.map((w) => w.reservationId) } }, select: { id: true, class: true } });
    const classOf = new Map(reservations.map((r) => [r.id, r.class]));
    for (const w of waitlists) {
      const cls = classOf.get(w.reservationId)!;
      waitlistByClass.set(cls, (waitlistByClass.get(cls) ?? 0) + w._count);
    }
  }
  const takenByClass = new Map(occupied.map((o) => [o.class, Number(o.taken)]));
  return totals
    .filter((t) => !onlyClass || t.class === onlyClass)
    .map((t) => ({
      class: t.class,
      code: CLASS_CODE[t.class],
      totalBerths: Number(t.total),
      availableBerths: Number(t.total) - (takenByClass.get(t.class) ?? 0),
      waitlistLength: waitlistByClass.get(t.class) ?? 0,
      farePaise: farePaise(t.class, distanceKm),
    }));
}
