import type { TrainRun } from '@tatkal/db';
import { badInput, canRead, isPnr, notFound } from '@tatkal/common';
import type * as Types from '../generated/resolvers.ts';
import { runById, runByTrainAndDate, stationByCode, trainByNumber } from '../domain/network.ts';
import { cancellationQuote } from '../domain/cancel.ts';
import { reservationRows, toView } from '../domain/views.ts';
import { seatMap } from '../domain/seatMap.ts';
import { reservationsOf } from './reservation.ts';
import { availabilityOfRun } from './trainRun.ts';

const normalizeCode = (code: string) => code.trim().toUpperCase();

export const QueryResolvers: Types.QueryResolvers = {
  station: (_, args, ctx) => stationByCode(ctx).load(normalizeCode(args.code)),
  train: (_, args, ctx) => trainByNumber(ctx).load(args.number.trim()),
  trainRun: (_, args, ctx) => runByTrainAndDate(ctx).load(`${args.trainNumber.trim()}|${args.date}`),
  availability: async (_, args, ctx) => {
    let run: TrainRun | null;
    if (args.runId) run = await runById(ctx).load(args.runId);
    else if (args.trainNumber && args.date)
      run = await runByTrainAndDate(ctx).load(`${args.trainNumber.trim()}|${args.date}`);
    else throw badInput('Give either runId, or trainNumber and date', 'runId');
    if (!run) throw notFound('No such train run');
    return availabilityOfRun(run, args.from, args.to, args.class, args.quota, ctx);
  },
  seatMap: (_, args, ctx) => seatMap(ctx, args),
  reservation: async (_, args, ctx) => {
    const pnr = args.pnr.trim();
    if (!isPnr(pnr)) throw badInput('A PNR is 10 digits', 'pnr');
    const [r] = await reservationRows(ctx.prisma, { pnr });
    // Another user's PNR answers exactly as a missing one: PNRs cannot be probed.
    if (!r || !canRead(ctx.identity, r.userId)) throw notFound(`No reservation with PNR ${pnr}`);
    return toView(r);
  },
  myReservations: (_, args, ctx) => reservationsOf(ctx, ctx.identity!.userId, args.first, args.after),
  cancellationQuote: async (_, args, ctx) => {
    const quote = await cancellationQuote(ctx.reservations, ctx.identity!, {
      pnr: args.pnr,
      passengerIds: args.passengerIds,
    });
    return {
      pnr: quote.pnr,
      refundPaise: quote.refundPaise,
      chargePaise: quote.chargePaise,
      refusalCode: quote.refusal ?? null,
      passengers: quote.lines.map((l) => ({
        passengerId: l.passengerId,
        status: l.status,
        refundPaise: l.refundPaise,
        chargePaise: l.chargePaise,
        rule: l.rule,
      })),
    };
  },
};
