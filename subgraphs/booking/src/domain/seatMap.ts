import { badInput, notFound } from '@tatkal/common';
import type { BookingContext } from '../context.ts';
import { routeSegment, runById, segmentMask, stopsByTrainId } from './network.ts';

/** Berths of one coach and whether each is free for the segments between two stops. */
export async function seatMap(ctx: BookingContext, args: { runId: string; coach: string; from: string; to: string }) {
  const run = await runById(ctx).load(args.runId);
  if (!run) throw notFound('No such train run');
  const coach = await ctx.prisma.coach.findUnique({
    where: { trainId_code: { trainId: run.trainId, code: args.coach.trim().toUpperCase() } },
    include: { seats: { orderBy: { number: 'asc' } } },
  });
  if (!coach) throw badInput(`This train has no coach ${args.coach}`, 'coach');
  const segment = routeSegment(await stopsByTrainId(ctx).load(run.trainId), args.from, args.to);
  const mask = segmentMask(segment.from.seq, segment.to.seq);
  const masks = run.inventoryReady
    ? await ctx.prisma.runSeat.findMany({
        where: { runId: run.id, seatId: { in: coach.seats.map((s) => s.id) } },
        select: { seatId: true, occupiedMask: true },
      })
    : [];
  const occupied = new Map(masks.map((m) => [m.seatId, m.occupiedMask]));
  return {
    coach: coach.code,
    class: coach.class,
    berths: coach.seats.map((s) => ({
      berth: s.number,
      berthType: s.berthType,
      available: ((occupied.get(s.id) ?? 0n) & mask) === 0n,
    })),
  };
}
