// A reservation as the API shows it, built from its rows (queries) or from what the allocator
// wrote (mutations, replayed byte for byte).
import { pageIdsPerUser, Prisma, type PrismaClient, type UserPageKey } from '@tatkal/db';
import { isUuid, requestLoader } from '@tatkal/common';
import type { BookingContext } from '../context.ts';
import type { FareBreakdown } from './fares/index.ts';
import { ON_RAC, PassengerStatus, ReservationStatus, SEATED } from './lifecycle/index.ts';
import type { Tx } from './inventory.ts';
import type { ReservationView } from './types.ts';

type Row<M extends 'reservation' | 'passenger'> = Awaited<ReturnType<PrismaClient[M]['findFirstOrThrow']>>;

/** What a view is built from: the reservation's row, its passengers and its journey's station codes. */
export type ReservationRow = Pick<
  Row<'reservation'>,
  | 'id'
  | 'pnr'
  | 'userId'
  | 'runId'
  | 'class'
  | 'quota'
  | 'status'
  | 'fare'
  | 'holdExpiresAt'
  | 'createdAt'
  | 'queueTicket'
  | 'refusalCode'
  | 'opensAt'
> & {
  fromCode: string;
  toCode: string;
  passengers: Pick<
    Row<'passenger'>,
    | 'id'
    | 'position'
    | 'name'
    | 'age'
    | 'gender'
    | 'berthPreference'
    | 'status'
    | 'coachCode'
    | 'berthNumber'
    | 'berthType'
    | 'waitlistNumber'
    | 'racNumber'
    | 'farePaise'
    | 'refundPaise'
  >[];
};

/**
 * Reservations with their passengers and the station codes of their journey in ONE statement: a
 * traveller's poll of a queued PNR and payment's check of a hold read a reservation this way (the
 * ORM's include and the network loaders took five queries).
 */
export async function reservationRows(
  db: Tx | PrismaClient,
  where: { ids: string[] } | { pnr: string },
): Promise<ReservationRow[]> {
  const filter = 'ids' in where ? Prisma.sql`r.id = ANY(${where.ids}::uuid[])` : Prisma.sql`r.pnr = ${where.pnr}`;
  // The station codes as scalar subqueries, not joins: PostgreSQL plans every execution of this
  // (a few per traveller's poll), and a six-way join took it ~1.2 ms to plan against ~0.2 ms.
  const code = (seq: 'from_seq' | 'to_seq') => Prisma.sql`(
      SELECT s.code FROM booking.train_runs tr
      JOIN booking.train_stops ts ON ts.train_id = tr.train_id JOIN booking.stations s ON s.id = ts.station_id
      WHERE tr.id = r.run_id AND ts.seq = r.${Prisma.raw(seq)})`;
  return db.$queryRaw<ReservationRow[]>`
    SELECT r.id::text AS id, r.pnr, r.user_id::text AS "userId", r.run_id::text AS "runId", r.class::text AS class,
      r.quota::text AS quota, r.status::text AS status, r.fare, r.hold_expires_at AS "holdExpiresAt",
      r.created_at AS "createdAt", r.queue_ticket AS "queueTicket", r.refusal_code AS "refusalCode",
      r.opens_at AS "opensAt", ${code('from_seq')} AS "fromCode", ${code('to_seq')} AS "toCode",
      COALESCE((
        SELECT json_agg(json_build_object(
          'id', p.id, 'position', p.position, 'name', p.name, 'age', p.age, 'gender', p.gender,
          'berthPreference', p.berth_preference, 'status', p.status, 'coachCode', p.coach_code,
          'berthNumber', p.berth_number, 'berthType', p.berth_type, 'waitlistNumber', p.waitlist_number,
          'racNumber', p.rac_number, 'farePaise', p.fare_paise, 'refundPaise', p.refund_paise) ORDER BY p.position)
        FROM booking.passengers p WHERE p.reservation_id = r.id), '[]'::json) AS passengers
    FROM booking.reservations r
    WHERE ${filter}`;
}

// RAC passengers are shown the side lower berth they share.
const seated = (status: PassengerStatus) => SEATED.includes(status) || status === ON_RAC;
const inWaitingRoom = (opensAt: Date | null) => opensAt?.toISOString() ?? null;

export function toView(r: ReservationRow): ReservationView {
  const active = r.passengers.filter((p) => p.status !== PassengerStatus.CANCELLED);
  return {
    id: r.id,
    pnr: r.pnr,
    status: r.status,
    runId: r.runId,
    fromCode: r.fromCode,
    toCode: r.toCode,
    class: r.class,
    quota: r.quota,
    farePaise: active.reduce((sum, p) => sum + p.farePaise, 0),
    fare: (r.fare as unknown as FareBreakdown | null) ?? null,
    holdExpiresAt: r.status === ReservationStatus.HELD && r.holdExpiresAt ? r.holdExpiresAt.toISOString() : null,
    createdAt: r.createdAt.toISOString(),
    queueTicket: r.status === ReservationStatus.QUEUED ? r.queueTicket : null,
    refusalCode: r.status === ReservationStatus.REFUSED ? r.refusalCode : null,
    opensAt: r.status === ReservationStatus.QUEUED && r.queueTicket === null ? inWaitingRoom(r.opensAt) : null,
    passengers: [...r.passengers]
      .sort((a, b) => a.position - b.position)
      .map((p) => ({
        id: p.id,
        name: p.name,
        age: p.age,
        gender: p.gender,
        berthPreference: p.berthPreference,
        status: p.status,
        coach: seated(p.status) ? p.coachCode : null,
        berth: seated(p.status) ? p.berthNumber : null,
        berthType: seated(p.status) ? p.berthType : null,
        waitlistNumber: p.status === PassengerStatus.WAITLISTED ? p.waitlistNumber : null,
        racNumber: p.status === ON_RAC ? p.racNumber : null,
        farePaise: p.farePaise,
        fare: (r.fare as unknown as FareBreakdown | null) ?? null,
        refundPaise: p.refundPaise,
      })),
  };
}

/** Loads the current view of a reservation (queries; not the stored mutation response). */
export async function loadView(
  db: Tx | PrismaClient,
  where: { id: string } | { pnr: string },
): Promise<ReservationView | null> {
  const [r] = await reservationRows(db, 'id' in where ? { ids: [where.id] } : where);
  return r ? toView(r) : null;
}

// Reads of many reservations at once: entity references from other subgraphs and reservation
// lists cost a fixed number of queries, not a few per reservation.

/** A reservation's view and whose it is: callers decide visibility (`canRead`). */
export interface OwnedView {
  view: ReservationView;
  ownerId: string;
}

function settled<V>(values: (V | Error)[]): V[] {
  for (const v of values) if (v instanceof Error) throw v;
  return values as V[];
}

/** Views by reservation id, one statement for all of a request's references (`reservationRows`). */
export const reservationViewById = requestLoader(
  async (ids: string[], ctx: BookingContext): Promise<(OwnedView | null)[]> => {
    const valid = ids.filter(isUuid);
    const rows = valid.length ? await reservationRows(ctx.prisma, { ids: valid }) : [];
    const views = new Map(rows.map((r) => [r.id, { view: toView(r), ownerId: r.userId }]));
    return ids.map((id) => views.get(id) ?? null);
  },
);

export type PageKey = UserPageKey;

export interface ReservationPage {
  nodes: ReservationView[];
  nextCursor: string | null;
}

export const encodeCursor = (createdAtMs: number, id: string) =>
  Buffer.from(`${createdAtMs}|${id}`).toString('base64url');

/**
 * A page of reservations, newest first, keyset-paged by (createdAt, id), for each key: one LATERAL
 * query on (user_id, created_at) finds every page's ids, the view loader reads them. Keys are
 * JSON `PageKey`s (DataLoader caches by key).
 */
export const reservationPageByKey = requestLoader(
  async (raw: string[], ctx: BookingContext): Promise<ReservationPage[]> => {
    const keys = raw.map((k) => JSON.parse(k) as PageKey);
    const valid = keys.map((k, i) => ({ ...k, i })).filter((k) => isUuid(k.userId));
    const picked = await pageIdsPerUser(ctx.prisma, 'booking.reservations', valid);
    const byOrd = new Map<number, { id: string; created_ms: bigint }[]>();
    for (const p of picked) byOrd.set(p.ord, [...(byOrd.get(p.ord) ?? []), p]);
    const pages: ReservationPage[] = keys.map(() => ({ nodes: [], nextCursor: null }));
    await Promise.all(
      valid.map(async (k, ord) => {
        const rows = byOrd.get(ord) ?? [];
        const page = rows.slice(0, k.take);
        const nodes = settled(await reservationViewById(ctx).loadMany(page.map((r) => r.id)));
        const last = page[page.length - 1];
        pages[k.i] = {
          // A reservation deleted between the two reads is left out rather than failing the page.
          nodes: nodes.filter((n): n is OwnedView => n !== null).map((n) => n.view),
          nextCursor: rows.length > k.take && last ? encodeCursor(Number(last.created_ms), last.id) : null,
        };
      }),
    );
    return pages;
  },
);
