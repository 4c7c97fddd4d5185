// A traveller's cancellation: input checked, the reservation locked and its owner checked here;
// the move itself is the lifecycle's `cancel`.
import { Prisma, type PrismaClient, type Quota, type TravelClass } from '@tatkal/db';
import {
  AppError,
  badInput,
  canRead,
  ErrorCode,
  isPnr,
  notFound,
  type Identity,
  type Idempotency,
} from '@tatkal/common';
import type { Tx } from './inventory.ts';
import { activePassengers, canMove, cancel, lockPools, ReservationStatus } from './lifecycle/index.ts';
import { departureOf, quoteCancellation } from './refunds.ts';
import type { ReservationSettings, ReservationView } from './types.ts';
import { loadView } from './views.ts';

export interface CancelInput {
  pnr: string;
  passengerIds?: string[] | null;
}

/** The caller's reservation by PNR with its passengers (locked when `lock`); NOT_FOUND otherwise. */
async function ownReservation(db: PrismaClient | Tx, identity: Identity, input: CancelInput, lock: boolean) {
  const pnr = input.pnr.trim();
  if (!isPnr(pnr)) throw badInput('A PNR is 10 digits', 'pnr');
  if (
    input.passengerIds &&
    (input.passengerIds.length === 0 || new Set(input.passengerIds).size !== input.passengerIds.length)
  ) {
    throw badInput('passengerIds must list distinct passengers of this PNR', 'passengerIds');
  }
  const rows = await db.$queryRaw<{ id: string; run_id: string; class: TravelClass; quota: Quota }[]>`
    SELECT id, run_id::text, class, quota FROM booking.reservations WHERE pnr = ${pnr}
    ${lock ? Prisma.sql`FOR UPDATE` : Prisma.empty}`;
  const row = rows[0];
  // Then its pool, before its passengers are read: a promotion holds the pool while it moves them,
  // and the refund is priced on what they are now.
  if (lock && row) await lockPools(db, row.run_id, [{ cls: row.class, quota: row.quota }]);
  // Another user's PNR answers as a missing one: PNRs cannot be probed.
  const r = row
    ? await db.reservation.findUniqueOrThrow({
        where: { id: row.id },
        include: { passengers: true, run: true },
      })
    : null;
  if (!r || !canRead(identity, r.userId)) throw notFound(`No reservation with PNR ${pnr}`);
  const active = activePassengers(r.passengers);
  const ids = input.passengerIds ?? active.map((p) => p.id);
  for (const id of ids) {
    if (!active.some((p) => p.id === id))
      throw badInput(`Passenger ${id} is not an active passenger of this PNR`, 'passengerIds');
  }
  return { r, active, ids };
}

/** What cancelling these passengers would refund now (the rule table), without cancelling. */
export async function cancellationQuote(
  deps: { prisma: PrismaClient; now?: () => Date },
  identity: Identity,
  input: CancelInput,
) {
  const { r, ids } = await ownReservation(deps.prisma, identity, input, false);
  const quote = quoteCancellation(
    r,
    r.passengers.filter((p) => ids.includes(p.id)),
    {
      departure: await departureOf(deps.prisma, r.run),
      now: deps.now?.() ?? new Date(),
      chartPrepared: r.run.chartPreparedAt !== null,
    },
  );
  return { pnr: r.pnr, ...quote };
}

/** Cancels passengers (all by default) of a PNR the caller owns (or any, for an admin). */
export async function cancelReservation(
  deps: {
    prisma: PrismaClient;
    idempotency: Idempotency;
    settings: ReservationSettings;
    now?: () => Date;
    /** The availability cache (availabilityCache.ts): told after the commit. */
    availability?: { changed(runId: string): void };
  },
  identity: Identity,
  input: CancelInput,
  /**
   * Stores the answer under the request's idempotency key in this transaction (Idempotency.run's
   * `complete`): a process killed right after the commit must not leave a retry to cancel again
   * (INVALID_STATE for a cancellation that happened; found by the chaos run).
   */
  complete?: (tx: Tx, view: ReservationView) => Promise<void>,
): Promise<ReservationView> {
  const view = await deps.prisma.$transaction(
    async (tx) => {
      const { r, active, ids } = await ownReservation(tx, identity, input, true);
      if (!canMove('cancel', r.status))
        throw new AppError(ErrorCode.INVALID_STATE, `A ${r.status.toLowerCase()} reservation cannot be cancelled`);
      if (r.status === ReservationStatus.QUEUED && input.passengerIds && input.passengerIds.length !== active.length) {
        throw new AppError(ErrorCode.INVALID_STATE, 'A queued reservation is cancelled as a whole');
      }
      // The refund each passenger gets by the rule table (the same the quote showed), or refused.
      const quote = quoteCancellation(
        r,
        r.passengers.filter((p) => ids.includes(p.id)),
        {
          departure: await departureOf(tx, r.run),
          now: deps.now?.() ?? new Date(),
          chartPrepared: r.run.chartPreparedAt !== null,
        },
      );
      if (quote.refusal)
        throw new AppError(
          ErrorCode.CANCELLATION_CLOSED,
          'Online cancellation is closed for this ticket (chart prepared or departure too near); file a refund claim',
        );
      await cancel(tx, deps, r, ids, { refunds: new Map(quote.lines.map((l) => [l.passengerId, l.refundPaise])) });
      const cancelled = (await loadView(tx, { id: r.id }))!;
      await complete?.(tx, cancelled);
      return cancelled;
    },
    { maxWait: deps.settings.txMaxWaitMs, timeout: deps.settings.txTimeoutMs },
  );
  deps.availability?.changed(view.runId);
  return view;
}
