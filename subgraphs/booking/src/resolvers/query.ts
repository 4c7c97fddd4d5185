import type { TrainRun, TravelClass } from '@tatkal/db';
import { badInput, canRead, isPnr, notFound } from '@tatkal/common';
import type { BookingContext } from '../context.ts';
import { loadView } from '../domain/views.ts';
import { seatMap } from '../domain/seatMap.ts';
import { reservationsOf } from './reservation.ts';
import { availabilityOfRun } from './trainRun.ts';

const normalizeCode = (code: string) => code.trim().toUpperCase();

export const QueryResolvers = {
  station: (_: unknown, args: { code: string }, ctx: BookingContext) =>
    ctx.loaders.stationByCode.load(normalizeCode(args.code)),
  train: (_: unknown, args: { number: string }, ctx: BookingContext) =>
    ctx.loaders.trainByNumber.load(args.number.trim()),
  trainRun: (_: unknown, args: { trainNumber: string; date: string }, ctx: BookingContext) =>
    ctx.loaders.runByTrainAndDate.load(`${args.trainNumber.trim()}|${args.date}`),
  availability: async (
    _: unknown,
    args: {
      runId?: string | null;
      trainNumber?: string | null;
      date?: string | null;
      from: string;
      to: string;
      class?: TravelClass | null;
    },
    ctx: BookingContext,
  ) => {
    let run: TrainRun | null;
    if (args.runId) run = await ctx.loaders.runById.load(args.runId);
    else if (args.trainNumber && args.date)
      run = await ctx.loaders.runByTrainAndDate.load(`${args.trainNumber.trim()}|${args.date}`);
    else throw badInput('Give either runId, or trainNumber and date', 'runId');
    if (!run) throw notFound('No such train run');
    return availabilityOfRun(run, args.from, args.to, args.class, ctx);
  },
  seatMap: (_: unknown, args: { runId: string; coach: string; from: string; to: string }, ctx: BookingContext) =>
    seatMap(ctx, args),
  reservation: async (_: unknown, args: { pnr: string }, ctx: BookingContext) => {
    const pnr = args.pnr.trim();
    if (!isPnr(pnr)) throw badInput('A PNR is 10 digits', 'pnr');
    const r = await ctx.prisma.reservation.findUnique({ where: { pnr }, select: { id: true, userId: true } });
    // Another user's PNR answers exactly as a missing one: PNRs cannot be probed.
    if (!r || !canRead(ctx.identity, r.userId)) throw notFound(`No reservation with PNR ${pnr}`);
    return loadView(ctx.prisma, { id: r.id });
  },
  myReservations: (_: unknown, args: { first?: number | null; after?: string | null }, ctx: BookingContext) =>
    reservationsOf(ctx, ctx.identity!.userId, args.first, args.after),
};
