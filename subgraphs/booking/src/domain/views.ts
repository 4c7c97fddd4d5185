// A reservation as the API shows it, built from its rows (queries) or from what the allocator
// wrote (mutations, replayed byte for byte).
import { pageIdsPerUser, type PrismaClient, type UserPageKey } from '@tatkal/db';
import { isUuid, requestLoader } from '@tatkal/common';
import type { BookingContext } from '../context.ts';
import type { FareBreakdown } from './fares/index.ts';
import { ON_RAC, PassengerStatus, ReservationStatus, SEATED } from './lifecycle/index.ts';
import { runById, stationByCode, stopsByTrainId } from './network.ts';
import type { Tx } from './inventory.ts';
import type { ReservationView } from './types.ts';

type ReservationRow = Awaited<ReturnType<PrismaClient['reservation']['findFirstOrThrow']>> & {
  passengers: Awaited<ReturnType<PrismaClient['passenger']['findFirstOrThrow']>>[];
};

// RAC passengers are shown the side lower berth they share.
const seated = (status: PassengerStatus) => SEATED.includes(status) || status === ON_RAC;
const inWaitingRoom = (opensAt: Date | null) => opensAt?.toISOString() ?? null;

export function toView(r: ReservationRow, fromCode: string, toCode: string): ReservationView {
  const active = r.passengers.filter((p) => p.status !== PassengerStatus.CANCELLED);
  return {
    id: r.id,
    pnr: r.pnr,
    status: r.status,
    runId: r.runId,
    fromCode,
    toCode,
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
  const r = await (db as Tx).reservation.findUnique({ where: where as { id: string }, include: { passengers: true } });
  if (!r) return null;
  const stops = await (db as Tx).trainStop.findMany({
    where: { train: { runs: { some: { id: r.runId } } }, seq: { in: [r.fromSeq, r.toSeq] } },
    include: { station: true },
  });
  const code = (seq: number) => stops.find((s) => s.seq === seq)!.station.code;
  return toView(r, code(r.fromSeq), code(r.toSeq));
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

/**
 * Views by reservation id: reservations and their passengers, then the runs and the trains' stops
 * through the request's network loaders (which the `run`, `from` and `to` fields reuse).
 */
export const reservationViewById = requestLoader(
  async (ids: string[], ctx: BookingContext): Promise<(OwnedView | null)[]> => {
    const valid = ids.filter(isUuid);
    const rows = valid.length
      ? await ctx.prisma.reservation.findMany({ where: { id: { in: valid } }, include: { passengers: true } })
      : [];
    const runIds = [...new Set(rows.map((r) => r.runId))];
    const runs = settled(await runById(ctx).loadMany(runIds));
    const trainOf = new Map(runIds.map((id, i) => [id, runs[i]?.trainId]));
    const trainIds = [...new Set([...trainOf.values()].filter((t): t is number => t !== undefined))];
    const stops = settled(await stopsByTrainId(ctx).loadMany(trainIds));
    const codeAt = new Map<string, string>();
    trainIds.forEach((trainId, i) => {
      for (const s of stops[i]!) {
        codeAt.set(`${trainId}|${s.seq}`, s.station.code);
        // `from` and `to` resolve stations by code: they are loaded already.
        stationByCode(ctx).prime(s.station.code, s.station);
      }
    });
    const views = new Map(
      rows.map((r) => {
        const code = (seq: number) => {
          const found = codeAt.get(`${trainOf.get(r.runId)}|${seq}`);
          if (!found) throw new Error(`Reservation ${r.id}: no stop ${seq} on its run's route`);
          return found;
        };
        return [r.id, { view: toView(r, code(r.fromSeq), code(r.toSeq)), ownerId: r.userId }];
      }),
    );
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
