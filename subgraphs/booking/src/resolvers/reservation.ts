import { badInput, type Identity } from '@tatkal/common';
import type { BookingContext } from '../context.ts';
import { canRead, loadView, type ReservationView } from '../domain/reservations.ts';

export const ReservationResolvers = {
  // Other subgraphs (payment) reference a reservation by id; only its owner or an admin sees it.
  __resolveReference: async (ref: { id: string }, ctx: BookingContext) => {
    if (!/^[0-9a-f-]{36}$/i.test(ref.id)) return null;
    const view = await loadView(ctx.prisma, { id: ref.id });
    return view && canRead(ctx.identity, await ownerOf(ctx, view.id)) ? view : null;
  },
  run: (r: ReservationView, _: unknown, ctx: BookingContext) => ctx.loaders.runById.load(r.runId),
  from: (r: ReservationView, _: unknown, ctx: BookingContext) => ctx.loaders.stationByCode.load(r.fromCode),
  to: (r: ReservationView, _: unknown, ctx: BookingContext) => ctx.loaders.stationByCode.load(r.toCode),
};

async function ownerOf(ctx: BookingContext, reservationId: string): Promise<string> {
  const r = await ctx.prisma.reservation.findUniqueOrThrow({ where: { id: reservationId }, select: { userId: true } });
  return r.userId;
}

const decodeCursor = (cursor: string): { createdAt: Date; id: string } => {
  const [ts, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(Number(ts));
  if (!id || !/^[0-9a-f-]{36}$/i.test(id) || Number.isNaN(createdAt.getTime())) throw badInput('Invalid cursor', 'after');
  return { createdAt, id };
};

/** Newest first, keyset-paged by (createdAt, id). */
export async function reservationsOf(ctx: BookingContext, userId: string, first: number | null | undefined, after: string | null | undefined) {
  const take = first ?? 20;
  if (take < 1 || take > 100) throw badInput('first must be between 1 and 100', 'first');
  const cursor = after ? decodeCursor(after) : null;
  const rows = await ctx.prisma.reservation.findMany({
    where: {
      userId,
      ...(cursor ? { OR: [{ createdAt: { lt: cursor.createdAt } }, { createdAt: cursor.createdAt, id: { lt: cursor.id } }] } : {}),
    },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: take + 1,
    select: { id: true, createdAt: true },
  });
  const page = rows.slice(0, take);
  const nodes = await Promise.all(page.map((r) => loadView(ctx.prisma, { id: r.id })));
  const last = page[page.length - 1];
  return {
    nodes,
    nextCursor: rows.length > take && last ? Buffer.from(`${last.createdAt.getTime()}|${last.id}`).toString('base64url') : null,
  };
}

export const UserResolvers = {
  __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
  reservations: (user: { id: string }, args: { first?: number | null; after?: string | null }, ctx: BookingContext) => {
    if (!canRead(ctx.identity as Identity | null, user.id)) return { nodes: [], nextCursor: null };
    return reservationsOf(ctx, user.id, args.first, args.after);
  },
};
