// A traveller's cancellation: input checked, the reservation locked and its owner checked here;
// the move itself is the lifecycle's `cancel`.
import type { PrismaClient } from '@tatkal/db';
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
import { activePassengers, canMove, cancel, ReservationStatus } from './lifecycle/index.ts';
import type { ReservationSettings, ReservationView } from './types.ts';
import { loadView } from './views.ts';

export interface CancelInput {
  pnr: string;
  passengerIds?: string[] | null;
}

/** Cancels passengers (all by default) of a PNR the caller owns (or any, for an admin). */
export async function cancelReservation(
  deps: { prisma: PrismaClient; idempotency: Idempotency; settings: ReservationSettings },
  identity: Identity,
  input: CancelInput,
): Promise<ReservationView> {
  const pnr = input.pnr.trim();
  if (!isPnr(pnr)) throw badInput('A PNR is 10 digits', 'pnr');
  if (
    input.passengerIds &&
    (input.passengerIds.length === 0 || new Set(input.passengerIds).size !== input.passengerIds.length)
  ) {
    throw badInput('passengerIds must list distinct passengers of this PNR', 'passengerIds');
  }
  return deps.prisma.$transaction(
    async (tx) => {
      const rows = await tx.$queryRaw<
        { id: string }[]
      >`SELECT id FROM booking.reservations WHERE pnr = ${pnr} FOR UPDATE`;
      // Another user's PNR answers as a missing one: PNRs cannot be probed.
      const r = rows[0]
        ? await tx.reservation.findUniqueOrThrow({ where: { id: rows[0].id }, include: { passengers: true } })
        : null;
      if (!r || !canRead(identity, r.userId)) throw notFound(`No reservation with PNR ${pnr}`);
      if (!canMove('cancel', r.status))
        throw new AppError(ErrorCode.INVALID_STATE, `A ${r.status.toLowerCase()} reservation cannot be cancelled`);
      const active = activePassengers(r.passengers);
      if (r.status === ReservationStatus.QUEUED && input.passengerIds && input.passengerIds.length !== active.length) {
        throw new AppError(ErrorCode.INVALID_STATE, 'A queued reservation is cancelled as a whole');
      }
      const ids = input.passengerIds ?? active.map((p) => p.id);
      for (const id of ids) {
        if (!active.some((p) => p.id === id))
          throw badInput(`Passenger ${id} is not an active passenger of this PNR`, 'passengerIds');
      }
      await cancel(tx, deps, r, ids);
      return (await loadView(tx, { id: r.id }))!;
    },
    { maxWait: deps.settings.txMaxWaitMs, timeout: deps.settings.txTimeoutMs },
  );
}
