// Read side of the rail network: stations, trains, stops, runs.
import type { Station, Train, TrainRun, TrainStop, TravelClass } from '@tatkal/db';
import { badInput, requestLoader } from '@tatkal/common';
import type { BookingContext } from '../context.ts';

export type StopWithStation = TrainStop & { station: Station };

const dateOf = (d: string) => new Date(`${d}T00:00:00Z`);
export const isoDate = (d: Date) => d.toISOString().slice(0, 10);

// Per-request loaders (`requestLoader`): one query per entity type however many references a plan
// sends. Each is called with the request's context: `stationByCode(ctx).load(code)`.

export const stationByCode = requestLoader(
  async (codes: string[], ctx: BookingContext): Promise<(Station | null)[]> => {
    const rows = await ctx.prisma.station.findMany({ where: { code: { in: codes } } });
    const byCode = new Map(rows.map((r) => [r.code, r]));
    return codes.map((c) => byCode.get(c) ?? null);
  },
);

export const stationById = requestLoader(async (ids: number[], ctx: BookingContext): Promise<(Station | null)[]> => {
  const rows = await ctx.prisma.station.findMany({ where: { id: { in: ids } } });
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => byId.get(id) ?? null);
});

export const trainByNumber = requestLoader(
  async (numbers: string[], ctx: BookingContext): Promise<(Train | null)[]> => {
    const rows = await ctx.prisma.train.findMany({ where: { number: { in: numbers } } });
    const byNumber = new Map(rows.map((r) => [r.number, r]));
    return numbers.map((n) => byNumber.get(n) ?? null);
  },
);

export const trainById = requestLoader(async (ids: number[], ctx: BookingContext): Promise<(Train | null)[]> => {
  const rows = await ctx.prisma.train.findMany({ where: { id: { in: ids } } });
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => byId.get(id) ?? null);
});

export const stopsByTrainId = requestLoader(
  async (ids: number[], ctx: BookingContext): Promise<StopWithStation[][]> => {
    const rows = await ctx.prisma.trainStop.findMany({
      where: { trainId: { in: ids } },
      include: { station: true },
      orderBy: { seq: 'asc' },
    });
    return ids.map((id) => rows.filter((r) => r.trainId === id));
  },
);

export const classesByTrainId = requestLoader(async (ids: number[], ctx: BookingContext): Promise<TravelClass[][]> => {
  const rows = await ctx.prisma.coach.findMany({
    where: { trainId: { in: ids } },
    select: { trainId: true, class: true, position: true },
    orderBy: { position: 'asc' },
  });
  return ids.map((id) => [...new Set(rows.filter((r) => r.trainId === id).map((r) => r.class))]);
});

export const runById = requestLoader(async (ids: string[], ctx: BookingContext): Promise<(TrainRun | null)[]> => {
  const valid = ids.filter((id) => /^[0-9a-f-]{36}$/i.test(id));
  const rows = valid.length ? await ctx.prisma.trainRun.findMany({ where: { id: { in: valid } } }) : [];
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => byId.get(id) ?? null);
});

/** Keys are `<train number>|<YYYY-MM-DD>`. */
export const runByTrainAndDate = requestLoader(
  async (keys: string[], ctx: BookingContext): Promise<(TrainRun | null)[]> => {
    const pairs = keys.map((k) => k.split('|') as [string, string]);
    const rows = await ctx.prisma.trainRun.findMany({
      where: { OR: pairs.map(([number, date]) => ({ train: { number }, date: dateOf(date) })) },
      include: { train: { select: { number: true } } },
    });
    const byKey = new Map(rows.map((r) => [`${r.train.number}|${isoDate(r.date)}`, r]));
    return keys.map((k) => byKey.get(k) ?? null);
  },
);

/** Finds `from` and `to` on a train's route; from must come before to. */
export function routeSegment(stops: StopWithStation[], from: string, to: string) {
  const fromCode = from.trim().toUpperCase();
  const toCode = to.trim().toUpperCase();
  const a = stops.find((s) => s.station.code === fromCode);
  const b = stops.find((s) => s.station.code === toCode);
  if (!a) throw badInput(`Station ${fromCode} is not a stop of this train`, 'from');
  if (!b) throw badInput(`Station ${toCode} is not a stop of this train`, 'to');
  if (a.seq >= b.seq) throw badInput(`${fromCode} must come before ${toCode} on this train's route`, 'to');
  return { from: a, to: b, distanceKm: b.distanceKm - a.distanceKm };
}

/** Bit mask of the segments from stop `fromSeq` to stop `toSeq` (segment i = stop i -> i+1). */
export function segmentMask(fromSeq: number, toSeq: number): bigint {
  let mask = 0n;
  for (let i = fromSeq; i < toSeq; i++) mask |= 1n << BigInt(i);
  return mask;
}
