import { cancelReservation } from '../domain/cancel.ts';
import type { ReservationView } from '../domain/types.ts';
import { prepareChart } from '../domain/chart.ts';
import { cancelRun } from '../domain/runs/cancel.ts';
import { runById } from '../domain/network.ts';
import type * as Types from '../generated/resolvers.ts';
import { required } from './required.ts';

export const MutationResolvers: Types.MutationResolvers = {
  // Validated, then queued for the run's allocator: the outcome, or QUEUED with a position
  // (domain/queue.ts). The shield rule guarantees an identity.
  // The caller's address goes with the identity: the Tatkal limit per address (tatkal/limits.ts).
  reserveSeats: (_, args, ctx) =>
    ctx.reservations.queue.reserveSeats(ctx.identity!, args.input, args.idempotencyKey, ctx.clientIp ?? null),
  cancelReservation: async (_, args, ctx) => {
    const view = await ctx.idempotency.run<ReservationView>(
      {
        userId: ctx.identity!.userId,
        operation: 'cancelReservation',
        key: args.idempotencyKey,
        request: { pnr: args.pnr, passengerIds: args.passengerIds ?? null },
      },
      (complete) =>
        cancelReservation(
          ctx.reservations,
          ctx.identity!,
          { pnr: args.pnr, passengerIds: args.passengerIds },
          complete,
        ),
    );
    // Berths were freed: what newcomers were refused from memory no longer holds.
    ctx.reservations.refusals.invalidate(view.runId, view.class, view.quota);
    return view;
  },
  // ADMIN only (permissions.ts). The work itself is idempotent too: a second key or a concurrent
  // call finds every reservation already cancelled and answers what it cancelled, nothing.
  cancelRun: (_, args, ctx) =>
    ctx.idempotency.run(
      {
        userId: ctx.identity!.userId,
        operation: 'cancelRun',
        key: args.idempotencyKey,
        request: { runId: args.runId },
      },
      () => cancelRun(ctx.reservations, args.runId),
    ),
  // ADMIN only. Idempotent by itself too (the run's chart timestamps): a repeat answers prepared: false.
  prepareChart: async (_, args, ctx) => {
    const report = await ctx.idempotency.run(
      {
        userId: ctx.identity!.userId,
        operation: 'prepareChart',
        key: args.idempotencyKey,
        request: { runId: args.runId, chart: args.chart ?? 'FIRST' },
      },
      () =>
        prepareChart(
          { ...ctx.reservations, logger: ctx.log },
          args.runId,
          args.chart ?? 'FIRST',
          ctx.reservations.now?.() ?? new Date(),
        ),
    );
    // Berths moved: what newcomers were refused from memory no longer holds.
    ctx.reservations.refusals.invalidateRun(report.runId);
    return report;
  },
};

export const ChartReportResolvers: Types.ChartReportResolvers = {
  run: (report, _, ctx) => required(runById(ctx).load(report.runId), `Run ${report.runId}`),
};

export const RunCancellationResolvers: Types.RunCancellationResolvers = {
  run: (view, _, ctx) => required(runById(ctx).load(view.runId), `Run ${view.runId}`),
};
