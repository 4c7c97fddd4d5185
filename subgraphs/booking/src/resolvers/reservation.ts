import { badInput, canRead, isUuid, type Identity } from '@tatkal/common';
import type { BookingContext } from '../context.ts';
import type { QueuedView } from '../domain/queue.ts';
import type { ReservationView } from '../domain/types.ts';
import type { PageKey } from '../domain/views.ts';

export const ReservationResolvers = {
  // Other subgraphs (payment) reference a reservation by id; only its owner or an admin sees it.
  __resolveReference: async (ref: { id: string }, ctx: BookingContext) => {
    const found = await ctx.loaders.reservationView.load(ref.id);
    return found && canRead(ctx.identity, found.ownerId) ? found.view : null;
  },
  run: (r: ReservationView, _: unknown, ctx: BookingContext) => ctx.loaders.runById.load(r.runId),
  from: (r: ReservationView, _: unknown, ctx: BookingContext) => ctx.loaders.stationByCode.load(r.fromCode),
  to: (r: ReservationView, _: unknown, ctx: BookingContext) => ctx.loaders.stationByCode.load(r.toCode),
  // A QUEUED reservation's place: reserveSeats answers it; other reads compute it from the ticket.
  queuePosition: async (r: QueuedView, _: unknown, ctx: BookingContext) =>
    (await queuePlace(r, ctx))?.queuePosition ?? null,
  estimatedWaitSeconds: async (r: QueuedView, _: unknown, ctx: BookingContext) =>
    (await queuePlace(r, ctx))?.estimatedWaitSeconds ?? null,
};

function queuePlace(r: QueuedView, ctx: BookingContext) {
  if (r.status !== 'QUEUED' || r.queueTicket === null) return null;
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
  return ctx.loaders.reservationPage.load(JSON.stringify(key));
}

export const UserResolvers = {
  __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
  reservations: (user: { id: string }, args: { first?: number | null; after?: string | null }, ctx: BookingContext) => {
    if (!canRead(ctx.identity as Identity | null, user.id)) return { nodes: [], nextCursor: null };
    return reservationsOf(ctx, user.id, args.first, args.after);
  },
};
