import { badInput, canRead, isUuid } from '@tatkal/common';
import type { BookingContext } from '../context.ts';
import { PassengerStatus, ReservationStatus } from '../domain/lifecycle/index.ts';
import type { QueuedView } from '../domain/queue.ts';
import { runById, stationByCode } from '../domain/network.ts';
import { reservationPageByKey, reservationViewById, type PageKey } from '../domain/views.ts';
import type * as Types from '../generated/resolvers.ts';
import { required } from './required.ts';

export const ReservationResolvers: Types.ReservationResolvers = {
  // Other subgraphs (payment) reference a reservation by id; only its owner or an admin sees it.
  __resolveReference: async (ref, ctx) => {
    const found = await reservationViewById(ctx).load(ref.id);
    return found && canRead(ctx.identity, found.ownerId) ? found.view : null;
  },
  run: (r, _, ctx) => required(runById(ctx).load(r.runId), `Run ${r.runId} of reservation ${r.id}`),
  from: (r, _, ctx) => required(stationByCode(ctx).load(r.fromCode), `Station ${r.fromCode}`),
  to: (r, _, ctx) => required(stationByCode(ctx).load(r.toCode), `Station ${r.toCode}`),
  // Every passenger of a PNR pays the same fare: the total's parts are one passenger's times those left.
  fare: (r) => {
    if (!r.fare) return null;
    const n = r.passengers.filter((p) => p.status !== PassengerStatus.CANCELLED).length;
    const f = r.fare;
    return {
      basePaise: f.basePaise * n,
      reservationChargePaise: f.reservationChargePaise * n,
      superfastChargePaise: f.superfastChargePaise * n,
      tatkalChargePaise: f.tatkalChargePaise * n,
      gstPaise: f.gstPaise * n,
      roundingPaise: f.roundingPaise * n,
      totalPaise: f.totalPaise * n,
    };
  },
  chartPrepared: async (r, _, ctx) => (await runById(ctx).load(r.runId))?.chartPreparedAt != null,
  // A QUEUED reservation's place: reserveSeats answers it; other reads compute it from the ticket.
  queuePosition: async (r, _, ctx) => (await queuePlace(r, ctx))?.queuePosition ?? null,
  estimatedWaitSeconds: async (r, _, ctx) => (await queuePlace(r, ctx))?.estimatedWaitSeconds ?? null,
};

function queuePlace(r: QueuedView, ctx: BookingContext) {
  if (r.status !== ReservationStatus.QUEUED) return null;
  if (r.queueTicket === null) {
    // In a waiting room: no place until the opening, and the wait is the time until it.
    if (!r.opensAt) return null;
    const now = ctx.reservations.now?.() ?? new Date();
    const untilOpening = Math.max(0, Math.ceil((Date.parse(r.opensAt) - now.getTime()) / 1000));
    return { queuePosition: null, estimatedWaitSeconds: untilOpening };
  }
  if (r.queuePosition != null && r.estimatedWaitSeconds != null)
    return { queuePosition: r.queuePosition, estimatedWaitSeconds: r.estimatedWaitSeconds };
  return ctx.reservations.queue.place(r.runId, r.queueTicket);
}

const decodeCursor = (cursor: string): { createdAt: Date; id: string } => {
  const [ts, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(Number(ts));
  if (!isUuid(id) || Number.isNaN(createdAt.getTime())) throw badInput('Invalid cursor', 'after');
  return { createdAt, id };
};

/** Newest first, keyset-paged by (createdAt, id); the pages of many users share their queries. */
export function reservationsOf(
  ctx: BookingContext,
  userId: string,
  first: number | null | undefined,
  after: string | null | undefined,
) {
  const take = first ?? 20;
  if (take < 1 || take > 100) throw badInput('first must be between 1 and 100', 'first');
  const cursor = after ? decodeCursor(after) : null;
  const key: PageKey = {
    userId,
    take,
    after: cursor ? { createdAtMs: cursor.createdAt.getTime(), id: cursor.id } : null,
  };
  return reservationPageByKey(ctx).load(JSON.stringify(key));
}

export const UserResolvers: Types.UserResolvers = {
  __resolveReference: (ref) => ({ id: ref.id }),
  reservations: (user, args, ctx) => {
    if (!canRead(ctx.identity, user.id)) return { nodes: [], nextCursor: null };
    return reservationsOf(ctx, user.id, args.first, args.after);
  },
};
