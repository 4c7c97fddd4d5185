// The move `expire`: unpaid holds whose time is up.
import type { PrismaClient, Quota, TravelClass } from '@tatkal/db';
import { writeOutbox } from '../events.ts';
import type { ReservationSettings } from '../types.ts';
import { endHold } from './hold.ts';
import { lockPools, promote } from './promote.ts';
import { sources } from './transitions.ts';

/**
 * Expires unpaid holds whose time is up, in batches that several booking instances can run at
 * once (SKIP LOCKED), frees their berths and promotes the waitlist. Returns how many expired.
 */
export async function expireDue(prisma: PrismaClient, settings: ReservationSettings, batch = 100): Promise<number> {
  return prisma.$transaction(
    async (tx) => {
      const expired = await tx.$queryRaw<
        { id: string; run_id: string; class: TravelClass; quota: Quota; pnr: string }[]
      >`
        SELECT id::text, run_id::text, class, quota, pnr FROM booking.reservations
        WHERE status = ANY(${sources('expire')}::booking."ReservationStatus"[]) AND hold_expires_at < now()
        ORDER BY hold_expires_at LIMIT ${batch}
        FOR UPDATE SKIP LOCKED`;
      // Every pool's lock up front, in one order (run, class, quota): two sweepers never deadlock.
      const runs = [...new Set(expired.map((r) => r.run_id))].sort();
      for (const runId of runs)
        await lockPools(
          tx,
          runId,
          expired.filter((r) => r.run_id === runId).map((r) => ({ cls: r.class, quota: r.quota })),
        );
      for (const r of expired) {
        await endHold(tx, r.id, 'expire');
        await writeOutbox(tx, 'reservation.expired', r, {});
      }
      const pools = new Map(expired.map((r) => [`${r.run_id}|${r.class}|${r.quota}`, r]));
      for (const r of pools.values()) await promote(tx, r.run_id, r.class, r.quota, settings);
      return expired.length;
    },
    { timeout: 30_000, maxWait: 10_000 },
  );
}
